"""Train a byte-level BPE tokenizer (Qwen2 style) on a text corpus.

Algorithm (the one GPT-2, Qwen and HF ``tokenizers`` use): NFC-normalise, cut the text into
pre-tokens with Qwen2's regex (special tokens are removed first so they are never learned),
count each distinct pre-token, start every pre-token as its UTF-8 bytes, then repeat: find the
most frequent adjacent pair over all pre-tokens (weighted by count), add it as a new token,
replace it everywhere. Pair counts are updated incrementally: only the words that contain the
merged pair are re-counted, so one merge costs O(words containing it), not O(corpus).

    >>> tok = train_bpe(["hello hello hello world"], vocab_size=256 + 4 + 1,
    ...                 special_tokens=["<|endoftext|>"])
    >>> tok.merges                                  # 4 merges: e+l, h+el, l+o, hel+lo
    [(b'e', b'l'), (b'h', b'el'), (b'l', b'o'), (b'hel', b'lo')]
    >>> [tok.id_to_token(i) for i in tok.encode("hello world")]
    ['hello', 'Ġ', 'w', 'o', 'r', 'l', 'd']

Ids: 0..255 are the bytes in GPT-2 order (``!`` is 0, as in Qwen), then one id per merge, then
the special tokens, so ``vocab_size`` counts all three. Ties between equally frequent pairs go
to the pair of smaller ids (deterministic). The result encodes with HF semantics (merges by rank)
and ``save_pretrained`` writes a tokenizer.json that HF ``tokenizers`` encodes identically.

Regenerate the built-in ``tiny-random`` tokenizer (see assets/tiny-random/README.md)::

    python -m tinyqwen.tokenizer.bpe_train --corpus tinyqwen/assets/tiny-random/corpus.txt \\
        --vocab-size 2048 --out tinyqwen/assets/tiny-random

Limits: the whole corpus's distinct pre-tokens are held in memory; meant for up to tens of MB.
"""

from __future__ import annotations

import argparse
import heapq
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import regex

from tinyqwen.tokenizer.bpe import QWEN2_PATTERN
from tinyqwen.tokenizer.bytes_unicode import BYTE_ORDER
from tinyqwen.tokenizer.tokenizer import QWEN25_ADDED_TOKENS, AddedToken, Tokenizer

QWEN25_SPECIALS = [name for name, _ in QWEN25_ADDED_TOKENS]
_QWEN_SPECIAL_FLAG = dict(QWEN25_ADDED_TOKENS)


def count_pretokens(
    texts: Iterable[str], special_tokens: list[str], pattern: str = QWEN2_PATTERN
) -> Counter[str]:
    """Distinct pre-tokens with their counts; special tokens are cut out of the text first."""
    split_regex = regex.compile(pattern)
    special_regex = (
        regex.compile("|".join(regex.escape(s) for s in sorted(special_tokens, key=len)[::-1]))
        if special_tokens
        else None
    )
    counts: Counter[str] = Counter()
    for text in texts:
        text = unicodedata.normalize("NFC", text)
        for segment in special_regex.split(text) if special_regex else [text]:
            counts.update(split_regex.findall(segment))
    return counts


