"""Test-only faults, loaded by a config's ``custom_imports``: a hook that
SIGKILLs the whole job (every process of its session) at a chosen point.

Environment: ``FAULT_ITER`` (the 1-based iteration) and ``FAULT_WHEN``:
``save`` kills during that iteration's checkpoint write, after the
temporary file is written and before it is renamed into place; ``step``
kills before that iteration trains.
"""
import os
import signal

from mmengine.hooks import Hook

import mmsquad.utils.compat
from mmsquad.registry import HOOKS


def _kill_job():
    """SIGKILL the whole job: under torchrun, torchrun's session first, then
    the other ranks (each in a session of its own), then this rank, as when
    a node dies; else this process's session.

    torchrun goes first: ranks that reach this point together kill each
    other, and whichever dies first must not leave torchrun alive to
    report the failure and exit normally."""
    if 'TORCHELASTIC_RUN_ID' in os.environ:
        launcher = os.getppid()
        with open(f'/proc/{launcher}/task/{launcher}/children') as f:
            ranks = [int(pid) for pid in f.read().split()]
        os.killpg(os.getpgid(launcher), signal.SIGKILL)
        for pid in ranks:
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # killed by a rank already
                    pass
    os.killpg(os.getpgid(0), signal.SIGKILL)


@HOOKS.register_module()
class KillJobHook(Hook):
    """SIGKILL the job where ``FAULT_ITER`` / ``FAULT_WHEN`` say."""

    def __init__(self):
        self.at = int(os.environ.get('FAULT_ITER', 0))
        self.when = os.environ.get('FAULT_WHEN', '')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.when == 'step' and runner.iter + 1 == self.at:
            _kill_job()

    def before_save_checkpoint(self, runner, checkpoint):
        if self.when == 'save' and runner.iter + 1 == self.at:
            mmsquad.utils.compat.os.replace = lambda *args: _kill_job()
