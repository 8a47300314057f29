"""How a model fills in what it knows of its parts' arguments."""
import inspect
import traceback
from typing import Any, Dict

from mmsquad.registry import MODELS


def fill_arguments(cfg: dict, values: Dict[str, Any]) -> dict:
    """``cfg`` with each of ``values`` (None: skip) filled in where its
    class takes that argument and the config does not give it.

    Raises:
        ValueError: When the config gives a value that contradicts it.
    """
    cls = cfg['type']
    if isinstance(cls, str):
        cls = None if '_scope_' in cfg else MODELS.get(cls)
    if cls is None:
        return cfg
    accepted = inspect.signature(cls.__init__).parameters
    filled = dict(cfg)
    for key, value in values.items():
        if value is None or key not in accepted:
            continue
        given = filled.get(key)
        if given is None:
            filled[key] = value
        elif normal_form(given) != normal_form(value):
            raise ValueError(f'{cls.__name__} {key}={given} contradicts the '
                             f'model\'s {value}')
    return filled


def normal_form(value: Any) -> Any:
    """``value`` with its sequences as tuples and mappings as dicts."""
    if isinstance(value, dict):
        return {k: normal_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(normal_form(v) for v in value)
    return value


def error_text(error: BaseException) -> str:
    """``Type: message`` of an exception, for a refusal that names its
    cause; for a bare assertion, the source line that failed."""
    text = str(error)
    if not text:
        frames = traceback.extract_tb(error.__traceback__)
        text = frames[-1].line if frames else ''
    return f'{type(error).__name__}: {text}'
