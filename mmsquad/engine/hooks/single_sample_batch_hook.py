"""Stop at the first iteration a run that would fail at the end of its
first epoch on a batch of one sample."""
from functools import partial
from typing import List, Optional, Tuple

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsquad.registry import HOOKS


def single_sample_last_batch(runner) -> Optional[Tuple[int, int]]:
    """``(samples per process, batch size)`` when every epoch of the
    runner's training ends in a batch of one sample; ``None`` otherwise
    (iteration-based loops, ``drop_last``, samplers without a length)."""
    if not isinstance(runner.train_loop, EpochBasedTrainLoop):
        return None
    loader = runner.train_dataloader
    if loader.drop_last or not loader.batch_size or loader.batch_size == 1:
        return None
    try:
        samples = len(loader.sampler)
    except TypeError:
        return None
    return (samples, loader.batch_size) \
        if samples % loader.batch_size == 1 else None


@HOOKS.register_module()
class SingleSampleBatchHook(Hook):
    """Stop a run at its first iteration when every epoch would end in
    a batch of one sample that one of its BatchNorm layers cannot train
    on (before torch fails, when that first batch is the one sample).

    A BatchNorm that sees one value per channel in a sample (after a
    global pooling, as in the ASPP image pool of mmsquad's and mmseg's
    heads) has a single value to normalise in a batch of one, and torch
    raises: without this hook the run fails at the end of its first epoch.
    The first iteration watches every BatchNorm in training mode (the
    only cost) and names those that see one value per channel; a
    BatchNorm that normalises whole feature maps trains on one sample, so
    models without such layers are left alone. ``tools/train.py`` adds
    it; the fix it names is ``drop_last=True``, as the published
    multi-task code and mmsquad's dataset configs do.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._probes: list = []
        self._pooled: List[str] = []
        self._last_batch: Optional[Tuple[int, int]] = None

    def before_train(self, runner) -> None:
        """Watch the BatchNorm layers when the last batch holds one
        sample."""
        self._last_batch = single_sample_last_batch(runner)
        if self._last_batch is None:
            return
        # SyncBatchNorm normalises over every process's batch.
        synced = nn.SyncBatchNorm if get_world_size() > 1 else ()
        self._probes = [
            module.register_forward_pre_hook(partial(self._watch, name))
            for name, module in runner.model.named_modules()
            if isinstance(module, _BatchNorm)
            and not isinstance(module, synced)]

    def _watch(self, name: str, module: nn.Module, args: tuple) -> None:
        """Note a training BatchNorm that sees one value per channel;
        raise before torch does when this batch is the one sample."""
        x: Tensor = args[0]
        if module.training and x.numel() == x.shape[0] * x.shape[1]:
            self._pooled.append(name)
            if x.shape[0] == 1:
                raise self._error()

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        """After the first iteration: stop watching, and raise when a
        watched layer saw one value per channel.

        Raises:
            ValueError: Naming the samples per process, the batch size,
                the layers and the fixes.
        """
        for probe in self._probes:
            probe.remove()
        self._probes = []
        if self._pooled:
            raise self._error()

    def _error(self) -> ValueError:
        """What to do about the watched layers that saw one value per
        channel: naming the samples per process, the batch size, the
        layers and the fixes."""
        samples, batch_size = self._last_batch
        return ValueError(
            f'train_dataloader: with {samples} sample{"s" * (samples > 1)} '
            f'per process in batches of {batch_size}, every epoch ends with '
            'a batch of 1, which BatchNorm layers that see one value per '
            'channel cannot train on '
            f'({", ".join(sorted(set(self._pooled)))}): set '
            'train_dataloader.drop_last=True (as the published code does) '
            'or another batch_size')
