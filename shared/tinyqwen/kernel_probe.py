"""Timing kernels against each other: which one is fastest *here*, measured, not assumed.

``tinyqwen.quant`` (int8) and ``tinyqwen.int4`` each run their candidate matmul kernels on a decode-sized
problem once per process and keep the fastest that computes the right result:

    >>> import torch
    >>> t = time_interleaved({"a": lambda: torch.ones(64) @ torch.ones(64)}, torch.device("cpu"), reps=3)
    >>> sorted(t), fastest({"slow": 2.0, "fast": 1.0, "broken": "error: no kernel"})
    (['a'], 'fast')
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def time_interleaved(
    calls: dict[str, Callable[[], object]], device: torch.device, reps: int
) -> dict[str, float]:
    """Best-of-``reps`` milliseconds of each call, the calls taking turns within every repetition (a
    busy machine slows them alike; the fastest run is the least disturbed, as ``timeit`` advises)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(reps):
        for name, call in calls.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            call()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: min(ts) for name, ts in times.items()}


def fastest(timings: dict[str, float | str]) -> str:
    """The kernel with the smallest time among those that ran correctly (a float), else ``dequant``."""
    ok = {k: v for k, v in timings.items() if isinstance(v, float)}
    return min(ok, key=ok.get) if ok else "dequant"
