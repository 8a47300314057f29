"""Training loops that resume exactly where a run stopped."""
import itertools
import logging
from typing import Iterator, List, Optional

from mmengine.dist import get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.utils.data import DataLoader, Sampler

from mmsquad.engine.hooks.random_state_hook import RANDOM_STATES_KEY
from mmsquad.registry import LOOPS
from mmsquad.utils.random_state import RandomState, set_random_state


#: Message-hub key of the current epoch's start: its index, the iteration
#: it started at and the samples an iteration took (checkpoints keep it).
EPOCH_START_KEY = 'epoch_start'


class SkipBatches(Sampler):
    """The batches of ``batch_sampler`` after the first ``skip``; indices
    only, nothing is loaded for the skipped ones."""

    def __init__(self, batch_sampler, skip: int) -> None:
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __iter__(self) -> Iterator[List[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.batch_sampler) - self.skip, 0)


def without_first_batches(loader: DataLoader, skip: int) -> DataLoader:
    """A loader like ``loader`` that starts after its first ``skip``
    batches of the current epoch."""
    workers = dict(prefetch_factor=loader.prefetch_factor) \
        if loader.num_workers > 0 else {}
    return DataLoader(
        loader.dataset, batch_sampler=SkipBatches(loader.batch_sampler, skip),
        num_workers=loader.num_workers, collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory, timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator, **workers)


@LOOPS.register_module()
class ExactResumeEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that continues a resumed run as if
    it had never stopped.

    mmengine replays a checkpoint's epoch from its first batch, and starts
    every generator afresh. This loop's :meth:`run_epoch` (mmengine's
    ``run`` calls it unchanged):

    * skips the batches of the epoch that the checkpoint already trained
      (by index: nothing is loaded for them), so an iteration checkpoint
      resumes at the next batch, and one saved at an epoch's last batch at
      the next epoch; counted in samples, so that a run resumed on another
      number of processes or at another batch size skips the same ones;
    * restores each rank's random generator states saved by
      :class:`~mmsquad.engine.hooks.RandomStateHook`, at the point where the
      saved run stood: before the epoch's data loader starts at an epoch
      boundary, after it started otherwise.

    ``RandomStateHook`` also validates without touching the generators, so
    that training draws the same numbers however often it validates. With
    ``num_workers=0`` (augmentations in the main process) a resumed run is
    bitwise equal to the uninterrupted one on CPU; with workers the same
    samples are seen in the same order, but the workers' generators start
    afresh.
    """

    def run_epoch(self) -> None:
        """Train the epoch's batches that are not yet trained."""
        state = None
        done = 0
        if not getattr(self, '_resume_checked', False):
            self._resume_checked = True
            state = saved_random_state(self.runner, self._iter)
            done = self._batches_trained()
        self.runner.message_hub.update_info(EPOCH_START_KEY, dict(
            epoch=self._epoch, iter=self._iter - done,
            samples_per_iter=self._samples_per_iter()))
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        if state is not None and done == 0:
            set_random_state(state)
        loader = self.dataloader if done == 0 else without_first_batches(
            self.dataloader, done)
        batches = iter(loader)
        if state is not None and done > 0:
            set_random_state(state)
        for idx, data_batch in enumerate(batches, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _samples_per_iter(self) -> int:
        """Samples one iteration trains, over all processes."""
        batch_size = getattr(self.dataloader.batch_sampler, 'batch_size',
                             None) or self.dataloader.batch_size or 1
        return batch_size * get_world_size()

    def _batches_trained(self) -> int:
        """Batches of the resumed epoch that the checkpoint already trained,
        in this run's batches.

        The checkpoint records where its epoch started and how many samples
        an iteration took (:data:`EPOCH_START_KEY`); the samplers give every
        epoch one order of samples whatever the number of processes (rank
        ``r`` of ``W`` takes every ``W``-th), so a run resumed with another
        number of processes or batch size skips the same samples. A
        checkpoint of an earlier mmsquad, without the record, is taken to
        have had this run's epoch length.
        """
        length = len(self.dataloader)
        start = self.runner.message_hub.get_info(EPOCH_START_KEY)
        if start is None:
            return min(max(self._iter - self._epoch * length, 0), length)
        if start['epoch'] != self._epoch:  # saved at the end of an epoch
            return 0
        samples = (self._iter - start['iter']) * start['samples_per_iter']
        per_iter = self._samples_per_iter()
        done, rest = divmod(samples, per_iter)
        if per_iter != start['samples_per_iter']:
            print_log(
                f'the checkpoint was saved {samples} samples into epoch '
                f'{self._epoch + 1} at {start["samples_per_iter"]} samples '
                f'an iteration; this run takes {per_iter} (batch size x '
                f'processes) and continues after sample {samples - rest}'
                + (f': the last {rest} are trained again' if rest else ''),
                logger='current', level=logging.WARNING)
        return min(done, length)


class _RestoringIterator:
    """The loop's data iterator that restores the saved random states
    right before the first batch a resumed run trains (after mmengine's
    loop has skipped the trained ones)."""

    def __init__(self, iterator, loop: IterBasedTrainLoop) -> None:
        self.iterator = iterator
        self.loop = loop
        self.calls = 0
        self.skip: Optional[int] = None
        self.state: Optional[RandomState] = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip is None:  # the first call: resumed at this iteration
            self.skip = self.loop.iter
            self.state = saved_random_state(self.loop.runner, self.skip)
        if self.calls == self.skip and self.state is not None:
            set_random_state(self.state)
        self.calls += 1
        return next(self.iterator)


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` whose resumed run draws the same
    random numbers as the run it continues.

    mmengine's ``run`` skips the trained batches by loading them again;
    its data iterator then restores each rank's generator states saved by
    :class:`~mmsquad.engine.hooks.RandomStateHook` before the first batch
    it trains (``RandomStateHook`` keeps validation from touching them).
    With ``num_workers=0`` a resumed run is bitwise equal to the
    uninterrupted one on CPU.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dataloader_iterator = _RestoringIterator(
            self.dataloader_iterator, self)


def saved_random_state(runner, trained_iters: int) -> Optional[RandomState]:
    """This rank's generator states saved in the message hub, when the run
    was resumed (``trained_iters > 0``) from a checkpoint that has them."""
    if trained_iters == 0:
        return None
    states = runner.message_hub.get_info(RANDOM_STATES_KEY)
    if states is None or len(states) != get_world_size():
        print_log(
            'the checkpoint has no random generator states for '
            f'{get_world_size()} processes: the resumed run draws other '
            'random numbers than the run it continues',
            logger='current', level=logging.WARNING)
        return None
    return states[get_rank()]
