"""torchjd's aggregators (UPGrad, MGDA, AlignedMTL, DualProj, IMTL-G, ...),
registered under the ``torchjd`` scope: ``dict(type='torchjd.UPGrad')``."""
import contextlib
import inspect
from typing import Callable, Dict, List

import torch
import torchjd.aggregation as aggregation
from torch import Tensor

from mmsquad.registry import TORCHJD_AGGREGATORS
from ..task_gradients import gram_matrix
from .base import BaseAggregator


def torchjd_aggregator_names() -> List[str]:
    """The aggregators of ``torchjd.aggregation``."""
    return sorted(
        name for name, cls in vars(aggregation).items()
        if inspect.isclass(cls) and issubclass(cls, aggregation.Aggregator)
        and not inspect.isabstract(cls) and cls not in (
            aggregation.Aggregator, aggregation.WeightedAggregator,
            aggregation.GramianWeightedAggregator))


class TorchJDAggregator(BaseAggregator):
    """A torchjd aggregator as an mmsquad one. Those that weight the
    gradients by their Gramian (UPGrad, MGDA, DualProj, ...) get it in
    float64 (:func:`~mmsquad.engine.task_gradients.gram_matrix`).

    Aggregators that draw random numbers (Random, GradDrop, PCGrad,
    GradVac, ...) draw them from torch's global generator; every update
    runs the aggregator with that generator seeded by ``seed`` and the
    update count (restored afterwards), so every process draws the same
    numbers whatever else it drew, and a resumed run the ones it would
    have. The update count and the aggregator's state (torchjd's buffers:
    GradVac's targets, PCD's moving averages, ...) are part of the
    ``state_dict``.

    Args:
        aggregator: The torchjd aggregator.
        seed: Seed of its random draws.
    """

    def __init__(self, aggregator: aggregation.Aggregator,
                 seed: int = 0) -> None:
        self.aggregator = aggregator
        self.seed = seed
        self.updates = 0

    @property
    def weights_by_gramian(self) -> bool:
        """Whether the aggregator's weights depend on the gradients'
        Gramian alone (torchjd's ``GramianWeightedAggregator``)."""
        return isinstance(self.aggregator,
                          aggregation.GramianWeightedAggregator)

    def gramian_weights(self, gram: Tensor) -> Tensor:
        """The weights of the task gradients whose Gramian is ``gram``
        (for an aggregator that :attr:`weights_by_gramian`); one update."""
        with self._seeded(gram.device):
            return self.aggregator.gramian_weighting(gram)

    def __call__(self, grads: Tensor) -> Tensor:
        if self.weights_by_gramian:
            # The Gramian in float64: float32 dot products over millions
            # of parameters drift, and the weightings' quadratic programs
            # carry the drift into the update.
            weights = self.gramian_weights(gram_matrix(grads))
            return weights.to(grads.dtype) @ grads
        with self._seeded(grads.device):
            return self.aggregator(grads)

    @contextlib.contextmanager
    def _seeded(self, device: torch.device):
        """Torch's generator seeded by the seed and the update count
        (restored afterwards); counts an update."""
        devices = [device] if device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed + self.updates)
            yield
        self.updates += 1

    def state_dict(self) -> dict:
        # torchjd registers its state as buffers that are None until the
        # first update, which nn.Module.load_state_dict skips: they are
        # kept and set directly, with the key torchjd checks them against.
        return dict(aggregator_updates=self.updates, aggregator_state={
            path: dict(buffers=dict(module._buffers),
                       state_key=getattr(module, '_state_key', None))
            for path, module in self.aggregator.named_modules()
            if module._buffers})

    def load_state_dict(self, state: dict) -> None:
        self.updates = state.get('aggregator_updates', 0)
        for path, saved in state.get('aggregator_state', {}).items():
            module = self.aggregator.get_submodule(path)
            for name, value in saved['buffers'].items():
                setattr(module, name, value)
            if hasattr(module, '_state_key'):
                module._state_key = saved['state_key']


def _builder(name: str) -> Callable[..., TorchJDAggregator]:
    """A function building torchjd's aggregator ``name`` from config
    arguments (lists become tensors: ``weights``, ``pref_vector``)."""
    cls = getattr(aggregation, name)

    def build(seed: int = 0, **kwargs) -> TorchJDAggregator:
        args = {key: torch.tensor(value, dtype=torch.float32)
                if isinstance(value, (list, tuple)) else value
                for key, value in kwargs.items()}
        return TorchJDAggregator(cls(**args), seed)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"torchjd's ``{name}`` as an mmsquad aggregator "
                     f'(:class:`TorchJDAggregator`).')
    return build


#: Arguments torchjd's aggregators require, for ``num_tasks`` tasks (the
#: papers' defaults); see :func:`torchjd_aggregator_config`.
REQUIRED_ARGUMENTS: Dict[str, Callable[[int], dict]] = dict(
    CAGrad=lambda n: dict(c=0.4),
    Constant=lambda n: dict(weights=[1.0 / n] * n),
    FairGrad=lambda n: dict(alpha=1.0),
    Krum=lambda n: dict(n_byzantine=0),
    NashMTL=lambda n: dict(n_tasks=n),
    TrimmedMean=lambda n: dict(trim_number=1))


def torchjd_aggregator_config(name: str, num_tasks: int) -> dict:
    """``dict(type='torchjd.<name>', ...)`` with the arguments the
    aggregator requires for ``num_tasks`` tasks (CAGrad's paper radius,
    uniform Constant weights, ...)."""
    required = REQUIRED_ARGUMENTS.get(name, lambda n: {})(num_tasks)
    return dict(type=f'torchjd.{name}', **required)


for _name in torchjd_aggregator_names():
    TORCHJD_AGGREGATORS.register_module(name=_name, module=_builder(_name))
