"""Timing kernels against each other: which one is fastest *here*, measured, not assumed.

``tinyqwen.quant`` (int8) and ``tinyqwen.int4`` each run their candidate matmul kernels on a decode-sized
problem once per process and keep the fastest that computes the right result:

    >>> import torch
    >>> t = time_interleaved({"a": lambda: torch.ones(64) @ torch.ones(64)}, torch.device("cpu"), reps=3)
    >>> sorted(t), fastest({"slow": 2.0, "fast": 1.0, "broken": "error: no kernel"})
    (['a'], 'fast')

Answers that must not flip between processes -- ``dtype="auto"`` (``checkpoint.decode_dtype_probe``),
which path a prompt's products take (``linear.bf16_gemm_probe``, ``quant.int8pack_gemm_probe``) --
are measured once per *machine* and kept in one JSON file, one entry per probe (:func:`cached_probe`):
two programs on the same machine then agree on the same greedy text.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tinyqwen.atomic import atomic_write_text


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


PROBE_CACHE_FILE = "decode-dtype-probe.json"


def probe_cache_path() -> Path:
    """Where the probe's result is kept per machine: ``$TINYU_CACHE_DIR`` or ``~/.cache/tiny-universe``."""
    root = os.environ.get("TINYU_CACHE_DIR") or Path.home() / ".cache" / "tiny-universe"
    return Path(root) / PROBE_CACHE_FILE


def probe_machine_key() -> str:
    """What the probe's answer depends on: the CPU (model and ISA flags), torch, the thread count."""
    import hashlib
    import platform

    cpu = platform.processor()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((x for x in lines if x.startswith(("model name", "CPU part"))), cpu)
        cpu += next((x for x in lines if x.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    digest = hashlib.sha256(cpu.encode()).hexdigest()[:16]
    return (
        f"{platform.machine()}-{digest}-torch{torch.__version__}-threads{torch.get_num_threads()}"
    )


def cached_probe(
    name: str, keys: tuple[str, ...], measure: Callable[[], dict[str, float]]
) -> tuple[dict[str, float], str]:
    """``(numbers, source)``: this machine's entry ``name`` (positive numbers under ``keys``) in
    :func:`probe_cache_path`, keyed by :func:`probe_machine_key`; else ``measure()``'s fresh numbers,
    then kept there (``source`` is ``"measured"``). A corrupt, foreign or unwritable cache is measured
    around."""
    path, key = probe_cache_path(), probe_machine_key() + name
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = None  # absent or corrupt: measure (and rewrite it)
    cache = cache if isinstance(cache, dict) else {}
    try:
        numbers = {k: float(cache[key][k]) for k in keys}
        if all(v > 0 for v in numbers.values()):
            return numbers, str(path)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass  # another machine's entries only, or a damaged one: measure this machine
    numbers = measure()
    cache[key] = numbers
    try:
        atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only home: the choice is then per process
    return numbers, "measured"