def learn_merges(
    words: list[list[int]], freqs: list[int], num_merges: int, first_id: int, min_frequency: int = 2
) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges; ``words`` (id lists) are rewritten in place.

    Returns the merged pairs in order; merge ``k`` creates id ``first_id + k``. Stops early when
    no pair occurs ``min_frequency`` times.
    """
    pair_count: defaultdict[tuple[int, int], int] = defaultdict(int)
    pair_words: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for w, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_count[pair] += freq
            pair_words[pair].add(w)
    # Max-heap by count (ties: smaller pair first). Entries go stale when counts change; a
    # popped entry is used only if its count is still current.
    heap = [(-c, pair) for pair, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if -neg_count != pair_count.get(pair, 0):
            continue  # stale
        if -neg_count < min_frequency:
            break
        new_id = first_id + len(merges)
        merges.append(pair)
        changed: set[tuple[int, int]] = set()
        for w in pair_words.pop(pair):
            word, freq = words[w], freqs[w]
            if not _contains(word, pair):
                continue  # the pair was already merged away inside this word
            for p in zip(word, word[1:]):
                pair_count[p] -= freq
                changed.add(p)
            words[w] = word = _replace(word, pair, new_id)
            for p in zip(word, word[1:]):
                pair_count[p] += freq
                pair_words[p].add(w)
                changed.add(p)
        pair_count.pop(pair, None)
        for p in changed:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
    return merges


def _contains(word: list[int], pair: tuple[int, int]) -> bool:
    a, b = pair
    return any(x == a and y == b for x, y in zip(word, word[1:]))


def _replace(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace non-overlapping occurrences of ``pair`` left to right ("aaa" + (a,a) -> "Xa")."""
    a, b = pair
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: list[str],
    *,
    pattern: str = QWEN2_PATTERN,
    min_frequency: int = 2,
    eos_token: str | None = None,
    pad_token: str | None = None,
) -> Tokenizer:
    """Train a byte-level BPE with ``vocab_size`` ids in total (256 bytes + merges + specials).

    ``special_tokens`` get the last ids in the given order (Qwen's order for the Qwen2.5 list);
    they are flagged ``special`` as in Qwen2.5 (``<tool_call>`` and FIM tokens are not).
    Fewer merges are learned if the corpus runs out of pairs seen ``min_frequency`` times.
    """
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError(f"special_tokens has duplicates: {special_tokens}")
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than 256 bytes + {len(special_tokens)} specials"
        )
    counts = count_pretokens(texts, special_tokens, pattern)
    byte_id = {b: i for i, b in enumerate(BYTE_ORDER)}
    id_bytes = [bytes([b]) for b in BYTE_ORDER]
    words = [[byte_id[b] for b in piece.encode("utf-8")] for piece in counts]
    merges = learn_merges(words, list(counts.values()), num_merges, 256, min_frequency)
    for a, b in merges:
        id_bytes.append(id_bytes[a] + id_bytes[b])
    vocab = {token: i for i, token in enumerate(id_bytes)}
    if len(vocab) != len(id_bytes):
        raise AssertionError("a merge produced a token that already exists")  # cannot happen
    added = [
        AddedToken(name, len(id_bytes) + k, _QWEN_SPECIAL_FLAG.get(name, True))
        for k, name in enumerate(special_tokens)
    ]
    return Tokenizer(
        vocab,
        [(id_bytes[a], id_bytes[b]) for a, b in merges],
        added,
        pattern=pattern,
        eos_token=eos_token,
        pad_token=pad_token,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tinyqwen.tokenizer.bpe_train",
        description="Train a Qwen2-style byte-level BPE tokenizer and save it (HF layout).",
    )
    parser.add_argument("--corpus", nargs="+", required=True, type=Path, help="UTF-8 text files")
    parser.add_argument("--vocab-size", type=int, default=2048, help="total ids incl. specials")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--special-tokens",
        default="qwen2.5",
        help="'qwen2.5' (the 22 Qwen2.5 added tokens, Qwen's order) or a comma-separated list",
    )
    parser.add_argument("--eos", default="<|im_end|>", help="eos token (Qwen2.5-Instruct's)")
    parser.add_argument("--pad", default="<|endoftext|>", help="pad token (Qwen2.5's)")
    parser.add_argument("--min-frequency", type=int, default=2)
    args = parser.parse_args(argv)
    specials = (
        QWEN25_SPECIALS if args.special_tokens == "qwen2.5" else args.special_tokens.split(",")
    )
    texts = []
    for path in args.corpus:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            sys.exit(f"cannot read corpus file {path}: {e}")
    tok = train_bpe(
        texts,
        args.vocab_size,
        specials,
        min_frequency=args.min_frequency,
        eos_token=args.eos if args.eos in specials else None,
        pad_token=args.pad if args.pad in specials else None,
    )
    tok.save_pretrained(args.out)
    print(
        f"trained on {sum(len(t) for t in texts)} characters: {len(tok.merges)} merges, "
        f"vocab_size={tok.vocab_size}, eos={tok.eos_token!r}, pad={tok.pad_token!r} -> {args.out}"
    )


if __name__ == "__main__":
    main()
