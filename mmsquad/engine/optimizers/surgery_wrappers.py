"""The gradient-surgery optim wrappers, one per surgery and base wrapper.

Each is a surgery of :mod:`.grad_surgery` on top of a plain or a
mixed-precision optim wrapper; ``tools/train.py --amp`` swaps a config's
``<Name>OptimWrapper`` for its ``Amp`` (CUDA) or ``CPUAmp`` (CPU) variant.
"""
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmsquad.registry import OPTIM_WRAPPERS
from .cpu_amp_optimizer_wrapper import CPUAmpOptimWrapper
from .aggregator_surgery import AggregatorSurgery
from .grad_surgery import CAGrad, ConFIG, DBMTL, GradVac, NashMTL, PCGrad


@OPTIM_WRAPPERS.register_module()
class PCGradOptimWrapper(PCGrad, OptimWrapper):
    """PCGrad surgery (:class:`~.grad_surgery.PCGrad`) on
    mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpPCGradOptimWrapper(PCGrad, AmpOptimWrapper):
    """PCGrad surgery (:class:`~.grad_surgery.PCGrad`) on
    mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpPCGradOptimWrapper(PCGrad, CPUAmpOptimWrapper):
    """PCGrad surgery (:class:`~.grad_surgery.PCGrad`) on
    mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class GradVacOptimWrapper(GradVac, OptimWrapper):
    """Gradient Vaccine surgery (:class:`~.grad_surgery.GradVac`) on
    mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpGradVacOptimWrapper(GradVac, AmpOptimWrapper):
    """Gradient Vaccine surgery (:class:`~.grad_surgery.GradVac`) on
    mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpGradVacOptimWrapper(GradVac, CPUAmpOptimWrapper):
    """Gradient Vaccine surgery (:class:`~.grad_surgery.GradVac`) on
    mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class CAGradOptimWrapper(CAGrad, OptimWrapper):
    """CAGrad surgery (:class:`~.grad_surgery.CAGrad`) on
    mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpCAGradOptimWrapper(CAGrad, AmpOptimWrapper):
    """CAGrad surgery (:class:`~.grad_surgery.CAGrad`) on
    mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpCAGradOptimWrapper(CAGrad, CPUAmpOptimWrapper):
    """CAGrad surgery (:class:`~.grad_surgery.CAGrad`) on
    mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class NashMTLOptimWrapper(NashMTL, OptimWrapper):
    """Nash-MTL surgery (:class:`~.grad_surgery.NashMTL`) on
    mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpNashMTLOptimWrapper(NashMTL, AmpOptimWrapper):
    """Nash-MTL surgery (:class:`~.grad_surgery.NashMTL`) on
    mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpNashMTLOptimWrapper(NashMTL, CPUAmpOptimWrapper):
    """Nash-MTL surgery (:class:`~.grad_surgery.NashMTL`) on
    mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class ConFIGOptimWrapper(ConFIG, OptimWrapper):
    """ConFIG surgery (:class:`~.grad_surgery.ConFIG`) on
    mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpConFIGOptimWrapper(ConFIG, AmpOptimWrapper):
    """ConFIG surgery (:class:`~.grad_surgery.ConFIG`) on
    mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpConFIGOptimWrapper(ConFIG, CPUAmpOptimWrapper):
    """ConFIG surgery (:class:`~.grad_surgery.ConFIG`) on
    mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class DBMTLOptimWrapper(DBMTL, OptimWrapper):
    """DB-MTL (:class:`~.grad_surgery.DBMTL`) on mmengine's
    ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpDBMTLOptimWrapper(DBMTL, AmpOptimWrapper):
    """DB-MTL (:class:`~.grad_surgery.DBMTL`) on mmengine's
    ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpDBMTLOptimWrapper(DBMTL, CPUAmpOptimWrapper):
    """DB-MTL (:class:`~.grad_surgery.DBMTL`) on mmsquad's
    ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""


@OPTIM_WRAPPERS.register_module()
class AggregatorOptimWrapper(AggregatorSurgery, OptimWrapper):
    """A torchjd aggregator (:class:`~.aggregator_surgery.AggregatorSurgery`)
    on mmengine's ``OptimWrapper`` (float32)."""


@OPTIM_WRAPPERS.register_module()
class AmpAggregatorOptimWrapper(AggregatorSurgery, AmpOptimWrapper):
    """A torchjd aggregator (:class:`~.aggregator_surgery.AggregatorSurgery`)
    on mmengine's ``AmpOptimWrapper`` (CUDA mixed precision)."""


@OPTIM_WRAPPERS.register_module()
class CPUAmpAggregatorOptimWrapper(AggregatorSurgery, CPUAmpOptimWrapper):
    """A torchjd aggregator (:class:`~.aggregator_surgery.AggregatorSurgery`)
    on mmsquad's ``CPUAmpOptimWrapper`` (CPU bfloat16 autocast)."""
