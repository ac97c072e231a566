"""Shared test helpers: tiny random Qwen2 checkpoints written by transformers itself.

    def test_x(tmp_path):
        path, hf_model = make_hf_checkpoint(tmp_path, num_hidden_layers=3, tie_word_embeddings=False)

or through the fixture: ``def test_y(hf_checkpoint): path, hf_model = hf_checkpoint(use_sliding_window=True)``.

The weights use ``initializer_range=0.2`` (transformers' default 0.02 makes a tiny model repeat one token
forever, which would make generation tests pass trivially).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tinyqwen.data_cache import shared_dev_data

# The test models are tiny: a second intra-op thread only adds synchronisation, and on a shared,
# oversubscribed CPU an OpenMP barrier can cost ~20 ms per matmul. One thread keeps the suite fast.
torch.set_num_threads(1)

# The developers' copy of the real data (../shared/data beside the checkout); absent on a user's
# clone and hidden by TINYU_SHARED_DATA=off, so every test that needs it skips with this path.
DEV_DATA = shared_dev_data(Path(__file__).resolve().parents[2]) or Path(
    "../shared/data (absent, or hidden by TINYU_SHARED_DATA=off)"
)

TINY_CONFIG: dict[str, Any] = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    tie_word_embeddings=True,
    initializer_range=0.2,
)


# model_type -> transformers class name prefix
HF_FAMILIES = {"qwen2": "Qwen2", "qwen3": "Qwen3", "qwen2_moe": "Qwen2Moe", "qwen3_moe": "Qwen3Moe"}


def make_hf_checkpoint(
    directory: str | Path, seed: int = 0, model_type: str = "qwen2", **config_overrides: Any
) -> tuple[Path, torch.nn.Module]:
    """Save a random transformers ``<Family>ForCausalLM`` (fp32, eval mode) to ``directory``.

    ``model_type`` is one of ``HF_FAMILIES``; ``config_overrides`` are kwargs of that family's
    transformers config on top of ``TINY_CONFIG``. Returns ``(directory, hf_model)``.
    """
    import transformers

    directory = Path(directory)
    prefix = HF_FAMILIES[model_type]
    config = getattr(transformers, f"{prefix}Config")(**{**TINY_CONFIG, **config_overrides})
    torch.manual_seed(seed)
    model = getattr(transformers, f"{prefix}ForCausalLM")(config).eval()
    model.save_pretrained(directory)
    return directory, model


@pytest.fixture
def hf_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """Factory fixture: ``hf_checkpoint(**config_overrides) -> (path, hf_model)`` in a fresh tmp dir."""

    def make(seed: int = 0, **config_overrides: Any) -> tuple[Path, torch.nn.Module]:
        return make_hf_checkpoint(tmp_path_factory.mktemp("ckpt"), seed=seed, **config_overrides)

    return make


@pytest.fixture(autouse=True)
def _isolated_data_cache(tmp_path_factory, monkeypatch):
    """Tests never read (or fill) the user's ~/.cache/tiny-universe/data."""
    monkeypatch.setenv("TINYU_DATA_DIR", str(tmp_path_factory.mktemp("data-cache")))
