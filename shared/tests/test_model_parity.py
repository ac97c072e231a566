"""tinyqwen's hand-written model against transformers on checkpoints transformers wrote, for the four
families: Qwen2, Qwen3 (QK-norm, explicit head_dim, no/with attention bias), Qwen3-MoE (mlp_only_layers,
decoder_sparse_step, norm_topk_prob) and Qwen2-MoE (shared expert).

Every config is saved by ``transformers.<Family>ForCausalLM(config).save_pretrained`` and loaded with
``tinyqwen.AutoModelForCausalLM.from_pretrained``. Tolerances (fp32): logits vs transformers <= 1e-4;
our own paths against each other (eager/SDPA, cache/no-cache, batched/unbatched) <= 5e-5;
bf16 vs transformers bf16 <= 0.02 (measured: 0.0) and identical greedy tokens.
"""

from __future__ import annotations

import pytest
import torch
from conftest import make_hf_checkpoint
from safetensors import safe_open

from tinyqwen.auto import AutoModelForCausalLM
from tinyqwen.config import Qwen2Config
from tinyqwen.generation import generate
from tinyqwen.kv_cache import KVCache
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.trace import capture

HF_TOL = 1e-4  # the bar for logits vs transformers in fp32
SELF_TOL = 5e-5  # two of our own code paths, different op order (|logits| up to ~10, so ~5e-6 rel.)
SEQ = 40  # longer than the sliding window (8) and than dynamic RoPE's trained length (24)

CONFIGS = {
    # Qwen2.5-0.5B's attention layout: 14 query heads sharing 2 KV heads, tied embeddings, theta 1e6
    "qwen2.5-0.5b-heads-tied": dict(
        hidden_size=112,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=192,
        num_hidden_layers=3,
        rope_theta=1e6,
        tie_word_embeddings=True,
    ),
    # untied lm_head + YaRN, written the way Qwen2.5 model cards say to enable it (4.x "type" key)
    "untied-yarn": dict(
        num_attention_heads=8,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        max_position_embeddings=128,
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32},
    ),
    # sliding window of 8 on layers >= max_window_layers=1 (layers 1 and 2), full attention on layer 0
    "sliding-window": dict(
        num_hidden_layers=3,
        use_sliding_window=True,
        sliding_window=8,
        max_window_layers=1,
    ),
    "dynamic-ntk": dict(
        max_position_embeddings=24, rope_scaling={"type": "dynamic", "factor": 2.0}
    ),
    "linear": dict(rope_scaling={"type": "linear", "factor": 2.0}, num_key_value_heads=4),
    # Qwen3: GQA, head_dim 32 != hidden/heads = 16 (attention is wider than the model), untied
    "qwen3-gqa-untied-headdim": dict(
        model_type="qwen3", num_hidden_layers=3, head_dim=32, tie_word_embeddings=False
    ),
    # Qwen3 MHA, tied, with attention_bias (q/k/v/o all biased) and a sliding window on layers >= 1
    "qwen3-mha-tied-bias-sliding": dict(
        model_type="qwen3",
        num_hidden_layers=3,
        num_key_value_heads=4,
        head_dim=16,
        attention_bias=True,
        use_sliding_window=True,
        sliding_window=8,
        max_window_layers=1,
    ),
    # Qwen3-MoE: 8 experts, top-2 renormalised, layer 1 dense (mlp_only_layers), head_dim 32
    "qwen3-moe-mlp-only": dict(
        model_type="qwen3_moe",
        num_hidden_layers=3,
        head_dim=32,
        num_experts=8,
        num_experts_per_tok=2,
        moe_intermediate_size=32,
        norm_topk_prob=True,
        mlp_only_layers=[1],
        tie_word_embeddings=False,
    ),
    # Qwen3-MoE, MHA, every second layer sparse (decoder_sparse_step=2), top-3 not renormalised
    "qwen3-moe-step2-mha": dict(
        model_type="qwen3_moe",
        num_key_value_heads=4,
        num_experts=6,
        num_experts_per_tok=3,
        moe_intermediate_size=24,
        decoder_sparse_step=2,
    ),
    # Qwen2-MoE: shared expert with its sigmoid gate, qkv bias, layer 0 dense
    "qwen2-moe-shared-expert": dict(
        model_type="qwen2_moe",
        num_hidden_layers=3,
        num_experts=6,
        num_experts_per_tok=2,
        moe_intermediate_size=24,
        shared_expert_intermediate_size=96,
        mlp_only_layers=[0],
        tie_word_embeddings=False,
    ),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request, tmp_path_factory):
    """(name, tinyqwen model, transformers model, path) for each config, fp32, built once per module."""
    name = request.param
    path, hf = make_hf_checkpoint(tmp_path_factory.mktemp(name), seed=1, **CONFIGS[name])
    ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return name, ours, hf, path


def hf_logits(hf, ids, **kwargs) -> torch.Tensor:
    # transformers' dynamic RoPE keeps the longest length seen so far; a 1-token call resets it so
    # that each comparison starts from the same (stateless) frequencies we use
    hf(torch.zeros(1, 1, dtype=torch.long))
    with torch.no_grad():
        return hf(ids, **kwargs).logits


