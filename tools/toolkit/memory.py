"""How much memory the machine has left, for benchmark steps that must
not be killed for lack of it."""


def available_memory() -> int:
    """Bytes the kernel reports as available (``MemAvailable`` of
    ``/proc/meminfo``: free memory plus what it can reclaim).

    Raises:
        RuntimeError: Where ``/proc/meminfo`` has no such line.
    """
    with open('/proc/meminfo') as meminfo:
        for line in meminfo:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('/proc/meminfo has no MemAvailable line')


def peak_resident() -> int:
    """Bytes of this process's highest resident set so far (``VmHWM`` of
    ``/proc/self/status``). Unlike ``getrusage``'s ``ru_maxrss``, it
    starts afresh in a spawned process instead of at the size of the
    parent it was forked from.

    Raises:
        RuntimeError: Where ``/proc/self/status`` has no such line.
    """
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('/proc/self/status has no VmHWM line')


def batch_that_fits(per_sample: float, batch: int, fixed: float = 0.0,
                    share: float = 0.8) -> int:
    """The largest batch up to ``batch`` whose step, ``fixed + per_sample *
    batch`` bytes, takes at most ``share`` of the available memory; 0
    where not even one sample fits."""
    budget = share * available_memory() - fixed
    if per_sample <= 0:
        return batch if budget >= 0 else 0
    return max(0, min(batch, int(budget // per_sample)))


def batch_to_run(what: str, per_sample: float, batch: int,
                 fixed: float = 0.0, least: int = 1) -> int:
    """:func:`batch_that_fits`, said where it is smaller than ``batch``
    (``what`` names the step); 0 where fewer than ``least`` samples fit
    (BatchNorm trains on at least two)."""
    fitting = batch_that_fits(per_sample, batch, fixed)
    if fitting < batch:
        print(f'{what} needs about {gib(fixed + per_sample * batch)}, '
              f'{gib(available_memory())} available: '
              + (f'measured at batch {fitting}' if fitting >= least
                 else 'not measured'))
    return fitting if fitting >= least else 0


def gib(size: float) -> str:
    """``size`` bytes in GiB, one decimal."""
    return f'{size / 2**30:.1f} GiB'
