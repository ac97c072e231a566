"""Loading/saving checkpoints: every bad-checkpoint case gives an error naming the file and tensor;
sharded checkpoints load; our save_pretrained output is loadable by transformers (and by us)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from conftest import make_hf_checkpoint
from safetensors.torch import load_file, save_file

from tinyqwen import kernel_probe
from tinyqwen.checkpoint import CheckpointError, default_dtype
from tinyqwen.config import Qwen2Config
from tinyqwen.model import Qwen2ForCausalLM

IDS = torch.tensor([[5, 17, 301, 42, 8, 99, 3]])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A valid tied checkpoint written by transformers, and its logits on IDS."""
    path, hf = make_hf_checkpoint(tmp_path_factory.mktemp("good"))
    with torch.no_grad():
        return path, hf(IDS).logits


def broken_copy(good, tmp_path):
    path, _ = good
    dst = tmp_path / "ckpt"
    shutil.copytree(path, dst)
    return dst


def rewrite_weights(directory, edit):
    file = directory / "model.safetensors"
    state = load_file(file)
    edit(state)
    save_file(state, file, metadata={"format": "pt"})
    return file


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        Qwen2ForCausalLM.from_pretrained(tmp_path / "nope")


def test_missing_config(good, tmp_path):
    d = broken_copy(good, tmp_path)
    (d / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"ckpt: missing config\.json"):
        Qwen2ForCausalLM.from_pretrained(d)


