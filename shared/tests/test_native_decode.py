"""The decode step in one C call (``tinyqwen.native_decode``) against the PyTorch path it replaces.

int8 models. Reference: the same model (checkpoints written by transformers) stepped by
``model(...)`` -- the path ``test_quant`` / ``test_model_parity`` hold to transformers. The products
are the same kernel; the small steps (RMSNorm, RoPE, softmax, SiLU) sum in another order, so their results differ by fp32
rounding -- and where the two paths' inputs to a product straddle an int16 rounding boundary, that
activation rounds one int16 step apart (2^-15 of its block's largest value), which the later layers
carry on. Observed on these 3-layer models: at most 9e-5 of the largest logit. Stated tolerance: logits
and cache within 3e-4 of their largest magnitude, the same argmax, greedy tokens equal (batched, alone
and on the PyTorch path). bf16 models: against the fp32 model (see that test). Skipped where the kernels
cannot run.
"""

from __future__ import annotations

import pytest
import torch
from conftest import make_hf_checkpoint

from tinyqwen import linear, native, native_decode, quant, trace
from tinyqwen.generation import generate, prefill
from tinyqwen.kv_cache import KVCache
from tinyqwen.model import Qwen2ForCausalLM

TOL = 3e-4  # of the largest magnitude (see the module docstring)

pytestmark = pytest.mark.skipif(not native.available(), reason=native.status())

FAMILIES = {
    "qwen2": dict(model_type="qwen2"),
    # Qwen3: QK-norm, no q/k/v bias, head_dim 36 (not a multiple of the 8-wide vectors, not hidden / H)
    "qwen3": dict(model_type="qwen3", head_dim=36),
    # sliding window of 4 slots on layer 1 (transformers' rule: layers >= max_window_layers slide)
    "sliding": dict(
        model_type="qwen2", use_sliding_window=True, sliding_window=4, max_window_layers=1
    ),
}


def int8_model(tmp_path, family: str, **overrides) -> Qwen2ForCausalLM:
    path, _ = make_hf_checkpoint(tmp_path, **{**FAMILIES[family], **overrides})
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int8")
    quant.set_kernels(model, "avx2")
    return model


@pytest.mark.parametrize("family", list(FAMILIES))
@torch.inference_mode()
def test_each_step_matches_the_pytorch_path_with_padding(tmp_path, family):
    model = int8_model(tmp_path, family, num_hidden_layers=3)
    if family == "sliding":
        assert [layer.is_sliding for layer in model.model.layers] == [False, True, True]
    B, P, steps = 3, 9, 6
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 512, (B, P), generator=gen)
    mask = torch.ones(B, P + steps, dtype=torch.long)
    mask[1, :4], mask[2, :1] = 0, 0  # left padding
    native_cache, ref_cache = (KVCache.for_model(model, B, P + steps) for _ in range(2))
    for cache in (native_cache, ref_cache):
        prefill(model, ids, mask[:, :P], cache)
    pos = mask[:, :P].sum(1, keepdim=True)  # each row's next position
    tokens = torch.randint(0, 512, (B, 1), generator=gen)
    for _ in range(steps):
        S = ref_cache.length + 1
        assert native_decode.supports(model, native_cache)
        got = native_decode.decode_one_token(model, tokens, pos, native_cache, mask[:, :S])
        want = model(tokens, mask[:, :S], pos, ref_cache)[:, -1]
        assert got.shape == want.shape == (B, 512) and got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=0, atol=TOL * want.abs().max().item())
        assert (got.argmax(-1) == want.argmax(-1)).all()
        assert native_cache.length == ref_cache.length == S
        for a, b in ((native_cache.k, ref_cache.k), (native_cache.v, ref_cache.v)):
            torch.testing.assert_close(a, b, rtol=0, atol=TOL * b.abs().max().item())
        tokens, pos = want.argmax(-1, keepdim=True), pos + 1


@pytest.mark.parametrize("family,dtype", [("qwen2", "int8"), ("qwen3", "int8"), ("qwen2", "bf16")])
def test_generate_takes_it_and_batching_changes_nothing(tmp_path, monkeypatch, family, dtype):
    if dtype == "int8":
        model = int8_model(tmp_path, family)
    else:
        monkeypatch.setattr(linear, "native_decode_is_faster", lambda: True)  # any machine
        path, _ = make_hf_checkpoint(tmp_path, **FAMILIES[family])
        model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [42] * 5]
    steps = []
    real = native_decode.decode_one_token
    monkeypatch.setattr(
        native_decode, "decode_one_token", lambda *a, **kw: steps.append(1) or real(*a, **kw)
    )
    batched = generate(model, prompts, max_new_tokens=10)
    assert len(steps) == 9  # every decode step after the prefill
    assert batched == [generate(model, [p], max_new_tokens=10)[0] for p in prompts]
    if dtype == "int8":  # the same tokens as the PyTorch path (bf16: see the next test)
        monkeypatch.setattr(native_decode, "supports", lambda *a: False)
        steps.clear()
        assert generate(model, prompts, max_new_tokens=10) == batched and not steps