def random_ids(n: int, seed: int, vocab: int = 512) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g).tolist()


def left_pad(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    P = max(map(len, prompts))
    ids = torch.zeros(len(prompts), P, dtype=torch.long)
    mask = torch.zeros(len(prompts), P, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, P - len(p) :] = torch.tensor(p)
        mask[i, P - len(p) :] = 1
    return ids, mask


def test_state_dict_keys_equal_the_checkpoint(pair):
    _, ours, hf, path = pair
    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    if ours.config.tie_word_embeddings:
        saved["lm_head.weight"] = saved["model.embed_tokens.weight"]
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == saved
    if not ours.config.is_moe:  # transformers keeps MoE experts fused in memory, split on disk
        assert list(ours.state_dict()) == list(hf.state_dict())


def test_layer_kinds_follow_transformers(pair):
    _, ours, hf, _ = pair
    cfg = hf.config
    if getattr(cfg, "layer_types", None) is not None:
        theirs = [t == "sliding_attention" and cfg.use_sliding_window for t in cfg.layer_types]
        assert [layer.is_sliding for layer in ours.model.layers] == theirs
    sparse = [type(layer.mlp).__name__.endswith("SparseMoeBlock") for layer in hf.model.layers]
    assert [layer.is_moe for layer in ours.model.layers] == sparse


@pytest.mark.parametrize("attn_impl", ["sdpa", "eager"])
def test_logits_match_transformers(pair, attn_impl):
    _, ours, hf, _ = pair
    ids = torch.tensor([random_ids(SEQ, 0), random_ids(SEQ, 1)])
    with torch.no_grad():
        got = ours(ids, attn_impl=attn_impl)
    want = hf_logits(hf, ids)
    assert want.abs().max() > 1.0  # real signal, not near-zero logits
    assert (got - want).abs().max().item() <= HF_TOL


def test_greedy_32_tokens_match_transformers_generate(pair):
    _, ours, hf, _ = pair
    for prompt in (random_ids(5, 2), random_ids(11, 3)):
        tokens = generate(ours, [prompt], max_new_tokens=32)[0]
        hf(torch.zeros(1, 1, dtype=torch.long))  # reset dynamic RoPE state (see hf_logits)
        out = hf.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=32,
            do_sample=False,
            pad_token_id=0,
        )
        assert tokens == out[0, len(prompt) :].tolist()
        # a continuation that actually varies, so that equality means something
        assert len(set(tokens)) >= 4


def test_cache_path_equals_full_forward(pair):
    name, ours, _, _ = pair
    # dynamic NTK re-derives RoPE from the current length, so keys cached before the trained length
    # was exceeded legitimately differ from a one-shot forward (same in transformers): stay within it
    n = 24 if name == "dynamic-ntk" else SEQ
    ids = torch.tensor([random_ids(n, 4)])
    with torch.no_grad():
        full = ours(ids)
        cache = KVCache.for_model(ours, batch_size=1, max_len=n)
        # a prefill, a second chunk on top of it, then one token at a time
        chunks = [ours(ids[:, :14], cache=cache), ours(ids[:, 14:19], cache=cache)]
        chunks += [ours(ids[:, t : t + 1], cache=cache) for t in range(19, n)]
    assert cache.length == n
    assert (torch.cat(chunks, dim=1) - full).abs().max().item() <= SELF_TOL


def test_left_padded_batch_equals_unbatched(pair):
    name, ours, hf, _ = pair
    lengths, new = (9, SEQ, 23), 12
    if name == "dynamic-ntk":
        # dynamic NTK rescales RoPE from the longest position *in the batch* (as transformers does), so
        # a short prompt batched with a long one differs by design; stay inside the trained length
        lengths, new = (9, 20, 14), 4
    prompts = [random_ids(n, 5 + i) for i, n in enumerate(lengths)]
    ids, mask = left_pad(prompts)
    with torch.no_grad():
        batched = ours(ids, attention_mask=mask)
        for i, p in enumerate(prompts):
            alone = ours(torch.tensor([p]))
            assert (batched[i, -len(p) :] - alone[0]).abs().max().item() <= SELF_TOL
    # and transformers agrees on the padded batch (it needs the position ids spelled out)
    position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
    want = hf_logits(hf, ids, attention_mask=mask, position_ids=position_ids)
    real = mask.bool()
    assert (batched[real] - want[real]).abs().max().item() <= HF_TOL
    # generation: a batch of different lengths gives the same tokens as one prompt at a time
    together = generate(ours, prompts, max_new_tokens=new)
    assert together == [generate(ours, [p], max_new_tokens=new)[0] for p in prompts]


def test_eager_equals_sdpa_with_padding(pair):
    _, ours, _, _ = pair
    ids, mask = left_pad([random_ids(SEQ, 8), random_ids(13, 9)])
    with torch.no_grad():
        eager = ours(ids, attention_mask=mask, attn_impl="eager")
        sdpa = ours(ids, attention_mask=mask, attn_impl="sdpa")
    real = mask.bool()
    assert (eager[real] - sdpa[real]).abs().max().item() <= SELF_TOL


