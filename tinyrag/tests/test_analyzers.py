"""Analyzers: the hand-written Porter stemmer equals NLTK's ORIGINAL_ALGORITHM; Chinese/mixed text."""

from __future__ import annotations

import re

import pytest
from conftest import DATA

from tinyrag.analyzers import Analyzer
from tinyrag.porter import stem

# words exercising every step of the paper (plurals, -ed/-ing clean-up, y->i, steps 2-5)
WORDS = """caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled
sized hopping tanned falling hissing fizzed failing filing happy sky relational conditional rational
valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli vietnamization
predication operator feudalism decisiveness hopefulness callousness formaliti sensitiviti sensibiliti
triplicate formative formalize electriciti electrical hopeful goodness revival allowance inference
airliner gyroscopic adjustable defensible irritant replacement adjustment dependent adoption homologou
communism activate angulariti homologous effective bowdlerize probate rate cease controll roll
generalizations oscillators yes as is a sky syzygy""".split()


def test_porter_equals_nltk_original_algorithm() -> None:
    nltk_stem = pytest.importorskip("nltk.stem")
    ref = nltk_stem.PorterStemmer(mode=nltk_stem.PorterStemmer.ORIGINAL_ALGORITHM)
    words = set(WORDS)
    path = DATA / "cranfield" / "cran.all.1400"
    if path.is_file():  # + the ~8,000 distinct words of Cranfield
        words |= set(re.findall(r"[a-z]+", path.read_text(encoding="latin-1").lower()))
    diffs = [(w, stem(w), ref.stem(w)) for w in sorted(words) if stem(w) != ref.stem(w)]
    assert diffs == []


def test_porter_paper_examples() -> None:
    assert [stem(w) for w in ["caresses", "ponies", "agreed", "hopping", "filing", "happy"]] == [
        "caress", "poni", "agre", "hop", "file", "happi",
    ]  # fmt: skip
    assert (
        stem("generalizations") == "gener" and stem("qwen2") == "qwen2" and stem("模型") == "模型"
    )


def test_english_lowercase_split_stopwords_stem() -> None:
    assert Analyzer()("The Grouped-Query Attention of Qwen2") == [
        "grouped",
        "query",
        "attention",
        "qwen2",
    ]
    assert Analyzer(stem=True)("The Grouped-Query Attention") == ["group", "queri", "attent"]
    assert Analyzer(stopwords=False)("the_end") == ["the", "end"]


def test_chinese_jieba_words_and_bigrams() -> None:
    words = Analyzer()("分组查询注意力减少了显存占用")
    assert {"分组", "查询", "注意力", "显存"} <= set(words)
    assert "了" not in words  # particle dropped by the stopword list
    assert Analyzer(chinese="bigram")("位置编码") == ["位置", "置编", "编码"]
    assert Analyzer(chinese="bigram")("的") == ["的"]


def test_mixed_text_keeps_both_scripts() -> None:
    toks = Analyzer()("Qwen2 使用 RoPE 旋转位置编码，theta=1000000。")
    assert toks[:2] == ["qwen2", "使用"]
    assert {"rope", "旋转", "位置", "编码", "theta", "1000000"} <= set(toks)


def test_analyzer_config_roundtrip_and_errors() -> None:
    a = Analyzer(stem=True, chinese="bigram")
    assert Analyzer.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="chinese"):
        Analyzer(chinese="thulac")
    with pytest.raises(ValueError, match="unknown analyzer field"):
        Analyzer.from_dict({"stemmer": "porter"})