@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
@torch.inference_mode()
def test_a_bf16_model_steps_like_its_pytorch_path(tmp_path, monkeypatch, family):
    """A bf16 model: the C step rounds to bf16 where the PyTorch path does, but sums in another order,
    so a value can land one bf16 step apart and later layers carry that on. Stated tolerance per step:
    logits within 4 bf16 steps of the largest logit (observed <= 3.5), cosine >= 0.9995 to the PyTorch
    bf16 path (observed >= 0.9998) and >= 0.998 to the fp32 model (PyTorch bf16 itself: >= 0.9989).
    Greedy parity with transformers bf16 is ``test_qwen3_moe`` / ``test_model_parity``'s, on this path."""
    # bf16 decode steps on the avx2 kernel on any machine: this path, and the PyTorch path's products
    monkeypatch.setattr(linear, "native_decode_is_faster", lambda: True)
    path, _ = make_hf_checkpoint(tmp_path, num_hidden_layers=3, **FAMILIES[family])
    bf16 = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    fp32 = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    B, P, steps = 3, 9, 6
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 512, (B, P), generator=gen)
    mask = torch.ones(B, P + steps, dtype=torch.long)
    mask[1, :4], mask[2, :1] = 0, 0
    caches = [KVCache.for_model(m, B, P + steps) for m in (bf16, bf16, fp32)]
    for model, cache in zip((bf16, bf16, fp32), caches):
        prefill(model, ids, mask[:, :P], cache)
    pos = mask[:, :P].sum(1, keepdim=True)
    tokens = torch.randint(0, 512, (B, 1), generator=gen)
    cosine = torch.nn.functional.cosine_similarity
    for _ in range(steps):
        S = caches[2].length + 1
        assert native_decode.supports(bf16, caches[0])
        got = native_decode.decode_one_token(bf16, tokens, pos, caches[0], mask[:, :S])
        pytorch = bf16(tokens, mask[:, :S], pos, caches[1])[:, -1].float()
        want = fp32(tokens, mask[:, :S], pos, caches[2])[:, -1]
        step = 2.0 ** (torch.floor(torch.log2(pytorch.abs().max())).item() - 7)  # one bf16 ulp
        assert (got - pytorch).abs().max() <= 4 * step
        assert cosine(got, pytorch).min() >= 0.9995 and cosine(got, want).min() >= 0.998
        tokens, pos = want.argmax(-1, keepdim=True), pos + 1
    assert caches[0].k.dtype == torch.bfloat16 and caches[0].length == caches[2].length
    # layer 0's K and V come from RMSNorm, the same kernel's products, QK-norm and RoPE only: rounded
    # where PyTorch rounds, they are the same bf16 numbers (later layers also see attention and the
    # MLP, whose sums run in another order)
    new = slice(P, P + steps)
    assert torch.equal(caches[0].k[0, :, :, new], caches[1].k[0, :, :, new])
    assert torch.equal(caches[0].v[0, :, :, new], caches[1].v[0, :, :, new])


def test_other_models_and_modes_keep_the_pytorch_path(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path)
    int8 = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int8")
    quant.set_kernels(int8, "avx2")
    cache = KVCache.for_model(int8, 1, 8)
    with torch.inference_mode():
        assert native_decode.supports(int8, cache)
        with trace.capture():  # the trace records what the PyTorch modules see
            assert not native_decode.supports(int8, cache)
    assert not native_decode.supports(int8, cache)  # gradients on
    quant.set_kernels(int8, "dequant")
    fp32 = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    bf16 = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    with torch.inference_mode():
        assert not native_decode.supports(int8, cache)  # another int8 kernel
        assert not native_decode.supports(fp32, KVCache.for_model(fp32, 1, 8))
        # bf16: where this machine's probe sends bf16 decode steps to the avx2 kernel
        on_avx2 = linear.native_decode_is_faster()
        assert native_decode.supports(bf16, KVCache.for_model(bf16, 1, 8)) == on_avx2
        assert not native_decode.supports(bf16, KVCache.for_model(fp32, 1, 8))  # fp32 cache


@torch.inference_mode()
def test_bad_step_inputs_name_what_is_wrong(tmp_path):
    model = int8_model(tmp_path, "qwen2")
    cache = KVCache.for_model(model, 2, 4)
    prefill(model, torch.tensor([[1, 2, 3], [4, 5, 6]]), None, cache)
    tok, pos = torch.tensor([[7], [8]]), torch.tensor([[3], [3]])
    with pytest.raises(ValueError, match="attention_mask must be"):
        native_decode.decode_one_token(model, tok, pos, cache, torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens and position_ids"):
        native_decode.decode_one_token(model, tok[:, 0], pos, cache)
    with pytest.raises(ValueError, match="cache holds 2 rows"):
        native_decode.decode_one_token(model, tok[:1], pos[:1], cache)
    native_decode.decode_one_token(model, tok, pos, cache)  # fills the last slot
    with pytest.raises(ValueError, match="KV cache is full"):
        native_decode.decode_one_token(model, tok, pos + 1, cache)
    assert cache.length == 4  # the failed steps wrote nothing
    cfg = model.config  # a cache of another shape: the C code would write past its end
    small = KVCache(cfg.num_hidden_layers, 2, cfg.num_key_value_heads, 4, cfg.head_dim // 2)
    with pytest.raises(ValueError, match=r"cache.k is \(2, 2, 2, 4, 8\)"):
        native_decode.decode_one_token(model, tok, pos, small)


def test_a_moe_model_keeps_the_pytorch_path(tmp_path):
    path, _ = make_hf_checkpoint(
        tmp_path, model_type="qwen2_moe", num_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=32, shared_expert_intermediate_size=32,
    )  # fmt: skip
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int8")
    quant.set_kernels(model, "avx2")
    with torch.inference_mode():
        assert not native_decode.supports(model, KVCache.for_model(model, 1, 8))
    assert generate(model, [[1, 2, 3]], max_new_tokens=4)  # and still generates
