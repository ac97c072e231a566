"""Group-wise int4 weights (``tinyqwen.int4``) on transformers-made random checkpoints and on the trained
``tiny-universe``.

Tolerances: one int4 weight is off by at most half its group's step plus the bf16 rounding of the
group's stored offset (<= 2**-9 of |offset|; bound taken as 2**-8); the kernels agree with the plain dequantise-then-matmul reference
to cosine >= 0.999 (bf16 activations); last-position logits of the int4 model have cosine >= 0.98
against fp32 on random 0.02-init weights (measured 0.994) and >= 0.95 on the trained tiny-universe
with every greedy next token unchanged (measured: v4 0.9925; v5 0.960 on a raw-text prompt, 0.997 on a chat
prompt -- and v5's held-out agent success is 97.9 % in int4 vs 97.4 % in fp32).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import make_hf_checkpoint

from tinyqwen import cli, int4, quant
from tinyqwen.generation import generate, stream_generate
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tiny_random import load_tiny_random

RUNNABLE = [
    k for k, v in int4.probe_kernels("cpu", [(32, 64)], reps=1).items() if isinstance(v, float)
]


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def pair(request, tmp_path_factory):
    """(fp32 model, int4 model, path) from one transformers checkpoint with real-looking 0.02 init."""
    path, _ = make_hf_checkpoint(
        tmp_path_factory.mktemp("q4"), tie_word_embeddings=request.param, initializer_range=0.02
    )
    ref = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    return ref, Qwen2ForCausalLM.from_pretrained(path, quantize="int4"), path


def test_round_trip_error_is_at_most_half_a_step_per_group():
    torch.manual_seed(0)
    w = torch.randn(16, 256) * torch.logspace(-3, 1, 16)[:, None]  # rows of very different size
    w[3, :128] = 0.7  # a constant group must not divide by zero
    w[5, 7] = 40.0  # an outlier coarsens its own group only
    q, sz = int4.quantize_int4(w, group_size=128)
    assert q.dtype == torch.uint8 and int(q.max()) <= 15 and sz.shape == (2, 16, 2)
    deq = int4.dequantize_int4(q, sz)
    step = sz[..., 0].float().t().repeat_interleave(128, dim=1)  # [N, K]
    zero = sz[..., 1].float().t().repeat_interleave(128, dim=1)
    # half a step, plus the bf16 rounding of the stored offset (relative 2**-9, bound taken 2x)
    assert ((deq - w).abs() <= step / 2 + zero.abs() * 2**-8 + 1e-6).all()
    assert (deq[3, :128] - 0.7).abs().max() < 1e-2
    other = (deq[5, 128:] - w[5, 128:]).abs().max()  # the outlier's row, other group: fine steps
    assert other <= step[5, 128] / 2 + 1e-6 and step[5, 128] < step[5, 0] / 10


def test_nibble_packing_round_trips():
    q = torch.randint(0, 16, (32, 64), dtype=torch.uint8)
    packed = int4.pack_nibbles(q)
    assert packed.shape == (32, 32) and packed.dtype == torch.uint8
    assert torch.equal(int4.unpack_nibbles(packed), q)
    assert int(packed[0, 0]) == int(q[0, 0]) * 16 + int(q[0, 1])  # even column in the high nibble


@pytest.mark.parametrize("kernel", RUNNABLE)
def test_each_kernel_matches_dequantised_matmul(kernel):
    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 48, bias=True)
    x = torch.randn(2, 5, 256)  # [B, T, K]: leading dims are kept
    q = int4.Int4Linear.from_float(lin)
    deq = q.dequantized()
    ref = x @ deq.t() + lin.bias
    q.set_kernel(kernel)
    y = q(x)
    assert y.shape == (2, 5, 48) and y.dtype == x.dtype and q.group_size == 128
    assert F.cosine_similarity(y.flatten(), ref.flatten(), dim=0) > 0.999
    # after packing the weights are read back through the kernel (bf16): same matrix
    torch.testing.assert_close(q.dequantized(), deq, rtol=2**-7, atol=1e-6)


def test_packed_layer_refuses_another_kernel():
    if "int4pack" not in RUNNABLE:
        pytest.skip("torch's int4 kernel does not run here")
    q = int4.Int4Linear.from_float(torch.nn.Linear(64, 32))
    q.set_kernel("int4pack")
    assert q.weight is None  # one copy of the weights, in the kernel's layout
    with pytest.raises(RuntimeError, match="load the model again"):
        q.set_kernel("dequant")


def test_shapes_the_kernel_cannot_take_stay_int8(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, intermediate_size=136, initializer_range=0.02)
    model = Qwen2ForCausalLM.from_pretrained(path, quantize="int4")
    layer = model.model.layers[0]
    assert isinstance(layer.self_attn.q_proj, int4.Int4Linear)  # [64, 64]: group 64
    assert layer.self_attn.q_proj.group_size == 64
    assert isinstance(layer.mlp.gate_proj, quant.Int8Linear)  # 136 outputs: not a multiple of 16
    assert isinstance(layer.mlp.down_proj, quant.Int8Linear)  # 136 inputs: not a multiple of 32
    assert isinstance(model.lm_head, quant.Int8Linear)  # the tied head stays int8 by design
    assert model.quantization.startswith("int4 (") and "+ int8 (" in model.quantization
    with pytest.raises(ValueError, match="out % 16"):
        int4.Int4Linear(136, 64, bias=False)


def test_int4_logits_stay_close_to_fp32_and_weights_shrink(pair):
    ref, q, _ = pair
    prompts = [list(range(1, 20)), [5, 9, 300, 7], [42] * 30]
    err = quant.int8_error(ref, q, prompts)
    assert err["min_cosine"] >= 0.98
    assert quant.weight_bytes(q) <= 0.3 * quant.weight_bytes(ref)
    layers = [m for m in q.modules() if isinstance(m, int4.Int4Linear)]
    assert len(layers) == 2 * 7  # every decoder matrix of both layers
    if "int4pack" in RUNNABLE:
        assert q.dtype == torch.bfloat16  # the kernel is fast only with bf16 activations


def test_loading_int4_equals_quantising_the_loaded_model(pair):
    _, _, path = pair
    loaded = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int4")
    again = quant.quantize_model(
        Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32), scheme="int4"
    )
    assert loaded.quantization == again.quantization
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    with torch.inference_mode():
        torch.testing.assert_close(again(ids), loaded(ids), rtol=0, atol=0)


@pytest.mark.parametrize("kernel", RUNNABLE)
def test_batched_left_padded_greedy_equals_one_by_one(pair, kernel, monkeypatch):
    _, _, path = pair
    monkeypatch.setitem(int4._CHOSEN, "cpu", kernel)  # force this kernel for the new load
    q = Qwen2ForCausalLM.from_pretrained(path, quantize="int4")
    assert f"int4 ({kernel}," in q.quantization
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]
    batched = generate(q, prompts, max_new_tokens=12)
    alone = [generate(q, [p], max_new_tokens=12)[0] for p in prompts]
    assert batched == alone
    assert list(stream_generate(q, prompts[0], max_new_tokens=12)) == alone[0]


def test_tiny_universe_int4_keeps_its_predictions():
    """Trained weights: the shipped tiny-universe in int4 against itself in fp32."""
    from tinyqwen.tiny_universe import ASSET_DIR
    from tinyqwen.tokenizer import Tokenizer

    tok = Tokenizer.from_pretrained(ASSET_DIR)
    texts = [
        "What is 881 plus 25? Use the calculator.",
        "The town of Velmora lies on the river Osk. Its mayor is Ada Kern.",
        "<|im_start|>user\nWhat time is it in Warsaw?<|im_end|>\n<|im_start|>assistant\n",
    ]
    ids = [tok.encode(t, allowed_special="all") for t in texts]
    ref = Qwen2ForCausalLM.from_pretrained(ASSET_DIR, dtype=torch.float32)
    q = Qwen2ForCausalLM.from_pretrained(ASSET_DIR, quantize="int4")
    err = quant.int8_error(ref, q, ids)
    assert err["min_cosine"] >= 0.95 and err["argmax_agree"] == 1.0


def test_llm_and_cli_with_int4_tiny_random(capsys):
    llm = load_tiny_random("int4")
    assert llm is not load_tiny_random("int8") and "int4" in repr(llm)
    text = llm.complete("你好，Qwen", max_new_tokens=16)
    assert "".join(llm.stream_complete("你好，Qwen", max_new_tokens=16)) == text
    assert cli.main(["generate", "--model", "tiny-random", "--quantize", "int4", "hi"]) == 0
    assert capsys.readouterr().out == llm.complete("hi", max_new_tokens=64) + "\n"
