"""mmsquad's version, and the mmengine versions it works with."""
__version__ = '0.1.0'

#: The mmengine versions mmsquad is written and tested for, ``[min, max)``:
#: beside mmengine's public API it relies on a few of its internals (the
#: training loops' counters and data iterator, ``CheckpointHook``'s
#: attributes, ``BaseModel._run_forward``, the checkpoint loader's scheme
#: registry), which another version may change without notice.
MMENGINE_VERSIONS = ('0.10.0', '0.11.0')


def check_mmengine_version(version: str) -> None:
    """Refuse an mmengine ``version`` outside :data:`MMENGINE_VERSIONS`.

    Raises:
        ImportError: Naming the version and the supported range.
    """
    from mmengine.utils import digit_version
    low, high = MMENGINE_VERSIONS
    if not digit_version(low) <= digit_version(version) < digit_version(
            high):
        raise ImportError(
            f'mmsquad needs mmengine>={low},<{high} (it relies on internals '
            f'of those versions); mmengine {version} is installed')
