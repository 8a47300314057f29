"""mmengine's logger hook, with a first line as soon as training runs."""
from typing import Optional

from mmengine.hooks import LoggerHook

from mmsquad.registry import HOOKS


@HOOKS.register_module()
class ProgressLoggerHook(LoggerHook):
    """mmengine's ``LoggerHook`` that also prints the first training
    iteration of a run (its losses, time and an ETA), so that a run shows
    it trains without waiting ``interval`` iterations. The extra line is
    printed only, not added to the logged scalars. Arguments as mmengine's
    ``LoggerHook``.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self.first_logged = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if self.first_logged:
            return
        self.first_logged = True
        if not (self.every_n_inner_iters(batch_idx, self.interval) or
                self.end_of_epoch(runner.train_dataloader, batch_idx)):
            _, line = runner.log_processor.get_log_after_iter(
                runner, batch_idx, 'train')
            runner.logger.info(line)
