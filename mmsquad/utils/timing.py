"""Timing for the benchmark tools."""
import statistics
import time
from typing import Callable, Dict, Hashable, Mapping


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
