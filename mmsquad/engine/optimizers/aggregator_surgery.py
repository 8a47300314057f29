"""Any gradient aggregator of torchjd as the surgery of the shared
parameters' gradient."""
import inspect
from typing import List

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

    Args:
        aggregator: ``dict(type='UPGrad')``: a class name of
            ``torchjd.aggregation`` (UPGrad, MGDA, AlignedMTL, ConFIG,
            DualProj, IMTLG, PCGrad, GradVac, ...) and its arguments.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, aggregator: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.aggregator = build_aggregator(aggregator)

    def combine(self, grads: Tensor) -> Tensor:
        return self.aggregator(grads)
