"""Answer normalisation shared by the QA metrics (LongBench / SQuAD v1.1 rules).

``normalize_answer`` is the SQuAD v1.1 rule that LongBench copies: lower-case, drop ASCII
punctuation, drop the English articles a/an/the, collapse whitespace.
``normalize_zh_answer`` is LongBench's Chinese rule: lower-case, drop ASCII and CJK punctuation,
drop *all* whitespace (Chinese has no word spaces).

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    >>> normalize_zh_answer("答案： 厦门 大学。")
    '答案厦门大学'

Limits: the punctuation sets are exactly the references' sets (ASCII ``string.punctuation`` plus
LongBench's CJK list); other Unicode punctuation (e.g. ``·`` or ``«``) is kept, as in the references.
"""

from __future__ import annotations

import re
import string

_ASCII_PUNCT = frozenset(string.punctuation)
# LongBench metrics.py, normalize_zh_answer: the CJK punctuation list, verbatim (note the final ".").
CN_PUNCTUATION = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
_ALL_PUNCT = frozenset(string.punctuation + CN_PUNCTUATION)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Lower-case, remove ASCII punctuation, articles and extra whitespace (SQuAD v1.1)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _ASCII_PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def normalize_zh_answer(s: str) -> str:
    """Lower-case, remove ASCII + CJK punctuation and every whitespace character (LongBench zh)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _ALL_PUNCT)
    return "".join(s.split())
