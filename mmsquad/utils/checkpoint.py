"""Reading checkpoints without running their code, and checking that they
fit a model.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that refuses the checkpoints mmengine itself writes, and turning safety
off (``weights_only=False``) lets a crafted file run any code it likes.
:func:`load_from_local` loads with ``weights_only=True`` plus an allow-list
of exactly the types mmengine writes (numpy arrays and scalars in the
message hub, its ``HistoryBuffer``); a file that needs more is refused with
the names of the types it holds, unless the user has said it is trusted
(:func:`trust_checkpoint`, the tools' ``--trust-checkpoint``).
"""
import glob
import logging
import os.path as osp
import pickle
import re
import zipfile
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Set, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from torch import nn

_trusted_files: Set[str] = set()


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, unsafe, or made for
    another model."""


def trust_checkpoint(filename: str) -> None:
    """Allow :func:`load_from_local` to fully unpickle ``filename``.

    Only for files from a source you trust: unpickling runs code.
    """
    _trusted_files.add(osp.realpath(osp.expanduser(filename)))


def _history_buffer_statistic(owner: type, name: str):
    """``getattr`` as mmengine's pickled ``HistoryBuffer`` uses it (to name
    its statistics methods), and for nothing else."""
    if owner is HistoryBuffer and callable(
            getattr(HistoryBuffer, name, None)) and not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')


def _numpy_globals() -> list:
    multiarray = np._core.multiarray if hasattr(np, '_core') else \
        np.core.multiarray
    dtype_classes = {type(np.dtype(t)) for t in np.sctypeDict.values()}
    return [np.ndarray, np.dtype, multiarray.scalar, multiarray._reconstruct,
            *dtype_classes]


SAFE_GLOBALS = [
    *_numpy_globals(), HistoryBuffer,
    (_history_buffer_statistic, 'builtins.getattr'),
]


def load_from_local(filename: str,
                    map_location: Optional[Union[str, torch.device]] = None
                    ) -> dict:
    """Load a local checkpoint written by mmengine or torch, without running
    code from it.

    Args:
        filename: Path of the checkpoint.
        map_location: Same as :func:`torch.load`.

    Returns:
        The loaded checkpoint.

    Raises:
        FileNotFoundError: When ``filename`` is not a file.
        CheckpointError: When the file is empty, truncated or not a torch
            checkpoint, or holds objects outside the allow-list and is not
            trusted; the message names the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'checkpoint {filename} is empty (0 bytes); '
                              'it was probably cut off while being written')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as exc:
        if 'Weights only load failed' not in str(exc):
            raise _unreadable(filename, exc) from exc
        if osp.realpath(filename) in _trusted_files:
            return torch.load(filename, map_location=map_location,
                              weights_only=False)
        unsafe = _refused_globals(filename, exc)
        if not unsafe:
            raise _unreadable(filename, exc) from exc
        legacy = '' if zipfile.is_zipfile(filename) else \
            " in torch's legacy (non-zip) format"
        found = f'first found: {unsafe[0]}' if legacy else ', '.join(unsafe)
        raise CheckpointError(
            f'checkpoint {filename}{legacy} holds objects that loading would '
            f'have to run code for ({found}); refused. If you '
            'trust its source, load it with --trust-checkpoint (Python: '
            'mmsquad.utils.trust_checkpoint(path))') from exc
    except (RuntimeError, EOFError, KeyError, ValueError) as exc:
        raise _unreadable(filename, exc) from exc


def _refused_globals(filename: str, exc: Exception) -> List[str]:
    """The globals of ``filename`` that made the safe load fail: those of
    torch's scan outside what a safe load allows (torch's own list and
    :data:`SAFE_GLOBALS`); for a legacy-format file, which torch cannot
    scan, the one its error names."""
    if not zipfile.is_zipfile(filename):
        return re.findall(r'GLOBAL ([\w.]+)', str(exc))[:1]
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(
            filename)
    except (RuntimeError, ValueError):
        return []
    # torch lists its own allowed globals only through a private helper;
    # without it, every global the scan reports is shown.
    allowed_by_torch = getattr(torch._weights_only_unpickler,
                               '_get_allowed_globals', dict)()
    allowed = {*allowed_by_torch, *map(_global_name, SAFE_GLOBALS)}
    return sorted(name for name in found if name not in allowed)


def _global_name(entry) -> str:
    """The pickled name of an entry of :data:`SAFE_GLOBALS`."""
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def _unreadable(filename: str, exc: Exception) -> CheckpointError:
    first_line = (str(exc).splitlines() or [''])[0][:200]
    return CheckpointError(
        f'checkpoint {filename} cannot be read: it is truncated or not a '
        f'torch checkpoint ({type(exc).__name__}: {first_line})')


