"""Text analyzers: text -> list of index terms, for English, Chinese and mixed text.

One ``Analyzer`` handles mixed text by splitting it into runs of CJK ideographs and everything else:

- non-CJK runs: Unicode word split (letters/digits, ``_`` is a separator), lower-cased, optional Porter
  stemming (``tinyrag.porter``, written from the 1980 paper), optional small English stopword list;
- CJK runs: ``chinese="jieba"`` -> jieba's search-mode segmentation (words plus their in-vocabulary
  sub-words, e.g. 注意力 -> 注意, 注意力), or ``chinese="bigram"`` -> overlapping character bigrams
  (a run of one character gives that character). Both avoid the "whole sentence is one token" failure
  that makes whitespace-split BM25 score every Chinese document 0.

    >>> Analyzer(stem=True)("Qwen2 uses grouped-query attention")
    ['qwen2', 'us', 'group', 'queri', 'attent']
    >>> Analyzer(chinese="bigram")("旋转位置编码")
    ['旋转', '转位', '位置', '置编', '编码']

Limits: jieba's dictionary is loaded lazily on first Chinese text (about 1 s). Kana and Hangul are
treated as ordinary word characters (no Japanese/Korean segmentation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from tinyrag.porter import stem as porter_stem

# CJK Unified Ideographs (+ extension A, compatibility ideographs, extension B-F).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"  # for [...] classes
CJK_CHAR = re.compile(f"[{CJK}]")
_RUNS = re.compile(f"([{CJK}]+)")
_WORD = re.compile(r"[^\W_]+")

# Function words and question words (~90): frequent in questions, uninformative for matching.
ENGLISH_STOPWORDS = frozenset(
    """a about after all also am an and any are as at be been before being both but by can could
    did do does each for from has have he her his how i if in into is it its just may might more
    most no not of on only or other our over own same she should so some such than that the their
    then there these they this to too under very was we were what when where which who whom why
    will with would you your between""".split()
)
# Particles and question words: frequent in questions, uninformative for matching passages.
CHINESE_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 之 其 这 那 有 为 对 被 把 从 等 个 吗 呢 吧 啊 "
    "什么 哪 哪些 哪个 哪里 哪儿 如何 怎么 怎样 为什么 多少 几 谁".split()
)

_jieba = None


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a CJK ideograph (used to pick Chinese prompts and metrics)."""
    return CJK_CHAR.search(text) is not None


def _jieba_search(text: str) -> list[str]:
    global _jieba
    if _jieba is None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)  # its "Building prefix dict" banner goes to stderr
        _jieba = jieba
    return _jieba.lcut_for_search(text, HMM=True)


@dataclass(frozen=True)
class Analyzer:
    """Mixed English/Chinese analyzer; ``Analyzer()(text) -> list[str]`` (terms, in text order)."""

    lowercase: bool = True
    stem: bool = False
    stopwords: bool = True
    chinese: str = "jieba"  # "jieba" | "bigram"

    def __post_init__(self) -> None:
        if self.chinese not in ("jieba", "bigram"):
            raise ValueError(f"Analyzer.chinese must be 'jieba' or 'bigram', got {self.chinese!r}")

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        for i, run in enumerate(_RUNS.split(text)):
            if not run:
                continue
            if i % 2:  # odd pieces of re.split with a capture group are the CJK runs
                out.extend(self._chinese(run))
            else:
                out.extend(self._other(run))
        return out

    def _other(self, run: str) -> Iterable[str]:
        for word in _WORD.findall(run.lower() if self.lowercase else run):
            if self.stopwords and word in ENGLISH_STOPWORDS:
                continue
            yield porter_stem(word) if self.stem else word

    def _chinese(self, run: str) -> Iterable[str]:
        if self.chinese == "bigram":
            if len(run) == 1:
                return [run]
            return [run[i : i + 2] for i in range(len(run) - 1)]
        words = _jieba_search(run)
        if self.stopwords:
            words = [w for w in words if w not in CHINESE_STOPWORDS]
        return words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analyzer:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown analyzer field(s) {sorted(unknown)} (known: {sorted(cls.__dataclass_fields__)})"
            )
        return cls(**d)
