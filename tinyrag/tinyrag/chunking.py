"""Token-budgeted chunking with overlap that prefers sentence and paragraph boundaries.

A document's text is cut into sentence spans -- after 。！？；, after !?;. followed by a space, at
blank lines, and at line breaks that start a list item, heading, table row, quote or code fence --
then packed greedily into chunks of at most ``max_tokens`` tokens. When a chunk is at least half
full and a paragraph break (blank line) falls inside it, the chunk ends at the last such break
instead of mid-paragraph. Consecutive chunks share up to ``overlap`` tokens of whole sentences.
A sentence longer than the budget is split at clause marks (，、：,:), then by token count.

Markdown (``markdown=True``): a heading line starts a new chunk, and every chunk carries its heading
path, e.g. ``["tinyrag", "English", "Index"]``. Headings inside ``` fences are ignored.

Offsets: ``chunk.text == text[chunk.start:chunk.end]`` always (character offsets, whitespace trimmed
at both ends); offsets are Python ``str`` indices, so a cut can never fall inside a UTF-8 character.

Token counting: with a tokenizer (anything with ``encode(str) -> list[int]``, e.g.
``tinyqwen.Tokenizer``) chunks are measured exactly in its tokens. Without one, ``approx_tokens``
counts each CJK character, each word (run of letters/digits) and each punctuation mark as one token --
within ~30% of Qwen2's BPE on Chinese and English prose, and free of any model download.

    >>> [c.text for c in chunk_text("第一句。第二句！Third one. Fourth?", max_tokens=8, overlap=0)]
    ['第一句。第二句！', 'Third one. Fourth?']

Limits: sentence splitting is rule-based (abbreviations such as "e.g. x" end a sentence; 3.14 does
not). Chunk token counts with a tokenizer are exact; the overlap is measured per sentence.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from tinyrag.analyzers import CJK

_APPROX = re.compile(f"[{CJK}]|[^\\W_]+|[^\\w\\s]")
# End of a sentence: CJK/ASCII terminal marks (+ closing quotes/brackets), ". " style, a blank line,
# or a newline before a block (list item, heading, table row, quote, code fence). Any other single
# newline is a soft wrap inside a paragraph and does not end the sentence.
_SENT_END = re.compile(
    r"[。！？；]+[”’」』）)\]\"']*\s*"
    r"|[!?;]+[”’\"')\]]*(?:\s+|$)"
    r"|(?<=[^\W\d_])\.[”’\"')\]]*(?:\s+|$)"
    r"|\n[ \t]*\n\s*"
    r"|\n(?=[ \t]*(?:[-*+>|#]|\d+[.)]\s|```|~~~|!\[))"
)
# A sentence or clause longer than this many characters per budget token is cut by _hard_split
# directly (counting it whole first would cost time and memory for nothing).
_LONG_CHARS = 64
_CLAUSE_END = re.compile(r"[，、：,:]\s*")
_PARA = re.compile(r"\n[ \t]*\n")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.M)


def approx_tokens(text: str) -> int:
    """Model-free token estimate: 1 per CJK character, word, or punctuation mark."""
    return len(_APPROX.findall(text))


class _Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


@dataclass
class Chunk:
    """A piece of a document: ``text == document_text[start:end]``."""

    text: str
    start: int
    end: int
    n_tokens: int
    heading_path: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chunker:
    """Chunking settings (stored in the index manifest so a changed setting re-chunks)."""

    max_tokens: int = 256
    overlap: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError(f"Chunker.max_tokens must be >= 8, got {self.max_tokens}")
        if not 0 <= self.overlap < self.max_tokens // 2 + 1:
            raise ValueError(
                f"Chunker.overlap must be in [0, max_tokens/2], got {self.overlap} "
                f"(max_tokens={self.max_tokens})"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "overlap": self.overlap}

    def chunk(
        self, text: str, markdown: bool = False, tokenizer: _Encoder | None = None
    ) -> list[Chunk]:
        count: Callable[[str], int] = (
            approx_tokens if tokenizer is None else (lambda s: len(tokenizer.encode(s)))
        )
        out: list[Chunk] = []
        for s, e, path in _sections(text) if markdown else [(0, len(text), [])]:
            out.extend(self._pack(text, s, e, path, count))
        return out

    def _pack(
        self, text: str, s: int, e: int, path: list[str], count: Callable[[str], int]
    ) -> list[Chunk]:
        units = []  # (start, end, tokens, starts_paragraph)
        for us, ue, para in iter_sentences(text, s, e):
            # a run far longer than any chunk is split without counting it whole (linear time)
            n = count(text[us:ue]) if ue - us <= _LONG_CHARS * self.max_tokens else -1
            if n == 0:
                continue
            if 0 < n <= self.max_tokens:
                units.append((us, ue, n, para))
            else:
                pieces = _split_long(text, us, ue, self.max_tokens, count)
                units.extend((ps, pe, n, para and i == 0) for i, (ps, pe, n) in enumerate(pieces))
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and (j == i or total + units[j][2] <= self.max_tokens):
                total += units[j][2]
                j += 1
            if j < len(units):  # prefer ending at the last paragraph break past half the budget
                run = 0
                best = None
                for p in range(i, j):
                    if p > i and units[p][3] and run >= self.max_tokens // 2:
                        best = p
                    run += units[p][2]
                j = best or j
            chunk = self._make(text, units, i, j, path, count)
            while chunk.n_tokens > self.max_tokens and j - i > 1:  # BPE merges across joins
                j -= 1
                chunk = self._make(text, units, i, j, path, count)
            chunks.append(chunk)
            if j >= len(units):
                break
            o, back = j, 0  # overlap: whole sentences from the end, never the chunk's first
            while o - 1 > i and back + units[o - 1][2] <= self.overlap:
                back += units[o - 1][2]
                o -= 1
            i = o
        return chunks

    @staticmethod
    def _make(text: str, units: list, i: int, j: int, path: list[str], count) -> Chunk:
        start, end = _trim(text, units[i][0], units[j - 1][1])
        return Chunk(text[start:end], start, end, count(text[start:end]), list(path))


def chunk_text(
    text: str,
    max_tokens: int = 256,
    overlap: int = 32,
    markdown: bool = False,
    tokenizer: _Encoder | None = None,
) -> list[Chunk]:
    """Convenience wrapper: ``Chunker(max_tokens, overlap).chunk(text, markdown, tokenizer)``."""
    return Chunker(max_tokens, overlap).chunk(text, markdown, tokenizer)


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def split_sentences(text: str, s: int, e: int) -> list[tuple[int, int, bool]]:
    """Sentence spans tiling text[s:e] (each keeps its trailing whitespace) + 'starts a paragraph'."""
    return list(iter_sentences(text, s, e))


def iter_sentences(text: str, s: int, e: int) -> Iterator[tuple[int, int, bool]]:
    """``split_sentences`` one span at a time (a 20 MB text never holds all its spans twice)."""
    pos = s
    para = True
    for m in _SENT_END.finditer(text, s, e):
        if m.end() > pos:
            if not text[pos : m.end()].isspace():
                yield pos, m.end(), para
            para = bool(_PARA.search(text, m.start(), m.end())) or "\n\n" in m.group()
            pos = m.end()
    if pos < e and not text[pos:e].isspace():
        yield pos, e, para


def _split_long(
    text: str, s: int, e: int, max_tokens: int, count: Callable[[str], int]
) -> list[tuple[int, int, int]]:
    """Split an over-long sentence at clause marks, then by token count; returns (s, e, tokens)."""
    out: list[tuple[int, int, int]] = []
    cuts = [m.end() for m in _CLAUSE_END.finditer(text, s, e)] + [e]
    a = s
    for b in cuts:
        if b <= a:
            continue
        if b - a > _LONG_CHARS * max_tokens:  # no need to count a run this long: it must be cut
            out.extend(_hard_split(text, a, b, max_tokens, count))
            a = b
            continue
        piece_n = count(text[a:b])
        if out and out[-1][2] + piece_n <= max_tokens:  # merge small clauses back together
            ps, _, pn = out.pop()
            out.append((ps, b, count(text[ps:b])))
        elif piece_n <= max_tokens:
            out.append((a, b, piece_n))
        else:
            out.extend(_hard_split(text, a, b, max_tokens, count))
        a = b
    return out


def _hard_split(
    text: str, s: int, e: int, max_tokens: int, count: Callable[[str], int]
) -> list[tuple[int, int, int]]:
    """Cut text[s:e] (no clause marks left) into longest prefixes within the budget.

    Linear time: each cut looks only a few chunk-lengths ahead of ``s``. With ``approx_tokens`` the
    cut is read off the token matches directly (the start of token ``max_tokens + 1``); with a
    tokenizer, a window doubles until it overflows the budget and a binary search runs inside it
    (the same cut as a search over the whole rest, for a count that grows with the prefix).
    """
    out = []
    while s < e:
        n = None  # the cut's token count, when the search already knows it
        if count is approx_tokens:
            cut, n = _approx_cut(text, s, e, max_tokens)
        else:
            cut = _search_cut(text, s, e, max_tokens, count)
        if cut < e:  # back off to a space so English words stay whole, if one is near
            space = text.rfind(" ", s, cut)
            if space > s + (cut - s) // 2:
                cut, n = space + 1, None
        out.append((s, cut, count(text[s:cut]) if n is None else n))
        s = cut
    return out


def _approx_cut(text: str, s: int, e: int, max_tokens: int) -> tuple[int, int]:
    """(largest cut with ``approx_tokens(text[s:cut]) <= max_tokens``, its count): the cut is where
    token max+1 starts.

    A prefix cut inside a word still counts that word, so the count of text[s:cut] is the number of
    matches starting before ``cut`` (all alternatives of ``_APPROX`` are single characters or
    maximal runs, so truncation never moves a match start).
    """
    for i, m in enumerate(_APPROX.finditer(text, s, e)):
        if i == max_tokens:
            return m.start(), max_tokens
    return e, approx_tokens(text[s:e])


def _search_cut(text: str, s: int, e: int, max_tokens: int, count: Callable[[str], int]) -> int:
    """Largest cut with ``count(text[s:cut]) <= max_tokens`` (at least s + 1), by galloping search."""
    width = 4 * max_tokens + 8
    while s + width < e and count(text[s : s + width]) <= max_tokens:
        width *= 2
    lo, hi = s + 1, min(s + width, e)
    if hi == e and count(text[s:e]) <= max_tokens:
        return e
    hi -= 1 if hi < e else 0  # text[s:s+width] overflowed: the cut is before it
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[s:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _sections(text: str) -> list[tuple[int, int, list[str]]]:
    """Markdown sections (start, end, heading path); a heading line belongs to its own section."""
    # fence lines alternate open/close: a heading is inside a fence when an odd number of fence
    # lines start before it (an unclosed fence runs to the end of the text)
    fences = [m.start() for m in _FENCE.finditer(text)]
    heads = [m for m in _HEADING.finditer(text) if bisect.bisect_right(fences, m.start()) % 2 == 0]
    out = []
    stack: list[tuple[int, str]] = []
    start, path = 0, []
    for m in heads:
        if m.start() > start:
            out.append((start, m.start(), path))
        level = len(m.group(1))
        stack = [(lv, t) for lv, t in stack if lv < level] + [(level, m.group(2).strip())]
        start, path = m.start(), [t for _, t in stack]
    out.append((start, len(text), path))
    return out
