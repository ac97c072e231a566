"""The byte-pair merge step of byte-level BPE, and the pre-tokenization regexes that feed it.

Encoding one *pre-token* (a regex piece such as ``" world"`` or ``"你好"``) works like this:

1. start from its UTF-8 bytes, one base token per byte;
2. repeatedly merge the adjacent pair with the lowest merge rank (leftmost on ties);
3. stop when no adjacent pair has a rank.

    >>> vocab = {bytes([b]): b for b in range(256)}        # toy: id of a byte = its value
    >>> vocab[b"ab"], vocab[b"abc"] = 256, 257
    >>> table = MergeTable.from_merges(vocab, [(b"a", b"b"), (b"ab", b"c")])
    >>> bpe_merge([97, 98, 99, 97, 98], table)             # "abcab" -> ["abc", "ab"]
    [257, 256]

Two ways of saying which pair merges first, both supported by :class:`MergeTable`:

- HF ``merges`` list (tokenizer.json / merges.txt): pair ``(a, b)`` has rank = its line number,
  and only listed pairs ever merge.
- tiktoken ranks (``*.tiktoken``): any adjacent pair whose concatenation is a token merges,
  ranked by that token's id. :meth:`MergeTable.from_ranks` lists every such split.

A pair is stored as one int ``left << 32 | right`` (cheaper to hash than a tuple); ids must be
< 2**32. Limits: pure Python; a pre-token of n bytes costs O(n^2) in the worst case (each merge
rescans the rank list with C-speed ``min``), fine for the short pieces regexes produce.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

# Qwen2 / Qwen2.5 pre-tokenizer, verbatim from Qwen2's tokenizer.json (Split, Isolated) and
# transformers' tokenization_qwen2.py. Unlike GPT-4's cl100k pattern, digits are split one by
# one (``\p{N}`` not ``\p{N}{1,3}``), and a letter run may absorb one leading non-letter
# (``[^\r\n\p{L}\p{N}]?\p{L}+``), which is how " world" and "，我们" become single pieces.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# GPT-2's pattern, used by a tokenizer.json whose ByteLevel pre-tokenizer has use_regex=true.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

NO_RANK = sys.maxsize  # rank of a pair that never merges
_SHIFT = 32


def pair_key(left: int, right: int) -> int:
    """Pack a pair of token ids into the int key used by :class:`MergeTable`."""
    return left << _SHIFT | right


@dataclass
class MergeTable:
    """Which adjacent pairs merge, in which order, into which token.

    ``rank[pair_key(a, b)]`` orders merges (lower first); ``result[pair_key(a, b)]`` is the id of
    the merged token. For tiktoken ranks the two dicts are the same object (rank == id).
    """

    rank: dict[int, int]
    result: dict[int, int]

    @classmethod
    def from_merges(cls, vocab: dict[bytes, int], merges: list[tuple[bytes, bytes]]) -> MergeTable:
        """HF semantics: merge ``i`` is ``merges[i]``; both halves and the join must be in vocab."""
        rank: dict[int, int] = {}
        result: dict[int, int] = {}
        for i, (a, b) in enumerate(merges):
            try:
                key = pair_key(vocab[a], vocab[b])
                merged = vocab[a + b]
            except KeyError as e:
                raise ValueError(
                    f"merge #{i} {a!r} + {b!r}: {e.args[0]!r} is not in the vocabulary"
                ) from None
            # A duplicated merge keeps its first (lowest) rank, as HF's BPE model does.
            rank.setdefault(key, i)
            result.setdefault(key, merged)
        return cls(rank, result)

    @classmethod
    def from_ranks(cls, ranks: dict[bytes, int]) -> MergeTable:
        """tiktoken semantics: every split ``t = a + b`` with ``a, b`` tokens merges at rank(t)."""
        table: dict[int, int] = {}
        for token, r in ranks.items():
            for k in range(1, len(token)):
                left = ranks.get(token[:k])
                if left is not None:
                    right = ranks.get(token[k:])
                    if right is not None:
                        table[pair_key(left, right)] = r
        return cls(table, table)


def bpe_merge(ids: list[int], table: MergeTable, max_rank: int = NO_RANK) -> list[int]:
    """Merge ``ids`` (modified in place and returned) by rank; only ranks < ``max_rank`` apply.

    Same loop as tiktoken's ``byte_pair_merge``: keep one rank per adjacent pair, take the
    smallest (leftmost on ties), merge, and re-rank only the two pairs that touch the new token.
    HF's priority-queue BPE picks the same pair at every step (lowest rank, then leftmost).
    """
    get = table.rank.get
    result = None if table.rank is table.result else table.result  # None: the rank is the id
    ranks = [get(a << _SHIFT | b, NO_RANK) for a, b in zip(ids, ids[1:])]
    while ranks:
        best = min(ranks)  # C-speed scan; pieces are short
        if best >= max_rank:
            break
        i = ranks.index(best)
        new = best if result is None else result[ids[i] << _SHIFT | ids[i + 1]]
        ids[i] = new
        del ids[i + 1]
        del ranks[i]
        if i:
            ranks[i - 1] = get(ids[i - 1] << _SHIFT | new, NO_RANK)
        if i < len(ranks):
            ranks[i] = get(new << _SHIFT | ids[i + 1], NO_RANK)
    return ids


def recover_merges(
    ranks: dict[bytes, int], table: MergeTable | None = None
) -> list[tuple[bytes, bytes]]:
    """Turn tiktoken ranks into an HF merges list: one merge per multi-byte token, in rank order.

    For token ``t`` of rank ``r``, run BPE on its bytes using only ranks < r; the two parts left
    are the merge that created it (the same recovery minbpe and Qwen2's tokenizer.json use).
    Raises ValueError if a token cannot be built that way (then the ranks are not a BPE).
    ``table``: ``MergeTable.from_ranks(ranks)`` if already built. Takes seconds for Qwen's 151k.
    """
    table = MergeTable.from_ranks(ranks) if table is None else table
    byte_ids = [ranks[bytes([b])] for b in range(256)]
    id_to_bytes = {r: t for t, r in ranks.items()}
    merges: list[tuple[int, bytes, bytes]] = []
    for token, r in ranks.items():
        if len(token) < 2:
            continue
        parts = bpe_merge([byte_ids[b] for b in token], table, max_rank=r)
        if len(parts) != 2:
            raise ValueError(
                f"token {token!r} (rank {r}) is not the merge of two lower-ranked tokens "
                f"(BPE with ranks < {r} leaves {len(parts)} parts)"
            )
        merges.append((r, id_to_bytes[parts[0]], id_to_bytes[parts[1]]))
    merges.sort()
    return [(a, b) for _, a, b in merges]