def _strip_prefix(state_dict: Dict[str, torch.Tensor]
                  ) -> Dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix a DDP-wrapped model's keys carry, as
    mmengine's runner does when it loads."""
    stripped = OrderedDict(
        (re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    # Keep the version metadata that BatchNorm's loading reads.
    stripped._metadata = getattr(state_dict, '_metadata', OrderedDict())
    return stripped


def state_dict_mismatch(model: nn.Module,
                        state_dict: Dict[str, torch.Tensor]
                        ) -> Dict[str, List[str]]:
    """Keys of ``state_dict`` that do not fit ``model``.

    Returns:
        ``missing`` (in the model, not the checkpoint), ``unexpected`` (the
        other way round) and ``shape`` (in both, of different shapes), each
        a sorted list of keys.
    """
    own = model.state_dict()
    given = _strip_prefix(state_dict)
    return dict(
        missing=sorted(set(own) - set(given)),
        unexpected=sorted(set(given) - set(own)),
        shape=sorted(k for k in set(own) & set(given)
                     if tuple(own[k].shape) != tuple(given[k].shape)))


def check_fits(model: nn.Module, state_dict: Dict[str, torch.Tensor],
               source: str, allow_partial: bool = False
               ) -> Dict[str, List[str]]:
    """Raise unless ``state_dict`` has exactly the model's keys and shapes.

    Args:
        model: The model the weights are for.
        state_dict: The checkpoint's weights.
        source: The checkpoint's name, for the message.
        allow_partial: Accept missing, unexpected and wrongly shaped keys as
            long as some of the backbone's weights fit (the model's, for a
            model without a ``backbone``): the loader then skips the rest,
            and a warning names what is not loaded. A checkpoint whose
            weights fit the heads alone is one of another architecture.

    Returns:
        The :func:`state_dict_mismatch` found (all empty for a full fit).

    Raises:
        CheckpointError: With the count of each kind of mismatch and the
            first keys of each.
    """
    mismatch = state_dict_mismatch(model, state_dict)
    if not any(mismatch.values()):
        return mismatch
    own = model.state_dict()
    unfit = set(mismatch['missing']) | set(mismatch['shape'])
    # Weights only: a BatchNorm's batch counter fits any other's.
    fitting = [k for k, v in own.items()
               if k not in unfit and v.is_floating_point()]
    core = ([k for k in fitting if k.startswith('backbone.')]
            if isinstance(getattr(model, 'backbone', None), nn.Module)
            else fitting)
    if allow_partial and core:
        print_log(f'checkpoint {source} loaded in part: '
                  f'{partial_load_summary(own, mismatch)}',
                  logger='current', level=logging.WARNING)
        return mismatch
    parts = [f'{len(keys)} {kind} (first: {", ".join(keys[:3])})'
             for kind, keys in (('missing', mismatch['missing']),
                                ('unexpected', mismatch['unexpected']),
                                ('of the wrong shape', mismatch['shape']))
             if keys]
    if not fitting:
        advice = 'no key fits: it is not a checkpoint of this model'
    elif not core:
        advice = ("none of the backbone's weights fits: it is a checkpoint "
                  "of another architecture (a backbone's own pretrained "
                  "weights load through its init_cfg=dict(type='Pretrained',"
                  " checkpoint=...))")
    else:
        advice = ('pass --partial (Python: allow_partial=True) to load only '
                  'the keys that fit')
    raise CheckpointError(
        f'checkpoint {source} does not fit the model '
        f'{type(model).__name__}: keys {"; ".join(parts)}; {advice}')


def partial_load_summary(own: Dict[str, torch.Tensor],
                         mismatch: Dict[str, List[str]]) -> str:
    """What a partial load leaves out: the model's weights not loaded
    (missing or of another shape), counted by part (the first two name
    components), and the checkpoint's keys the model has no use for."""
    unfit = [k for k in (*mismatch['missing'], *mismatch['shape'])
             if own[k].is_floating_point()]
    weights = sum(v.is_floating_point() for v in own.values())
    parts = Counter('.'.join(k.split('.')[:2]) for k in unfit)
    listed = ', '.join(f'{part} {count}'
                       for part, count in sorted(parts.items()))
    return (f'{len(unfit)} of the model\'s {weights} weight tensors not '
            f'loaded ({listed or "none"}), they keep their initialisation; '
            f'{len(mismatch["unexpected"])} checkpoint keys the model does '
            'not have')


def load_weights(model: nn.Module, checkpoint: dict, source: str,
                 allow_partial: bool = False) -> None:
    """Load a checkpoint's weights into ``model`` after :func:`check_fits`.

    Args:
        model: The model to load into.
        checkpoint: A loaded checkpoint (with ``state_dict``) or a bare
            state dict.
        source: The checkpoint's name, for messages.
        allow_partial: See :func:`check_fits`.
    """
    state_dict = _strip_prefix(checkpoint.get('state_dict', checkpoint))
    mismatch = check_fits(model, state_dict, source, allow_partial)
    for key in mismatch['shape']:
        state_dict.pop(key)
    model.load_state_dict(state_dict, strict=not allow_partial)


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a run in ``work_dir`` resumes from: the one
    ``last_checkpoint`` names, or, when that file is missing, empty or
    names no file (a kill while mmengine rewrote it), the newest
    ``epoch_<n>.pth`` / ``iter_<n>.pth`` there; None when there is none."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    numbered = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match:
            numbered.append((int(match[2]), osp.getmtime(path), path))
    return max(numbered)[2] if numbered else None
