"""Timing and memory measurements for the benchmark tools."""
import multiprocessing
import resource
import statistics
import time
from typing import Callable, Dict, Hashable, List, Mapping, Tuple

from .memory import peak_resident


def median_times(fns: Mapping[Hashable, Callable[[], None]], warmup: int,
                 runs: int) -> Dict[Hashable, float]:
    """Seconds per call of each function: the median of ``runs`` timed calls
    after ``warmup`` untimed ones.

    The calls are interleaved (every function once per round), so a slow
    spell of a shared machine slows all of them alike instead of whichever
    happened to be timed then.
    """
    times = {key: [] for key in fns}
    for round_index in range(warmup + runs):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_index >= warmup:
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def counting_page_faults(
    fns: Mapping[Hashable, Callable[[], None]]
) -> Tuple[Dict[Hashable, Callable[[], None]], Dict[Hashable, List[int]]]:
    """Each function wrapped to count the minor page faults of its calls
    (``getrusage``'s ``ru_minflt``: first touches of pages the process got
    fresh from the kernel, e.g. of every tensor that glibc maps anew), and
    the counts, one per call, filled in as the wrapped functions run."""
    counts = {key: [] for key in fns}

    def counted(key: Hashable, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            fn()
            counts[key].append(
                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return run

    return {key: counted(key, fn) for key, fn in fns.items()}, counts


def _call_and_put(fn: Callable, args: tuple, results) -> None:
    results.put(fn(*args))


def in_fresh_process(fn: Callable, *args):
    """``fn(*args)`` run in a spawned process (its own memory accounting,
    e.g. for peak resident-set measurements); its result.

    Raises:
        RuntimeError: When the process fails.
    """
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    process = context.Process(target=_call_and_put,
                              args=(fn, args, results))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f'{getattr(fn, "__name__", fn)}{args} failed in '
                           f'its process (exit code {process.exitcode}); '
                           'see above')
    return results.get()


def peak_memory_growth(step: Callable[[], None]) -> int:
    """Bytes by which ``step()`` raises the resident set's peak (meaningful
    in a fresh process, see :func:`in_fresh_process`)."""
    before = peak_resident()
    step()
    return peak_resident() - before
