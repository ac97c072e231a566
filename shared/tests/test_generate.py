"""generate / stream_generate: sampling controls against transformers' logits processors, stop ids,
seeds, streaming, the one-cache-per-call rule, and input errors. (Greedy parity with transformers'
``generate`` and batched == unbatched are in test_model_parity.py.)"""

from __future__ import annotations

import pytest
import torch
from conftest import make_hf_checkpoint

import tinyqwen.generation as gen
from tinyqwen.generation import (
    apply_repetition_penalty,
    generate,
    sample_next_token,
    stream_generate,
    warp_logits,
)
from tinyqwen.model import Qwen2ForCausalLM

PROMPTS = [[11, 42, 7, 300, 5], [9, 8, 250, 4, 100, 3, 77, 12, 64]]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path, hf = make_hf_checkpoint(tmp_path_factory.mktemp("gen"), seed=3, num_hidden_layers=2)
    return Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32), hf


def test_warpers_match_transformers():
    from transformers.generation.logits_process import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1000, generator=g) * 3
    ids = torch.randint(0, 1000, (4, 30), generator=g)
    for temperature, top_k, top_p in [(0.7, 0, 1.0), (1.0, 50, 1.0), (1.3, 0, 0.9), (0.5, 20, 0.8)]:
        want = TemperatureLogitsWarper(temperature)(ids, logits.clone())
        if top_k:
            want = TopKLogitsWarper(top_k)(ids, want)
        if top_p < 1:
            want = TopPLogitsWarper(top_p)(ids, want)
        got = warp_logits(logits, temperature, top_k, top_p)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), (temperature, top_k, top_p)
        assert torch.allclose(got[~got.isinf()], want[~want.isinf()], atol=1e-6)
        assert (~got.isinf()).sum(-1).min() >= 1
    seen = torch.zeros(4, 1000, dtype=torch.bool).scatter_(1, ids, True)
    want = RepetitionPenaltyLogitsProcessor(1.3)(ids, logits.clone())
    assert torch.allclose(apply_repetition_penalty(logits, seen, 1.3), want)


def test_sampling_follows_the_warped_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    g = torch.Generator().manual_seed(0)
    n = 20000
    draws = sample_next_token(logits.expand(n, -1), 0.8, 4, 0.95, g)  # n independent rows
    freq = torch.bincount(draws.flatten(), minlength=6).float() / n
    want = warp_logits(logits, 0.8, 4, 0.95).softmax(-1)[0]
    assert freq[4:].sum() == 0  # outside top-k never drawn
    assert (freq - want).abs().max() < 0.015  # ~4 standard errors at n = 20000


def test_repetition_penalty_matches_transformers_generate(models):
    ours, hf = models
    for p in PROMPTS:
        want = hf.generate(
            torch.tensor([p]),
            max_new_tokens=20,
            do_sample=False,
            repetition_penalty=1.5,
            pad_token_id=0,
        )[0, len(p) :].tolist()
        assert generate(ours, [p], max_new_tokens=20, repetition_penalty=1.5) == [want]
    # batched rows are penalised only by their own tokens, never by the padding (pad id 0 is also
    # a real token of the short prompt here, which must stay penalised)
    prompts = [[0, 11, 0, 42], PROMPTS[1]]
    assert generate(ours, prompts, max_new_tokens=20, repetition_penalty=1.5) == [
        generate(ours, [p], max_new_tokens=20, repetition_penalty=1.5)[0] for p in prompts
    ]


def test_stop_token_ids_end_each_row_and_are_excluded(models):
    ours, _ = models
    free = generate(ours, PROMPTS, max_new_tokens=24)
    stop = free[0][5]
    got = generate(ours, PROMPTS, max_new_tokens=24, stop_token_ids=[stop])
    for row, out in zip(free, got):
        want = row[: row.index(stop)] if stop in row else row
        assert out == want
    assert len(got[0]) == free[0].index(stop) <= 5
    # a stop token as the very first choice gives an empty continuation
    assert generate(ours, PROMPTS[:1], max_new_tokens=8, stop_token_ids=[free[0][0]]) == [[]]


def test_max_new_tokens(models):
    ours, _ = models
    assert [len(r) for r in generate(ours, PROMPTS, max_new_tokens=7)] == [7, 7]
    assert generate(ours, PROMPTS, max_new_tokens=0) == [[], []]


def test_seed_makes_sampling_reproducible(models):
    ours, _ = models
    kw = dict(max_new_tokens=16, temperature=1.5, top_p=0.95)
    a = generate(ours, PROMPTS, seed=123, **kw)
    assert a == generate(ours, PROMPTS, seed=123, **kw)
    assert a != generate(ours, PROMPTS, seed=124, **kw)
    greedy = generate(ours, PROMPTS, max_new_tokens=16)
    assert a != greedy  # temperature 1.5 really samples
    # degenerate filters collapse sampling to greedy
    assert generate(ours, PROMPTS, max_new_tokens=16, temperature=1.0, top_k=1, seed=1) == greedy
    assert generate(ours, PROMPTS, max_new_tokens=16, temperature=1.0, top_p=1e-9, seed=1) == greedy


def test_stream_generate_yields_the_same_tokens(models):
    ours, _ = models
    p = PROMPTS[1]
    for kw in (dict(), dict(temperature=0.9, top_k=40, seed=7), dict(repetition_penalty=1.2)):
        assert (
            list(stream_generate(ours, p, max_new_tokens=12, **kw))
            == generate(ours, [p], max_new_tokens=12, **kw)[0]
        )
    free = generate(ours, [p], max_new_tokens=12)[0]
    assert (
        list(stream_generate(ours, p, max_new_tokens=12, stop_token_ids=[free[3]]))
        == free[: free.index(free[3])]
    )
    # tokens arrive one by one: the first is available before the rest are computed
    it = stream_generate(ours, p, max_new_tokens=12)
    assert next(it) == free[0]


def test_one_cache_per_call_sized_prompt_plus_new_tokens(models, monkeypatch):
    ours, _ = models
    made = []
    original = gen.KVCache.for_model

    def spy(model, batch_size, max_len):
        cache = original(model, batch_size, max_len)
        made.append((batch_size, max_len, cache))
        return cache

    monkeypatch.setattr(gen.KVCache, "for_model", staticmethod(spy))
    generate(ours, PROMPTS, max_new_tokens=10)
    assert [(b, n) for b, n, _ in made] == [(2, 9 + 10)]
    cache = made[0][2]
    assert cache.length == 9 + 9  # the last new token is returned, never fed back
    assert cache.k.shape == (2, 2, 2, 19, 16)  # [L, B, H_kv, T_max, D]


def test_bad_inputs_are_named(models):
    ours, _ = models
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        generate(ours, [[1, 2], []])
    with pytest.raises(ValueError, match=r"prompt 0 has token id\(s\) \[512\] outside the vocab"):
        generate(ours, [[1, 512]])
    with pytest.raises(ValueError, match="non-empty list"):
        generate(ours, [])
    with pytest.raises(ValueError, match="top_p"):
        generate(ours, [[1]], temperature=1.0, top_p=0.0)
