"""Benchmark `tinyqwen serve`: 8 concurrent clients vs sequential calls, on tiny-random.

    python bench/bench_server.py [--requests 32] [--max-new-tokens 32] [--clients 8]
    python bench/bench_server.py --baseline /path/to/other/checkout/shared   # A/B, same run

Starts `python -m tinyqwen.serve --model tiny-random` as a subprocess on a free loopback port (a
second one with `--max-batch-size 1` to separate queueing from batching), sends the same greedy
chat requests (different prompts, `max_tokens` fixed) in several ways, and prints a markdown table:
requests/s, p50 and p95 latency per request, and throughput relative to sequential HTTP calls.

- direct `LLM.chat`, sequential: the model alone, no HTTP (the floor for per-request latency)
- HTTP, 1 client, sequential: what a simple script gets
- HTTP, N clients, server batching off (`--max-batch-size 1`): requests just queue
- HTTP, N clients, server batching on: compatible queued requests run as one `chat_batch`

`--baseline DIR` then also runs the batching-on case against the server of another checkout's
`shared/` folder (e.g. `git archive main | tar -x -C /tmp/main`), alternating the two servers for
`--rounds` rounds, and prints both req/s and their ratio (on a busy machine only such a same-run
ratio means anything) and the server process's CPU time per request (Linux; robust to load).

tiny-random is a random model (its output is gibberish); it has the shape of a real one at toy size,
so these numbers measure the serving path (HTTP, queue, batching), not model quality. On a real
model the per-token cost dominates and batching pays off more. Not run by the tests.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

from tinyqwen.openai_client import OpenAIChatModel

TOPICS = ["天气", "数学", "Python", "历史", "音乐", "足球", "咖啡", "火车", "月亮", "编程"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HERE = Path(__file__).resolve().parents[1]  # this checkout's shared/
SERVER_PIDS: dict[str, int] = {}  # base URL -> server process id


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(max_batch_size: int, shared: Path = HERE):
    port = _free_port()
    # older checkouts have the server in tinyqwen/server.py
    module = "tinyqwen.serve" if (shared / "tinyqwen" / "serve").is_dir() else "tinyqwen.server"
    cmd = [sys.executable, "-m", module, "--model", "tiny-random", "--port", str(port)]
    cmd += ["--max-batch-size", str(max_batch_size), "--log-level", "warning"]
    env = os.environ | {"PYTHONPATH": str(shared)}
    # cwd too: `python -m` puts the working directory first on sys.path
    proc = subprocess.Popen(
        cmd, env=env, cwd=shared, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 120 s")
            time.sleep(0.2)
        SERVER_PIDS[f"{url}/v1"] = proc.pid
        yield f"{url}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(call, conversations, clients: int) -> tuple[float, list[float]]:
    """(wall seconds, per-request latencies) for all conversations with `clients` in flight."""

    def timed(conv):
        t = time.perf_counter()
        call(conv)
        return time.perf_counter() - t

    start = time.perf_counter()
    if clients == 1:
        lat = [timed(c) for c in conversations]
    else:
        with ThreadPoolExecutor(clients) as pool:
            lat = list(pool.map(timed, conversations))
    return time.perf_counter() - start, lat


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads in every process (default 1: tiny matmuls get slower, not faster, "
        "with more threads, and much slower on a busy machine)",
    )
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout's shared/ dir")
    ap.add_argument("--rounds", type=int, default=3, help="A/B rounds with --baseline")
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the server subprocesses
    import torch

    torch.set_num_threads(args.threads)
    n, clients = args.requests, args.clients
    convs = [
        [{"role": "user", "content": f"请用一句话介绍{TOPICS[i % len(TOPICS)]} #{i}"}]
        for i in range(n)
    ]
    sampling = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}

    from tinyqwen.tiny_random import load_tiny_random

    llm = load_tiny_random()
    llm.chat(convs[0], **sampling)  # warm-up
    rows = [("direct LLM.chat, sequential", *run(lambda c: llm.chat(c, **sampling), convs, 1))]
    with server(max_batch_size=1) as url:
        client = OpenAIChatModel(url, "tiny-random")
        client.chat(convs[0], **sampling)
        rows.append(
            (
                f"HTTP, {clients} clients, batching off",
                *run(lambda c: client.chat(c, **sampling), convs, clients),
            )
        )
    with server(max_batch_size=clients) as url:
        client = OpenAIChatModel(url, "tiny-random")
        client.chat(convs[0], **sampling)
        rows.insert(
            1, ("HTTP, 1 client, sequential", *run(lambda c: client.chat(c, **sampling), convs, 1))
        )
        rows.append(
            (
                f"HTTP, {clients} clients, batching on",
                *run(lambda c: client.chat(c, **sampling), convs, clients),
            )
        )
        health = requests.get(url.removesuffix("/v1") + "/health", timeout=10).json()

    base = n / rows[1][1]
    print(
        f"\n`tinyqwen serve` on tiny-random (random weights): {n} chat requests, "
        f"max_tokens={args.max_new_tokens}, greedy; {os.cpu_count()} CPU cores, "
        f"{args.threads} torch thread(s) per process\n"
    )
    print("| mode | req/s | p50 latency (ms) | p95 latency (ms) | req/s vs HTTP sequential |")
    print("|---|---:|---:|---:|---:|")
    for name, wall, lat in rows:
        qs = statistics.quantiles(lat, n=20)  # 19 cut points: [9] = p50, [18] = p95
        print(
            f"| {name} | {n / wall:.2f} | {qs[9] * 1e3:.0f} | {qs[18] * 1e3:.0f} | "
            f"{n / wall / base:.2f}x |"
        )
    print(f"\nlargest batch the server ran: {health['largest_batch']}")
    if args.baseline is not None:
        compare(args.baseline.resolve(), convs, sampling, clients, args.rounds)


def compare(baseline: Path, convs: list, sampling: dict, clients: int, rounds: int) -> None:
    """Batching on, `clients` clients: the baseline checkout's server vs this one, alternating."""
    rates: dict[str, list[float]] = {"baseline": [], "this tree": []}
    cpu_ms: dict[str, list[float]] = {"baseline": [], "this tree": []}  # server CPU per request
    for _ in range(rounds):
        for label, shared in (("baseline", baseline), ("this tree", HERE)):
            with server(max_batch_size=clients, shared=shared) as url:
                client = OpenAIChatModel(url, "tiny-random")
                client.chat(convs[0], **sampling)
                cpu0 = cpu_seconds(SERVER_PIDS[url])
                wall, _ = run(lambda c, m=client: m.chat(c, **sampling), convs, clients)
                cpu = cpu_seconds(SERVER_PIDS[url]) - cpu0
                rates[label].append(len(convs) / wall)
                cpu_ms[label].append(cpu / len(convs) * 1e3)
    print(f"\nA/B, {clients} clients, batching on, {rounds} alternating rounds")
    print(f"baseline = {baseline}\n")
    print("| server | req/s per round | median req/s | median server CPU ms / request |")
    print("|---|---|---:|---:|")
    for label, r in rates.items():
        rounds_text = ", ".join(f"{x:.2f}" for x in r)
        cpu = statistics.median(cpu_ms[label])
        print(f"| {label} | {rounds_text} | {statistics.median(r):.2f} | {cpu:.1f} |")
    ratio = statistics.median(rates["this tree"]) / statistics.median(rates["baseline"])
    cpu_ratio = statistics.median(cpu_ms["baseline"]) / statistics.median(cpu_ms["this tree"])
    print(f"\nthis tree / baseline: req/s {ratio:.2f}x (medians; wall clock, load-sensitive)")
    print(f"baseline / this tree: server CPU per request {cpu_ratio:.2f}x (robust to load)")


if __name__ == "__main__":
    main()
