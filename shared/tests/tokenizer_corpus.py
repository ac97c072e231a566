"""A deterministic mixed-text corpus for tokenizer parity tests and the tokenizer benchmark.

About half real zh/en text from ``../shared/data/tinyeval/dataset/*.jsonl`` (every string field
of every row) when that folder exists, the rest generated from a seeded RNG: code with CRLF and
tab/space runs, numbers and dates, emoji (ZWJ sequences, skin tones, flags), other scripts
(Arabic, Devanagari, Thai, Korean, Cyrillic), decomposed (non-NFC) accents and Hangul jamo, and
the tiny-random corpus. Same arguments -> same string.

    >>> text = mixed_corpus(1_000_000)        # >= 1 MB of UTF-8
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tinyqwen.data_cache import shared_dev_data

DATA_DIR = (
    (
        shared_dev_data(Path(__file__).resolve().parents[2])
        or Path("../shared/data (absent or hidden)")
    )
    / "tinyeval"
    / "dataset"
)
ASSET_CORPUS = (
    Path(__file__).resolve().parents[1] / "tinyqwen" / "assets" / "tiny-random" / "corpus.txt"
)

_EMOJI = [
    "🙂", "😂", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "❤️", "🚀", "🤖", "✅", "🔥", "🎉", "🏳️‍🌈", "🧑🏿‍🔬",
]  # fmt: skip
_SCRIPTS = [
    "مرحبا بالعالم، هذا اختبار.",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "สวัสดีชาวโลก นี่คือการทดสอบ",
    "안녕하세요 세계, 이것은 시험입니다.",
    "Привет, мир! Это проверка токенизатора.",
    "Γειά σου Κόσμε· ελληνικά.",
    "こんにちは世界、トークナイザーのテストです。",
]
_NON_NFC = ["e\u0301", "a\u0308", "n\u0303", "\u1100\u1161\u11a8", "A\u030a", "c\u0327", "\u212b"]
_WORDS = "model token layer cache attention rope norm merge rank vocab batch stream".split()


def real_text(limit_bytes: int) -> str:
    """Up to ``limit_bytes`` of real text from the tinyeval jsonl files ('' if absent)."""
    if not DATA_DIR.is_dir():
        return ""
    files = sorted(DATA_DIR.glob("*.jsonl"))
    parts: list[str] = []
    per_file = limit_bytes // max(len(files), 1)
    for path in files:
        used = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # some "*.jsonl" there are pretty-printed JSON; skip those lines
                for s in _strings(row):
                    parts.append(s)
                    used += len(s.encode("utf-8"))
                if used >= per_file:
                    break
    return "\n".join(parts)


def _strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def generated_text(limit_bytes: int, seed: int = 0) -> str:
    """``limit_bytes`` of seeded synthetic text covering the awkward cases."""
    rng = random.Random(seed)
    asset = ASSET_CORPUS.read_text(encoding="utf-8")
    asset_lines = asset.splitlines()
    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    chunks: list[str] = [asset]
    size = len(asset.encode("utf-8"))
    while size < limit_bytes:
        kind = rng.randrange(8)
        if kind == 0:  # code with CRLF line endings, tabs and space runs
            name = rng.choice(_WORDS) + "_" + str(rng.randrange(1000))
            chunk = (
                f"def {name}(x, y={rng.random():.4f}):\r\n"
                f"\tif x > {rng.randrange(10**6)}:\r\n"
                f"        return x * {rng.randrange(97)} + y  # {rng.choice(_WORDS)}\r\n"
                f"    return [{', '.join(str(rng.randrange(-50, 50)) for _ in range(5))}]\r\n\r\n"
            )
        elif kind == 1:  # numbers, dates, money, versions
            chunk = (
                f"{rng.randrange(10**12)} {rng.uniform(-1e6, 1e6):.3f} "
                f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
                f"¥{rng.randrange(10**5):,} v{rng.randrange(10)}.{rng.randrange(20)}.{rng.randrange(99)} "
                f"{rng.randrange(100)}% 0x{rng.randrange(16**8):08X}\n"
            )
        elif kind == 2:  # emoji between words
            chunk = " ".join(rng.choice(_EMOJI + _WORDS) for _ in range(12)) + "\n"
        elif kind == 3:  # whitespace runs, mixed newlines, trailing spaces
            chunk = (
                rng.choice(_WORDS)
                + " " * rng.randrange(1, 9)
                + "\t" * rng.randrange(3)
                + rng.choice(["\n", "\r\n", "\n\n\n", "\r\n\r\n", " \n", "   \r\n  "])
            )
        elif kind == 4:  # other scripts and non-NFC sequences
            chunk = rng.choice(_SCRIPTS) + " " + "".join(rng.choices(_NON_NFC, k=3)) + " "
        elif kind == 5:  # random CJK runs (rare characters split into byte-level pieces)
            chunk = "".join(rng.choices(cjk, k=rng.randrange(2, 30))) + rng.choice("，。！？\n")
        elif kind == 6:  # English-ish with contractions and case
            w = rng.choices(_WORDS, k=8)
            chunk = f"I'm sure {w[0].upper()}'s {w[1]} WON'T {w[2]}; they'd {' '.join(w[3:])}.\n"
        else:  # shuffled lines of the asset corpus
            chunk = rng.choice(asset_lines) + "\n"
        chunks.append(chunk)
        size += len(chunk.encode("utf-8"))
    return "".join(chunks)


def mixed_corpus(min_bytes: int = 1_000_000, seed: int = 0) -> str:
    """At least ``min_bytes`` of UTF-8: real text (about half) + generated text."""
    real = real_text(min_bytes // 2)
    rest = min_bytes - len(real.encode("utf-8"))
    return real + "\n" + generated_text(max(rest, 0) + 1, seed)
