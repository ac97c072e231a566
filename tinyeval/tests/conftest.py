"""Shared fixtures: where the real data lives, and the tinyqwen tiny-random model when it works."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tinyqwen.data_cache import shared_dev_data

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The developers' copy of the real data (../shared/data beside the checkout); absent on a user's
# clone and hidden by TINYU_SHARED_DATA=off, so every test that needs it skips with this path.
DEV_DATA = shared_dev_data(Path(__file__).resolve().parents[2]) or Path(
    "../shared/data (absent, or hidden by TINYU_SHARED_DATA=off)"
)
DATA = DEV_DATA


def data_path(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not present: {p}")
    return p


@pytest.fixture(scope="session")
def tiny_random():
    try:
        import tinyqwen

        return tinyqwen.connect("tiny-random")
    except Exception as e:  # not built yet in this checkout
        pytest.skip(f"tinyqwen tiny-random unavailable: {e}")


@pytest.fixture(autouse=True)
def _isolated_data_cache(tmp_path_factory, monkeypatch):
    """Tests never read (or fill) the user's ~/.cache/tiny-universe/data."""
    monkeypatch.setenv("TINYU_DATA_DIR", str(tmp_path_factory.mktemp("data-cache")))
