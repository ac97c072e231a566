"""Chinese retrieval: Chinese queries find Chinese passages with non-zero scores."""

from __future__ import annotations

import re

import pytest

from tinyrag.analyzers import Analyzer
from tinyrag.bm25 import BM25

PASSAGES = [
    "Qwen2 使用分组查询注意力（GQA），多个查询头共享同一组键值头，从而减少 KV 缓存的显存占用。",
    "旋转位置编码（RoPE）把位置信息以旋转的方式乘到查询和键向量上，Qwen2 的 rope_theta 为一百万。",
    "RMSNorm 只做均方根归一化，不减去均值，比 LayerNorm 少一次统计量计算。",
    "SwiGLU 激活函数由门控投影和上投影相乘得到，是 Qwen2 前馈网络的核心。",
    "BM25 是一种经典的检索打分函数，考虑词频、逆文档频率和文档长度。",
    "结巴分词是常用的中文分词工具，支持精确模式和搜索引擎模式。",
]
QUERIES = {
    "什么是分组查询注意力？": 0,
    "旋转位置编码是怎么工作的": 1,
    "RMSNorm 和 LayerNorm 有什么区别": 2,
    "前馈网络用的激活函数": 3,
    "检索打分函数考虑哪些因素": 4,
    "中文分词工具有哪些模式": 5,
}


@pytest.mark.parametrize("chinese", ["jieba", "bigram"])
def test_chinese_queries_retrieve_their_passage(chinese: str) -> None:
    an = Analyzer(chinese=chinese)
    bm = BM25.fit([an(p) for p in PASSAGES])
    for q, want in QUERIES.items():
        ids, scores = bm.search(an(q), k=3)
        assert ids[0] == want, (q, ids, scores)
        assert scores[0] > 0
        if len(scores) > 1:
            assert scores[0] > scores[1]


def test_whitespace_tokens_would_collapse_to_zero() -> None:
    """The failure users report elsewhere: str.split() makes each Chinese sentence one token."""
    naive = BM25.fit([p.split() for p in PASSAGES])
    chinese_only = [q for q in QUERIES if not re.search("[A-Za-z]", q)]
    assert len(chinese_only) == 5
    assert all((naive.get_scores(q.split()) == 0).all() for q in chinese_only)
    an = Analyzer()
    ours = BM25.fit([an(p) for p in PASSAGES])
    assert all(ours.get_scores(an(q)).max() > 0 for q in QUERIES)
