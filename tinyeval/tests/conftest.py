"""Shared fixtures: where the real data lives, and the tinyqwen tiny-random model when it works."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


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
