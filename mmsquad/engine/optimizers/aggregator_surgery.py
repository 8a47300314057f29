"""Any gradient aggregator of torchjd as the surgery of the shared
parameters' gradient."""
import inspect
from typing import Dict, List

import torch
import torchjd.aggregation as aggregation
from torch import Tensor

from .grad_surgery import GradSurgeryMixin


def aggregator_names() -> List[str]:
    """The aggregators of ``torchjd.aggregation`` a config can name."""
    return sorted(
        name for name, cls in vars(aggregation).items()
        if inspect.isclass(cls) and issubclass(cls, aggregation.Aggregator)
        and not inspect.isabstract(cls) and cls not in (
            aggregation.Aggregator, aggregation.WeightedAggregator,
            aggregation.GramianWeightedAggregator))


def build_aggregator(cfg: dict) -> aggregation.Aggregator:
    """A torchjd aggregator from ``dict(type=<class name>, **arguments)``;
    list arguments (``pref_vector``, ``weights``) become tensors.

    Raises:
        KeyError: For a name that is not a torchjd aggregator, listing them.
        ImportError: When the aggregator needs packages that are not
            installed (torchjd names them).
    """
    cfg = dict(cfg)
    name = cfg.pop('type')
    if name not in aggregator_names():
        raise KeyError(f'{name!r} is not a torchjd aggregator; available: '
                       f'{aggregator_names()}')
    args = {key: torch.tensor(value, dtype=torch.float32)
            if isinstance(value, (list, tuple)) else value
            for key, value in cfg.items()}
    return getattr(aggregation, name)(**args)


class AggregatorSurgery(GradSurgeryMixin):
    """The shared parameters' gradient is a torchjd aggregator applied to
    the (num_tasks, num_params) matrix of per-task gradients (averaged
    over processes first, so every process applies the same update).

    Aggregators that draw random numbers (Random, GradDrop, PCGrad,
    GradVac, ...) draw them from torch's global generator; every update
    runs the aggregator with that generator seeded by ``seed`` and the
    update count (restored afterwards), so every process draws the same
    numbers whatever else it drew, and a resumed run the ones it would
    have. The update count and the aggregator's state (torchjd's buffers:
    GradVac's targets, PCD's moving averages, ...) are part of the optim
    wrapper's ``state_dict``, so they are checkpointed.

    Args:
        aggregator: ``dict(type='UPGrad')``: a class name of
            ``torchjd.aggregation`` (UPGrad, MGDA, AlignedMTL, ConFIG,
            DualProj, IMTLG, PCGrad, GradVac, ...) and its arguments.
        seed: Seed of the aggregator's random draws.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, aggregator: dict, seed: int = 0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.aggregator = build_aggregator(aggregator)
        self.seed = seed
        self.updates = 0

    def combine(self, grads: Tensor) -> Tensor:
        devices = [grads.device] if grads.device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed + self.updates)
            combined = self.aggregator(grads)
        self.updates += 1
        return combined

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['aggregator_updates'] = self.updates
        state['aggregator_state'] = aggregator_state(self.aggregator)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self.updates = state_dict.pop('aggregator_updates', 0)
        load_aggregator_state(self.aggregator,
                              state_dict.pop('aggregator_state', {}))
        super().load_state_dict(state_dict)


def aggregator_state(aggregator: aggregation.Aggregator) -> Dict[str, dict]:
    """``{module path: {'buffers': {...}, 'state_key': ...}}``: the buffers
    of the aggregator and its sub-modules, set or not, and the key torchjd
    checks them against (the number of tasks and dtype); what
    :func:`load_aggregator_state` restores."""
    return {path: dict(buffers=dict(module._buffers),
                       state_key=getattr(module, '_state_key', None))
            for path, module in aggregator.named_modules()
            if module._buffers}


def load_aggregator_state(aggregator: aggregation.Aggregator,
                          state: Dict[str, dict]) -> None:
    """Restore what :func:`aggregator_state` saved. torchjd registers its
    state as buffers that are None until the first update, which
    ``load_state_dict`` skips, so they are set directly."""
    for path, saved in state.items():
        module = aggregator.get_submodule(path)
        for name, value in saved['buffers'].items():
            setattr(module, name, value)
        if hasattr(module, '_state_key'):
            module._state_key = saved['state_key']