def test_invalid_config_names_file_and_field(good, tmp_path):
    d = broken_copy(good, tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["num_key_value_heads"] = 3  # 4 query heads cannot be shared by 3 KV heads
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"config\.json: invalid num_key_value_heads=3"):
        Qwen2ForCausalLM.from_pretrained(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json: not valid JSON"):
        Qwen2ForCausalLM.from_pretrained(d)


def test_missing_weights_file(good, tmp_path):
    d = broken_copy(good, tmp_path)
    (d / "model.safetensors").unlink()
    with pytest.raises(
        CheckpointError, match=r"no model\.safetensors or model\.safetensors\.index"
    ):
        Qwen2ForCausalLM.from_pretrained(d)


@pytest.mark.parametrize("keep", [0.5, 0.999, 5 / 1_000_000])
def test_truncated_file(good, tmp_path, keep):
    d = broken_copy(good, tmp_path)
    f = d / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: corrupt or truncated"):
        Qwen2ForCausalLM.from_pretrained(d)


def test_garbage_file(good, tmp_path):
    d = broken_copy(good, tmp_path)
    (d / "model.safetensors").write_bytes(b"\x00" * 64 + b"definitely not safetensors" * 100)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: corrupt or truncated"):
        Qwen2ForCausalLM.from_pretrained(d)


def test_missing_tensor(good, tmp_path):
    d = broken_copy(good, tmp_path)
    rewrite_weights(d, lambda s: s.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(
        CheckpointError, match=r"missing tensor\(s\) model\.layers\.1\.mlp\.up_proj"
    ):
        Qwen2ForCausalLM.from_pretrained(d)


def test_unexpected_tensor(good, tmp_path):
    d = broken_copy(good, tmp_path)
    rewrite_weights(d, lambda s: s.update({"model.layers.7.mlp.up_proj.weight": torch.zeros(2, 2)}))
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: unexpected tensor\(s\) model\.layers\.7"
    ):
        Qwen2ForCausalLM.from_pretrained(d)


def test_misshaped_tensor(good, tmp_path):
    d = broken_copy(good, tmp_path)
    rewrite_weights(d, lambda s: s.update({"model.layers.0.self_attn.k_proj.bias": torch.zeros(5)}))
    with pytest.raises(
        CheckpointError,
        match=r"model\.safetensors: tensor model\.layers\.0\.self_attn\.k_proj\.bias has shape "
        r"\[5\], config\.json implies \[32\]",
    ):
        Qwen2ForCausalLM.from_pretrained(d)


def test_sharded_checkpoint_loads_and_bad_index_is_named(tmp_path):
    path, hf = make_hf_checkpoint(tmp_path / "sharded", tie_word_embeddings=False)
    shutil.rmtree(path)
    # several shards + model.safetensors.index.json
    hf.save_pretrained(path, max_shard_size="100KB")
    shards = sorted(path.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (path / "model.safetensors.index.json").is_file()
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    with torch.no_grad():
        assert (model(IDS) - hf(IDS).logits).abs().max() <= 1e-4

    index = json.loads((path / "model.safetensors.index.json").read_text())
    # a tensor the index promises but the shard lacks
    victim, shard = next(iter(index["weight_map"].items()))
    state = load_file(path / shard)
    state.pop(victim)
    save_file(state, path / shard, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=rf"{shard}: tensor {victim} listed in"):
        Qwen2ForCausalLM.from_pretrained(path)
    # a shard file that does not exist
    (path / shard).unlink()
    with pytest.raises(CheckpointError, match=rf"shard {shard} .* does not exist"):
        Qwen2ForCausalLM.from_pretrained(path)


@pytest.mark.parametrize("tied", [True, False])
def test_save_pretrained_loads_in_transformers(tmp_path, tied):
    import transformers

    src, hf = make_hf_checkpoint(tmp_path / "src", tie_word_embeddings=tied)
    ours = Qwen2ForCausalLM.from_pretrained(src, dtype=torch.float32)
    out = tmp_path / "out"
    ours.save_pretrained(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]  # no temps
    saved = load_file(out / "model.safetensors")
    # tied weights are stored once, under embed_tokens, as transformers does
    assert ("lm_head.weight" in saved) is (not tied)
    back = transformers.Qwen2ForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    again = Qwen2ForCausalLM.from_pretrained(out, dtype=torch.float32)
    with torch.no_grad():
        want = hf(IDS).logits
        assert torch.equal(back(IDS).logits, want)
        assert torch.equal(again(IDS), ours(IDS))
    assert again.lm_head.weight is again.model.embed_tokens.weight or not tied


def test_config_reads_both_rope_layouts_and_ignores_unknown_keys(tmp_path):
    # Qwen2.5-7B-Instruct's config.json with the YaRN block its model card suggests (transformers 4.x)
    v4 = {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
        "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
        "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
        "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28,
        "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False,
        "vocab_size": 152064,
        "rope_scaling": {"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"},
    }  # fmt: skip
    import transformers

    hf = transformers.Qwen2Config(**v4)
    hf.save_pretrained(tmp_path)  # transformers 5.x rewrites it with "rope_parameters"
    v5 = json.loads((tmp_path / "config.json").read_text())
    assert "rope_parameters" in v5 and "rope_scaling" not in v5
    a, b = Qwen2Config.from_dict(v4), Qwen2Config.from_pretrained(tmp_path)
    for c in (a, b):
        assert (c.rope_theta, c.rope_type, c.rope_scaling["factor"]) == (1e6, "yarn", 4.0)
        assert c.head_dim == 128 and c.num_key_value_groups == 7 and not c.tie_word_embeddings
        assert not any(c.is_sliding_layer(i) for i in range(28))  # use_sliding_window is false
    # same config from either layout (transformers 5 also writes layer_types and nulls an unused window)
    assert dataclasses.replace(b, layer_types=None, sliding_window=131072) == a
    # our to_dict() round-trips through transformers
    back = transformers.Qwen2Config.from_dict(a.to_dict())
    assert back.rope_parameters["rope_type"] == "yarn" and back.rope_parameters["rope_theta"] == 1e6


@pytest.mark.parametrize(
    "fp32_ms, bf16_ms, want",
    [
        (66.0, 25.0, torch.bfloat16),  # the AVX2 CPU, lm_head: bf16 streams half the bytes
        (49.1, 48.7, torch.float32),  # bf16 no faster (this project's CPU, torch 2.13)
        (3.18, 2.64, torch.float32),  # the probe there: 0.83x; decode +3 %, prefill 1.5x slower
        (10.0, 7.1, torch.float32),  # a small gain is not worth giving up exact fp32
        (10.0, 6.9, torch.bfloat16),
    ],
)
def test_auto_dtype_is_bf16_only_where_its_matvec_is_measured_faster(
    monkeypatch, fp32_ms, bf16_ms, want
):
    import tinyqwen.checkpoint as ckpt

    assert ckpt.faster_decode_dtype(fp32_ms, bf16_ms) == want
    probe = {"fp32_ms": fp32_ms, "bf16_ms": bf16_ms, "dtype": want}
    monkeypatch.setattr(ckpt, "decode_dtype_probe", lambda: probe)
    assert default_dtype("cpu") == want
    assert ckpt.resolve_dtype("auto", "cpu") == want
    assert default_dtype("meta") == torch.float32


@pytest.fixture
def probe_cache(tmp_path, monkeypatch):
    """An empty per-machine probe cache, and a fresh "process" (the in-memory cache cleared)."""
    import tinyqwen.checkpoint as ckpt

    monkeypatch.setenv("TINYU_CACHE_DIR", str(tmp_path))
    ckpt.decode_dtype_probe.cache_clear()
    yield tmp_path / kernel_probe.PROBE_CACHE_FILE
    ckpt.decode_dtype_probe.cache_clear()


def test_decode_dtype_probe_measures_this_machine(probe_cache):
    from tinyqwen.checkpoint import decode_dtype_probe, faster_decode_dtype

    probe = decode_dtype_probe()
    assert probe["fp32_ms"] > 0 and probe["bf16_ms"] > 0 and probe["source"] == "measured"
    assert probe["dtype"] == faster_decode_dtype(probe["fp32_ms"], probe["bf16_ms"])
    assert decode_dtype_probe() is probe  # once per process
    assert default_dtype("cpu") == probe["dtype"]


def test_decode_dtype_probe_is_kept_per_machine(probe_cache, monkeypatch):
    """A second process on the same machine reads the first one's measurement instead of measuring
    again (a per-process probe flipped between fp32 and bf16 under load); another thread count, a
    corrupt file, or an unwritable cache folder each fall back to measuring."""
    import tinyqwen.checkpoint as ckpt

    monkeypatch.setattr(ckpt, "measure_decode_dtypes", lambda: (3.0, 1.5))  # bf16 clearly faster
    first = ckpt.decode_dtype_probe()
    assert first["source"] == "measured" and first["dtype"] == torch.bfloat16
    saved = json.loads(probe_cache.read_text())
    assert saved == {kernel_probe.probe_machine_key(): {"fp32_ms": 3.0, "bf16_ms": 1.5}}

    ckpt.decode_dtype_probe.cache_clear()  # a new process, under load: would now measure fp32
    monkeypatch.setattr(ckpt, "measure_decode_dtypes", lambda: (3.0, 2.9))
    second = ckpt.decode_dtype_probe()
    assert second["source"] == str(probe_cache) and second["dtype"] == torch.bfloat16

    threads = torch.get_num_threads()  # the thread count is part of the key: measured again, added
    ckpt.decode_dtype_probe.cache_clear()
    torch.set_num_threads(threads + 1)
    try:
        assert ckpt.decode_dtype_probe()["dtype"] == torch.float32
        assert len(json.loads(probe_cache.read_text())) == 2
    finally:
        torch.set_num_threads(threads)

    probe_cache.write_text("{not json")
    ckpt.decode_dtype_probe.cache_clear()
    assert ckpt.decode_dtype_probe()["source"] == "measured"
    assert json.loads(probe_cache.read_text())[kernel_probe.probe_machine_key()]["bf16_ms"] == 2.9

    monkeypatch.setenv("TINYU_CACHE_DIR", str(probe_cache / "a-file-not-a-folder"))
    ckpt.decode_dtype_probe.cache_clear()
    assert ckpt.decode_dtype_probe()["dtype"] == torch.float32  # measured, nothing written


@pytest.mark.parametrize(
    "change, message",
    [
        ({"num_attention_heads": 6}, r"invalid hidden_size=64: must be divisible by num_att"),
        ({"num_key_value_heads": 3}, r"invalid num_key_value_heads=3: num_attention_heads=4 must"),
        ({"num_key_value_heads": 0}, r"invalid num_key_value_heads=0: must be a positive integer"),
        ({"hidden_size": 72, "num_attention_heads": 8}, r"head_dim=9 must be even"),
        ({"rope_scaling": {"rope_type": "longrope"}}, r"invalid rope_scaling=.*rope_type must be"),
        ({"rope_scaling": {"type": "yarn"}}, r"'factor' must be a number >= 1"),
        ({"hidden_act": "gelu"}, r"invalid hidden_act='gelu'"),
        ({"layer_types": ["full_attention"]}, r"invalid layer_types=.*must list 2 entries"),
    ],
)
def test_config_validation_names_the_field(change, message):
    base = {
        "vocab_size": 512,
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
    base["num_hidden_layers"] = 2
    with pytest.raises(ValueError, match=message):
        Qwen2Config.from_dict({**base, **change}, source="cfg.json")
    with pytest.raises(ValueError, match=r"^cfg\.json: "):
        Qwen2Config.from_dict({**base, **change}, source="cfg.json")


def test_forward_and_cache_misuse_is_named(good):
    from tinyqwen.kv_cache import KVCache

    model = Qwen2ForCausalLM.from_pretrained(good[0], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"attention_mask must be \[batch, past\+seq\]"):
        model(IDS, attention_mask=torch.ones(1, 3, dtype=torch.long))
    cache = KVCache.for_model(model, batch_size=1, max_len=4)
    with pytest.raises(ValueError, match="KV cache is full: 7 positions needed, max_len=4"):
        model(IDS, cache=cache)
