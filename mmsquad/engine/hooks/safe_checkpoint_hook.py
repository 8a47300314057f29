"""mmengine's CheckpointHook, made crash-safe."""
import glob
import inspect
import math
import os
import os.path as osp
from collections import deque

import numpy as np
import torch
from mmengine.dist import all_reduce_params, is_distributed, is_main_process
from mmengine.hooks import CheckpointHook

from mmsquad.registry import HOOKS
from mmsquad.utils.compat import TEMP_SUFFIX

#: The message-hub key of the checkpoints kept so far (their paths).
KEEP_KEY = 'kept_checkpoints'
#: The message-hub key of every save of the run: ``dict(path, loss,
#: median_loss)``, the training loss logged at the save and the median of
#: the finite losses logged up to it.
SAVES_KEY = 'saved_checkpoints'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` that never leaves a run
    without a loadable checkpoint.

    Differences from mmengine's hook, each a fix of a way it loses work,
    made through the hook's public methods (mmengine's own saving is
    called unchanged):

    * old checkpoints (beyond ``max_keep_ckpts``) are deleted only after
      the new one is written (atomically, see
      :mod:`mmsquad.utils.compat`) and ``last_checkpoint`` points at it;
      mmengine deletes first, so a crash during the save can leave nothing
      to resume from;
    * a checkpoint whose weights are not finite is refused with an error;
    * in distributed training the model buffers (BatchNorm statistics) are
      averaged over the ranks before every save, so the saved statistics
      come from all of the data, not rank 0's share;
    * temporary files of saves killed in an earlier run are removed;
    * every save is recorded with the loss logged then (message-hub info
      ``saved_checkpoints``), so that a diverged run can name the last
      checkpoint saved before its loss grew (see
      :class:`~mmsquad.engine.hooks.NonFiniteLossHook`);
    * unknown settings are an error when the hook is built; mmengine passes
      them on to the save, so a typo fails only at the first save;
    * ``save_best='auto'`` (the first metric key) takes the comparison rule
      from the metric where it declares one (``key_rules``, as
      :class:`~mmsquad.evaluation.MultiTaskMetric` does: ``normals/mean``
      lower, ``multitask/delta_m`` higher is better); mmengine guesses it
      from fragments of the key's name and fails on keys it does not know.

    mmengine writes ``last_checkpoint`` with a plain ``open``; a kill in
    that instant leaves it empty, and ``tools/train.py --resume`` then
    takes the newest checkpoint of the work directory
    (:func:`~mmsquad.utils.checkpoint.latest_checkpoint`). It takes the same
    arguments as mmengine's hook. The replacement of the best checkpoint
    (``save_best``) is mmengine's: the previous best is deleted before the
    new one is written.
    """

    def __init__(self, *args, max_keep_ckpts: int = -1, **kwargs) -> None:
        # mmengine's own pruning deletes before saving: it is turned off,
        # and after_train_epoch / after_train_iter prune after the save.
        super().__init__(*args, max_keep_ckpts=-1, **kwargs)
        if self.args:
            settings = [p for p in inspect.signature(
                CheckpointHook.__init__).parameters if p not in (
                    'self', 'kwargs')]
            raise TypeError(
                f'{type(self).__name__} (default_hooks.checkpoint) got '
                f'unknown settings {sorted(self.args)}; it takes '
                f'{", ".join(settings)}')
        self.keep = max_keep_ckpts
        self.kept: deque = deque()

    def before_train(self, runner) -> None:
        """Set up as mmengine does, then remove killed saves' leftovers and
        recall the checkpoints a resumed run kept."""
        super().before_train(runner)
        self._learn_metric_rules(runner)
        self.kept = deque(runner.message_hub.get_info(KEEP_KEY, []))
        if not is_main_process():
            return
        for folder in {self.out_dir, runner.work_dir}:
            for leftover in glob.glob(osp.join(folder, f'.*{TEMP_SUFFIX}')):
                os.remove(leftover)
        self._prune(runner)

    def after_train_epoch(self, runner) -> None:
        """Save as mmengine does, then delete the outdated checkpoints."""
        if self.by_epoch and (self.every_n_epochs(
                runner, self.interval, self.save_begin) or (
                    self.save_last and self.is_last_train_epoch(runner))):
            self._average_buffers(runner)
        saved = self.last_ckpt
        super().after_train_epoch(runner)
        self._record(runner, saved)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Save as mmengine does, then delete the outdated checkpoints."""
        if not self.by_epoch and (self.every_n_train_iters(
                runner, self.interval, self.save_begin) or (
                    self.save_last and self.is_last_train_iter(runner))):
            self._average_buffers(runner)
        saved = self.last_ckpt
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._record(runner, saved)

    @staticmethod
    def _average_buffers(runner) -> None:
        """In distributed training, average the model buffers (BatchNorm
        statistics) over the ranks, on every rank, before a save (which
        only the main process makes)."""
        if is_distributed():
            all_reduce_params(runner.model.buffers(), op='mean')

    def _record(self, runner, previous) -> None:
        """After a save (``last_ckpt`` changed from ``previous``): keep its
        path and prune."""
        if self.last_ckpt is None or self.last_ckpt == previous:
            return
        if not self.kept or self.kept[-1] != self.last_ckpt:
            self.kept.append(self.last_ckpt)
        self._prune(runner)
        runner.message_hub.update_info(KEEP_KEY, list(self.kept))
        hub = runner.message_hub
        losses = hub.log_scalars.get('train/loss')
        history = [] if losses is None else [
            float(v) for v in losses.data[0] if math.isfinite(float(v))]
        hub.update_info(SAVES_KEY, [*hub.get_info(SAVES_KEY, []), dict(
            path=self.last_ckpt,
            loss=float(losses.current()) if losses is not None else None,
            median_loss=float(np.median(history)) if history else None)])

    def _prune(self, runner) -> None:
        """Delete the kept checkpoints beyond the newest ``max_keep_ckpts``
        (on the main process)."""
        if self.keep <= 0:
            return
        while len(self.kept) > self.keep:
            path = self.kept.popleft()
            if not is_main_process():
                continue
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)

    def _learn_metric_rules(self, runner) -> None:
        """Add the keys whose rule the validation metrics declare to the
        exact-match keys that mmengine's rule inference checks first."""
        evaluator = getattr(runner.val_loop, 'evaluator', None)
        rules: dict = {}
        for metric in getattr(evaluator, 'metrics', []):
            rules.update(getattr(metric, 'key_rules', {}))
        self.greater_keys = [*self.greater_keys, *(
            key for key, rule in rules.items() if rule == 'greater')]
        self.less_keys = [*self.less_keys, *(
            key for key, rule in rules.items() if rule == 'less')]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save non-finite weights; record the kept checkpoints
        (this one included) in it.

        Raises:
            FloatingPointError: Naming the first non-finite tensors.
        """
        bad = [name for name, value in checkpoint['state_dict'].items()
               if value.is_floating_point() and not torch.isfinite(
                   value).all()]
        if bad:
            raise FloatingPointError(
                f'refusing to save a checkpoint at iteration {runner.iter}: '
                f'{len(bad)} weight tensors are not finite (first: '
                f'{", ".join(bad[:3])}); the training has diverged')
        if 'message_hub' in checkpoint:
            saving = [self.last_ckpt] if self.last_ckpt and (
                not self.kept or self.kept[-1] != self.last_ckpt) else []
            checkpoint['message_hub']['runtime_info'][KEEP_KEY] = [
                *self.kept, *saving]
