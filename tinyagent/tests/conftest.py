"""Shared fixtures: the data folder (skipped when absent) and the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyqwen.data_cache import shared_dev_data

# The developers' copy of the real data (../shared/data beside the checkout); absent on a user's
# clone and hidden by TINYU_SHARED_DATA=off, so every test that needs it skips with this path.
DEV_DATA = shared_dev_data(Path(__file__).resolve().parents[2]) or Path(
    "../shared/data (absent, or hidden by TINYU_SHARED_DATA=off)"
)
DATA = DEV_DATA


@pytest.fixture
def acebench_dir() -> Path:
    path = DATA / "acebench_zh"
    if not (path / "possible_answer").is_dir():
        pytest.skip(f"ACEBench data not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_data_cache(tmp_path_factory, monkeypatch):
    """Tests never read (or fill) the user's ~/.cache/tiny-universe/data."""
    monkeypatch.setenv("TINYU_DATA_DIR", str(tmp_path_factory.mktemp("data-cache")))