@pytest.mark.parametrize("decode", ["PyTorch step", "C step"])
def test_bf16_matches_transformers_bf16(monkeypatch, tmp_path, decode):
    import transformers

    import tinyqwen.linear
    from tinyqwen import native, native_decode

    # transformers' bf16 GEMM order; the fp32 path for many rows (tinyqwen.linear) is tested there
    monkeypatch.setattr(tinyqwen.linear, "upcast_is_faster", lambda: False)
    steps = []
    if decode == "PyTorch step":  # the model's own modules, whatever this machine's probe says
        monkeypatch.setattr(native_decode, "supports", lambda *a: False)
    else:  # bf16 decode steps in one C call (tinyqwen.native_decode), any machine with the kernels
        if not native.available():
            pytest.skip(native.status())
        monkeypatch.setattr(tinyqwen.linear, "native_decode_is_faster", lambda: True)
        real = native_decode.decode_one_token
        monkeypatch.setattr(
            native_decode, "decode_one_token", lambda *a, **k: steps.append(1) or real(*a, **k)
        )

    path, _ = make_hf_checkpoint(tmp_path, seed=1, **CONFIGS["qwen2.5-0.5b-heads-tied"])
    ours = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    hf = transformers.Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    ids = torch.tensor([random_ids(SEQ, 10)])
    with torch.no_grad():
        got, want = ours(ids), hf(ids).logits.float()
    # the same ops in the same order as transformers (RMSNorm cast, RoPE cos/sin cast to bf16, ...):
    # well under one bf16 ulp at |logit| ~ 8 (0.03); a wrong cast order shows up as ~0.1-0.3
    assert (got - want).abs().max().item() <= 0.02
    prompt = random_ids(7, 3)
    out = hf.generate(torch.tensor([prompt]), max_new_tokens=32, do_sample=False, pad_token_id=0)
    assert generate(ours, [prompt], max_new_tokens=32)[0] == out[0, 7:].tolist()
    if decode == "C step":
        assert len(steps) == 31  # every decode step after the prefill


def test_capture_records_the_contract_names(tmp_path):
    path, hf = make_hf_checkpoint(tmp_path, seed=1)
    ours = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    ids = torch.tensor([random_ids(7, 11)])
    with torch.no_grad(), capture() as rec:
        logits = ours(ids)
    names = [n for n, _ in rec]
    attn = [f"layers.0.self_attn.{x}" for x in ("q", "k", "v", "q_rope", "k_rope", "mask")]
    attn += [f"layers.0.self_attn.{x}" for x in ("scores", "probs", "attn_out", "o_proj")]
    expected = ["embed", "layers.0.input_layernorm", *attn, "layers.0.post_attention_layernorm"]
    expected += [f"layers.0.mlp.{x}" for x in ("gate", "up", "act", "down")] + ["layers.0.residual"]
    assert names[: len(expected)] == expected
    assert names[-2:] == ["norm", "logits"]
    t = dict(rec)
    assert t["layers.0.self_attn.scores"].shape == (1, 4, 7, 7)  # [B, H, T, S]
    assert torch.allclose(t["layers.0.self_attn.probs"].sum(-1), torch.ones(1, 4, 7))
    assert torch.equal(t["logits"], logits)
    # the per-layer outputs are transformers' hidden_states
    with torch.no_grad():
        hs = hf(ids, output_hidden_states=True).hidden_states
    assert (t["embed"] - hs[0]).abs().max() <= HF_TOL
    assert (t["layers.0.residual"] - hs[1]).abs().max() <= HF_TOL
    # nothing is recorded outside the block
    with torch.no_grad():
        ours(ids)
    assert len(rec) == len(names)


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, seed=1)
    grads = []
    for flag in (False, True):
        model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32).train()
        model.gradient_checkpointing = flag
        ids = torch.tensor([random_ids(12, 12)])
        logits = model(ids)
        torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-6), k


def test_rope_frequencies_match_transformers_init_functions():
    import transformers
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from tinyqwen.rope import rope_inv_freq

    cases = [
        {"type": "linear", "factor": 4.0},
        {"type": "dynamic", "factor": 2.0},
        {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        {"type": "yarn", "factor": 2.0, "beta_fast": 16, "beta_slow": 2, "truncate": False},
    ]
    for scaling in cases:
        kw = dict(hidden_size=896, num_attention_heads=14, num_key_value_heads=2, rope_theta=1e6)
        kw.update(max_position_embeddings=131072, rope_scaling=dict(scaling))
        hf_cfg = transformers.Qwen2Config(**kw)
        ours_cfg = Qwen2Config.from_dict(hf_cfg.to_dict())
        for seq_len in (None, 200000):
            want, want_scale = ROPE_INIT_FUNCTIONS[scaling["type"]](hf_cfg, "cpu", seq_len=seq_len)
            got, got_scale = rope_inv_freq(ours_cfg, seq_len)
            assert torch.allclose(got, want, rtol=1e-6, atol=0), scaling
            assert got_scale == pytest.approx(want_scale), scaling
