"""mmengine's CheckpointHook, made crash-safe."""
import glob
import inspect
import os
import os.path as osp

import torch
from mmengine.dist import all_reduce_params, is_distributed, is_main_process
from mmengine.hooks import CheckpointHook

from mmsquad.registry import HOOKS
from mmsquad.utils.compat import TEMP_SUFFIX, atomic_write


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` that never leaves a run
    without a loadable checkpoint.

    Differences from mmengine's hook, each a fix of a way it loses work:

    * the new checkpoint is written (atomically) and ``last_checkpoint``
      pointed at it (atomically) *before* the oldest one is deleted;
      mmengine deletes first, so a crash during the save can leave nothing
      to resume from;
    * a checkpoint whose weights are not finite is refused with an error;
    * in distributed training the model buffers (BatchNorm statistics) are
      averaged over the ranks before every save, so the saved statistics
      come from all of the data, not rank 0's share;
    * temporary files of saves killed in an earlier run are removed;
    * unknown settings are an error when the hook is built; mmengine passes
      them on to the save, so a typo fails only at the first save;
    * ``save_best='auto'`` (the first metric key) takes the comparison rule
      from the metric where it declares one (``key_rules``, as
      :class:`~mmsquad.evaluation.MultiTaskMetric` does: ``normals/mean``
      lower, ``multitask/delta_m`` higher is better); mmengine guesses it
      from fragments of the key's name and fails on keys it does not know.

    It takes the same arguments as mmengine's hook. The replacement of the
    best checkpoint (``save_best``) is mmengine's: the previous best is
    deleted before the new one is written.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.args:
            settings = [p for p in inspect.signature(
                CheckpointHook.__init__).parameters if p not in (
                    'self', 'kwargs')]
            raise TypeError(
                f'{type(self).__name__} (default_hooks.checkpoint) got '
                f'unknown settings {sorted(self.args)}; it takes '
                f'{", ".join(settings)}')

    def before_train(self, runner) -> None:
        """Set up as mmengine does, then remove killed saves' leftovers."""
        super().before_train(runner)
        self._learn_metric_rules(runner)
        if not is_main_process():
            return
        for folder in {self.out_dir, runner.work_dir}:
            for leftover in glob.glob(osp.join(folder, f'.*{TEMP_SUFFIX}')):
                os.remove(leftover)

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
        """Refuse to save non-finite weights.

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

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        outdated = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if is_distributed():
            all_reduce_params(runner.model.buffers(), op='mean')
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args)
        if not is_main_process():
            return
        atomic_write(self.last_ckpt.encode(),
                     osp.join(runner.work_dir, 'last_checkpoint'))
        if outdated is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)
