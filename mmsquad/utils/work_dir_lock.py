"""One training per work directory: :class:`WorkDirLock`."""
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

from mmengine.logging import print_log

#: The lock file, in the work directory.
LOCK_FILE = 'train.lock'


class WorkDirLockedError(RuntimeError):
    """Another training holds the work directory."""


class WorkDirLock:
    """A lock file that keeps a second training out of a work directory.

    Two trainings in one work directory overwrite each other's saved
    config and checkpoints (and prune each other's with ``max_keep_ckpts``)
    without an error. The lock file records the holder (pid, host, start
    time, command); a second run fails at once naming it. A lock left by a
    process that no longer runs on this host (a killed run) is taken over
    with a warning, so ``--resume`` of a killed run works; a lock from
    another host cannot be checked and is respected (delete the file if
    that run is gone). The file is removed on release.

    ``tools/train.py`` holds it (on rank 0 only) from before the runner
    is built until training ends; in Python::

        with WorkDirLock(cfg.work_dir):
            Runner.from_cfg(cfg).train()

    Args:
        work_dir: The work directory (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_FILE)
        self.held = False

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            WorkDirLockedError: When a running training holds it, naming
                that run.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        record = dict(pid=os.getpid(), host=socket.gethostname(),
                      started=time.strftime('%Y-%m-%d %H:%M:%S'),
                      command=' '.join(sys.argv))
        while not self.held:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._holder()
                if holder == {}:  # released meanwhile
                    continue
                if holder is not None and _alive(holder):
                    raise WorkDirLockedError(
                        f'work dir {self.work_dir} is in use by another '
                        f'training: pid {holder.get("pid")} on '
                        f'{holder.get("host")} since {holder.get("started")} '
                        f'({holder.get("command")}). Give another '
                        f'--work-dir or wait for it to end; if that run no '
                        f'longer exists, delete {self.path}') from None
                print_log(f'{self.path}: taking over the lock of a training '
                          f'that no longer runs ({holder})', 'current', 30)
                _remove(self.path)
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(record, f)
            self.held = True

    def release(self) -> None:
        """Give the lock back (remove the file)."""
        if self.held:
            _remove(self.path)
            self.held = False

    def _holder(self) -> Optional[dict]:
        """The recorded holder; None for an unreadable file (a holder
        killed while writing it, after a short wait for a live one to
        finish)."""
        for _ in range(20):
            try:
                with open(self.path) as f:
                    return json.load(f)
            except FileNotFoundError:
                return {}
            except (OSError, ValueError):
                time.sleep(0.05)
        return None

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _alive(holder: dict) -> bool:
    """Whether the holder may still run: another host's cannot be checked;
    on this host, whether its pid exists."""
    if holder.get('host') != socket.gethostname():
        return True
    try:
        os.kill(int(holder['pid']), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (KeyError, ValueError, TypeError):
        return False
    return True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
