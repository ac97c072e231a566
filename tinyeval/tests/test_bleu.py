"""Proof: hand-written BLEU and tokenisers equal sacrebleu (13a, zh; corpus, sentence; every
smoothing) on real predictions and adversarial strings, to 1e-9."""

from __future__ import annotations

import random

import pytest
from conftest import data_path

from tinyeval.metrics.bleu import corpus_bleu, sentence_bleu, tokenize_13a, tokenize_zh

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # noqa: E402
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh  # noqa: E402

from tinyeval.score import read_predictions  # noqa: E402

TOL = 1e-9
ADV = [
    "",
    " ",
    ".",
    "...",
    "a",
    "&amp; &lt;tag&gt; &quot;x&quot;",
    "3.5 - 4,000.",
    "e-\nmail",
    "<skipped>",
    "Hello, 世界！你好 world.",
    "“引号”—破折号…",
    "ＡＢＣ１２３",
    "\u2001\u2a6d\u2a6e\u2f81\u2fa1\u2fa2",
    "x" * 500,
    "The cat sat on the mat.",
    "the cat is on the mat",
    "北京天安门",
    "我爱北京天安门。",
]


def _rand(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(ADV) for _ in range(rng.randint(0, 6))) for _ in range(n)]


@pytest.mark.parametrize("text", ADV + _rand(200, 0))
def test_tokenizers_equal_sacrebleu(text: str) -> None:
    assert tokenize_13a(text) == Tokenizer13a()(text)
    assert tokenize_zh(text) == TokenizerZh()(text)


def _same(ours, theirs) -> None:
    assert ours.score == pytest.approx(theirs.score, abs=TOL)
    assert ours.counts == list(theirs.counts) and ours.totals == list(theirs.totals)
    assert ours.sys_len == theirs.sys_len and ours.ref_len == theirs.ref_len
    assert ours.bp == pytest.approx(theirs.bp, abs=TOL)


@pytest.mark.parametrize("tok", ["13a", "zh"])
@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_corpus_and_sentence_adversarial(tok: str, smooth: str) -> None:
    hyps, r1, r2 = _rand(60, 1), _rand(60, 2), _rand(60, 3)
    for eff in (False, True):
        ours = corpus_bleu(
            hyps, [r1, r2], tokenize=tok, smooth_method=smooth, use_effective_order=eff
        )
        theirs = sacrebleu.corpus_bleu(
            hyps, [r1, r2], tokenize=tok, smooth_method=smooth, use_effective_order=eff
        )
        _same(ours, theirs)
    for h, a, b in zip(hyps, r1, r2):
        _same(
            sentence_bleu(h, [a, b], tokenize=tok, smooth_method=smooth),
            sacrebleu.sentence_bleu(h, [a, b], tokenize=tok, smooth_method=smooth),
        )


def test_real_predictions() -> None:
    news = read_predictions(data_path("tinyeval", "pred", "internlm", "multi_news.jsonl"))[:120]
    zh = read_predictions(data_path("tinyeval", "pred", "internlm", "multifieldqa_zh.jsonl"))
    for recs, tok in [(news, "13a"), (zh, "zh")]:
        hyps = [r["pred"] for r in recs]
        refs = [[r["answers"][0] for r in recs]]
        _same(
            corpus_bleu(hyps, refs, tokenize=tok), sacrebleu.corpus_bleu(hyps, refs, tokenize=tok)
        )
        for r in recs[:150]:
            _same(
                sentence_bleu(r["pred"], r["answers"], tokenize=tok),
                sacrebleu.sentence_bleu(r["pred"], r["answers"], tokenize=tok),
            )


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="reference stream 0"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="tokenize"):
        corpus_bleu(["a"], [["a"]], tokenize="intl")
    with pytest.raises(TypeError):
        sentence_bleu("a", "a")  # type: ignore[arg-type]
