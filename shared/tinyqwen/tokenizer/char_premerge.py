"""An exact shortcut for BPE on multi-byte characters: merge inside a character first, when safe.

A Chinese character is 3 UTF-8 bytes, so a 30-character pre-token starts as 90 byte tokens and
spends ~60 of its merges gluing bytes back into characters. Doing those merges once per
character (in its context), up front, gives the *same* result as plain BPE when this holds:

    every merge that could join a part of character ``c`` (a head missing its tail, a tail
    missing its head, or the merged ``c`` itself) with the neighbouring text ranks after all
    merges inside ``c``.

Proof sketch: while ``c`` is unfinished, its next internal merge ranks lower than any pair that
crosses its boundary, so BPE (lowest rank first) never picks a crossing pair, and merges
elsewhere do not touch c's internal pairs; so c's internal merges happen exactly as they would
alone, and every other merge made meanwhile ranks at most as high as c's highest internal one.
Starting with ``c`` merged, c's pairs with its neighbours rank higher than that, so the other
merges happen in the same order, and both runs meet once plain BPE finishes ``c``. Repeat per
character. "Could join with the neighbour": any token ending with the byte just before ``c``
(resp. starting with the byte just after it); looking at more than that is merely stricter.

    >>> from tinyqwen.tokenizer import Tokenizer
    >>> tok = Tokenizer.from_pretrained("tiny-random")
    >>> tok._premerge.initial_ids("你好")     # one id per character instead of six byte ids
    [1295, 873]

Per character we cache its merged ids and the sets of neighbouring bytes for which the
condition fails; next to such a byte the character starts as plain bytes. With Qwen's vocabulary ~95% of the within-character merges of the test corpus are done
this way; cold-cache encoding gets ~25% faster.
``tests/test_tokenizer_qwen.py`` compares this path with plain BPE and with tiktoken.
"""

from __future__ import annotations

from tinyqwen.tokenizer.bpe import _SHIFT, NO_RANK, MergeTable

_MASK = (1 << _SHIFT) - 1
_CACHE_MAX = 1 << 18


def _is_partial_head(b: bytes) -> bool:
    """A lead byte followed by fewer continuation bytes than it announces (b"\\xe4\\xbd")."""
    if not b or not 0xC0 <= b[0] <= 0xF7 or any(not 0x80 <= x <= 0xBF for x in b[1:]):
        return False
    need = 2 if b[0] < 0xE0 else 3 if b[0] < 0xF0 else 4
    return len(b) < need


def _is_partial_tail(b: bytes) -> bool:
    """1-3 continuation bytes only: the end of a character without its lead byte."""
    return 0 < len(b) <= 3 and all(0x80 <= x <= 0xBF for x in b)


def _is_one_char(b: bytes) -> bool:
    """Exactly one multi-byte UTF-8 character."""
    try:
        return len(b) > 1 and len(b.decode("utf-8")) == 1
    except UnicodeDecodeError:
        return False


class CharPremerge:
    """Initial token ids for a pre-token: per character, pre-merged when provably safe."""

    def __init__(self, table: MergeTable, vocab: dict[bytes, int], byte_ids: list[int]) -> None:
        self._table = table
        self._vocab = vocab
        self._byte_ids = byte_ids
        # char -> (pre-merged ids, byte ids, bytes before it / after it that make merging unsafe)
        self._chars: dict[str, tuple[list[int], list[int], frozenset[int], frozenset[int]]] = {}
        # head id -> {byte: lowest rank of a merge (token ending in byte, head)}, and
        # tail id -> {byte: lowest rank of a merge (tail, token starting with byte)}.
        self._cross_left: dict[int, dict[int, int]] | None = None
        self._cross_right: dict[int, dict[int, int]] = {}

    def clear(self) -> None:
        """Drop the per-character cache (the merge-table scan is kept)."""
        self._chars.clear()

    def initial_ids(self, piece: str) -> list[int]:
        """Ids to start BPE from; merging them gives what merging the UTF-8 bytes gives."""
        chars = self._chars
        byte_ids = self._byte_ids
        ids: list[int] = []
        for i, ch in enumerate(piece):
            if ch < "\x80":
                ids.append(byte_ids[ord(ch)])
                continue
            entry = chars.get(ch)
            if entry is None:
                entry = self._analyse(ch)
            merged, raw, unsafe_before, unsafe_after = entry
            if (
                unsafe_before
                and i > 0
                and piece[i - 1].encode("utf-8")[-1] in unsafe_before
                or unsafe_after
                and i + 1 < len(piece)
                and piece[i + 1].encode("utf-8")[0] in unsafe_after
            ):
                ids += raw
            else:
                ids += merged
        return ids

    def _analyse(self, ch: str) -> tuple[list[int], list[int], frozenset[int], frozenset[int]]:
        if self._cross_left is None:
            self._scan_table()
        assert self._cross_left is not None
        data = ch.encode("utf-8")
        raw = [self._byte_ids[b] for b in data]
        merged, max_rank = self._merge_alone(list(raw))
        # Every token c can show its neighbour: a head or tail while unfinished, or c itself
        # once merged (the shortcut puts c's pairs with its neighbours on the table earlier).
        heads = {self._vocab.get(data[:k]) for k in range(1, len(data) + 1)} - {None}
        tails = {self._vocab.get(data[k:]) for k in range(len(data))} - {None}
        left, right = self._cross_left, self._cross_right
        unsafe_before = frozenset(
            byte for h in heads for byte, r in left.get(h, {}).items() if r <= max_rank
        )
        unsafe_after = frozenset(
            byte for t in tails for byte, r in right.get(t, {}).items() if r <= max_rank
        )
        entry = (merged, raw, unsafe_before, unsafe_after)
        if len(self._chars) >= _CACHE_MAX:
            self._chars.clear()
        self._chars[ch] = entry
        return entry

    def _merge_alone(self, ids: list[int]) -> tuple[list[int], int]:
        """BPE of one character's bytes (the bpe_merge loop), and the highest rank it used."""
        rank, result = self._table.rank, self._table.result
        max_rank = -1
        while len(ids) > 1:
            ranks = [rank.get(a << _SHIFT | b, NO_RANK) for a, b in zip(ids, ids[1:])]
            best = min(ranks)
            if best == NO_RANK:
                break
            max_rank = max(max_rank, best)
            i = ranks.index(best)
            ids[i : i + 2] = [result[ids[i] << _SHIFT | ids[i + 1]]]
        return ids, max_rank

    def _scan_table(self) -> None:
        """One pass over all merges (~0.2 s for Qwen's), on the first non-ASCII character."""
        id_bytes = {i: t for t, i in self._vocab.items()}
        heads = {i for i, t in id_bytes.items() if _is_partial_head(t) or _is_one_char(t)}
        tails = {i for i, t in id_bytes.items() if _is_partial_tail(t) or _is_one_char(t)}
        left: dict[int, dict[int, int]] = {}
        right: dict[int, dict[int, int]] = {}
        for key, r in self._table.rank.items():
            a, b = key >> _SHIFT, key & _MASK
            if b in heads:
                by_byte = left.setdefault(b, {})
                byte = id_bytes[a][-1]
                by_byte[byte] = min(r, by_byte.get(byte, NO_RANK))
            if a in tails:
                by_byte = right.setdefault(a, {})
                byte = id_bytes[b][0]
                by_byte[byte] = min(r, by_byte.get(byte, NO_RANK))
        self._cross_left, self._cross_right = left, right
