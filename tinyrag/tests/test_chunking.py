"""Chunking: exact offsets, token budget, sentence/paragraph preference, headings, overlap."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyrag.chunking import Chunker, approx_tokens, chunk_text

ZH = "Qwen2 使用分组查询注意力。多个查询头共享键值头！这样可以节省显存；推理更快？"
EN = "Rotary embeddings rotate queries and keys. They encode relative positions! Is that all? No."


class ByteTokenizer:
    """One token per UTF-8 byte: the harshest tokenizer for 'never cut inside a character'."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))


def _check(text: str, chunks, max_tokens: int, count) -> None:
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert c.n_tokens == count(c.text) <= max_tokens or len(c.text) == 1
    # every non-space character is covered by some chunk
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # chunks advance
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                "第一句。",
                "Second one. ",
                "很长很长很长很长的句子，",
                "\n\n",
                "\n",
                "# 标题\n",
                "word ",
                "！",
                "🙂",
                "  ",
            ]
        ),
        max_size=80,
    ),
    max_tokens=st.integers(8, 40),
    overlap=st.integers(0, 4),
    markdown=st.booleans(),
)
def test_offsets_map_back_exactly(parts, max_tokens, overlap, markdown) -> None:
    text = "".join(parts)
    chunks = chunk_text(text, max_tokens=max_tokens, overlap=overlap, markdown=markdown)
    _check(text, chunks, max_tokens, approx_tokens)


def test_tokenizer_budget_is_exact_and_never_splits_a_character() -> None:
    text = (ZH + EN + "🙂表情符号也要完整。") * 6
    tok = ByteTokenizer()
    chunks = chunk_text(text, max_tokens=40, overlap=8, tokenizer=tok)
    _check(text, chunks, 40, lambda s: len(tok.encode(s)))
    for c in chunks:
        c.text.encode("utf-8").decode("utf-8")  # whole characters only
        assert "\ufffd" not in c.text


def test_prefers_sentence_boundaries() -> None:
    text = (ZH + " " + EN + " ") * 8
    chunks = chunk_text(text, max_tokens=30, overlap=0)
    assert len(chunks) > 3
    assert all(re.search(r"[。！？；.!?]$", c.text) for c in chunks)


def test_prefers_paragraph_boundaries() -> None:
    para1 = "第一段第一句。第一段第二句。第一段第三句。"
    para2 = "第二段第一句。第二段第二句。第二段第三句。第二段第四句。"
    text = para1 + "\n\n" + para2
    # budget fits para1 + half of para2: the chunk should stop at the paragraph break
    chunks = chunk_text(text, max_tokens=approx_tokens(para1) + 10, overlap=0)
    assert chunks[0].text == para1


def test_overlap_repeats_whole_sentences() -> None:
    sents = [f"第{i}句话在这里。" for i in range(20)]
    text = "".join(sents)
    chunks = chunk_text(text, max_tokens=30, overlap=8)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # shared text
        assert text[b.start : a.end] in sents or text[b.start : a.end].endswith("。")


def test_markdown_heading_paths() -> None:
    md = "# Qwen2\n\n简介。\n\n## 注意力\n\nGQA 共享键值头。\n\n```\n# not a heading\n```\n\n### 掩码\n\n因果掩码。\n\n## MLP\n\nSwiGLU。\n"
    chunks = chunk_text(md, max_tokens=200, overlap=0, markdown=True)
    paths = [c.heading_path for c in chunks]
    assert paths == [["Qwen2"], ["Qwen2", "注意力"], ["Qwen2", "注意力", "掩码"], ["Qwen2", "MLP"]]
    assert "# not a heading" in chunks[1].text
    _check(md, chunks, 200, approx_tokens)


def test_long_sentence_is_split_within_budget() -> None:
    text = "这是一个没有任何标点的非常长的句子" * 20 + "。"
    chunks = chunk_text(text, max_tokens=16, overlap=0)
    _check(text, chunks, 16, approx_tokens)
    assert "".join(c.text for c in chunks) == text


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        Chunker(max_tokens=2)
    with pytest.raises(ValueError, match="overlap"):
        Chunker(max_tokens=64, overlap=60)


def _reference_hard_split(text, s, e, max_tokens, count):
    """The pre-fix _hard_split: a binary search over the whole rest at each cut (quadratic)."""
    out = []
    while s < e:
        lo, hi = s + 1, e
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[s:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        if cut < e:
            space = text.rfind(" ", s, cut)
            if space > s + (cut - s) // 2:
                cut = space + 1
        out.append((s, cut, count(text[s:cut])))
        s = cut
    return out


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["没有标点", "word", " ", "🙂", "x" * 30, "  ", "数字123", "-", "汉"]),
        min_size=1,
        max_size=120,
    ),
    max_tokens=st.integers(1, 24),
    byte_tokens=st.booleans(),
)
def test_hard_split_matches_the_whole_rest_binary_search(parts, max_tokens, byte_tokens) -> None:
    """The linear-time cuts equal the old quadratic search's cuts (for both kinds of count)."""
    from tinyrag.chunking import _hard_split

    text = "".join(parts)
    count = (lambda s: len(s.encode("utf-8"))) if byte_tokens else approx_tokens
    got = _hard_split(text, 0, len(text), max_tokens, count)
    assert got == _reference_hard_split(text, 0, len(text), max_tokens, count)


def test_unpunctuated_text_is_chunked_in_linear_time() -> None:
    """400k characters without any punctuation: the old search needed minutes, now well under 1 s
    of work (a structural check -- the count calls stay proportional to the text, not its square)."""
    calls = []

    class Counting:
        def encode(self, text: str) -> list[int]:
            calls.append(len(text))
            return list(text.encode("utf-8"))

    text = "没有标点的长文本" * 50_000
    chunks = chunk_text(text, max_tokens=64, overlap=0, tokenizer=Counting())
    assert "".join(c.text for c in chunks) == text
    assert sum(calls) < 40 * len(text.encode("utf-8"))  # the old search: ~len**2 / (2 * chunk)
    plain = chunk_text(text, max_tokens=64, overlap=0)
    assert "".join(c.text for c in plain) == text
