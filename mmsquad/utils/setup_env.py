"""Registration of mmsquad's modules and its default scope."""
import datetime
import warnings

from mmengine import DefaultScope

from .compat import install_compat


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmsquad module that registers components, and install
    the checkpoint compatibility fixes of :mod:`mmsquad.utils.compat`.

    The inferencer (:mod:`mmsquad.apis`) is not imported: its registry
    imports it when a config names it.

    Args:
        init_default_scope: Whether to make ``mmsquad`` the default scope, so
            that ``type='SquadNet'`` resolves in mmsquad's registries first.
    """
    import mmsquad.datasets  # noqa: F401
    import mmsquad.engine  # noqa: F401
    import mmsquad.evaluation  # noqa: F401
    import mmsquad.models  # noqa: F401
    import mmsquad.tasks  # noqa: F401
    import mmsquad.visualization  # noqa: F401

    install_compat()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmsquad'):
        DefaultScope.get_instance('mmsquad', scope_name='mmsquad')
        return
    if current.scope_name != 'mmsquad':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmsquad"; register_all_modules makes a new '
                      'default scope named "mmsquad-<timestamp>".')
        DefaultScope.get_instance(
            f'mmsquad-{datetime.datetime.now()}', scope_name='mmsquad')
