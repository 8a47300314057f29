"""Timing for the benchmark tools."""
import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], None], warmup: int, runs: int) -> float:
    """Seconds per call of ``fn``: the median of ``runs`` timed calls after
    ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
