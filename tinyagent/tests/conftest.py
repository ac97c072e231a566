"""Shared fixtures: the data folder (skipped when absent) and the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def acebench_dir() -> Path:
    path = DATA / "acebench_zh"
    if not (path / "possible_answer").is_dir():
        pytest.skip(f"ACEBench data not found at {path}")
    return path
