"""`python -m qwen_blog figures` writes every figure as a non-empty PNG of the stated size."""

import struct
from pathlib import Path

import pytest

from qwen_blog.figures import DPI, FIGSIZE, FIGURES, make_figures


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR chunk
    return width, height


@pytest.fixture(scope="module")
def figures_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("figures")
    make_figures(out)
    return out


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_png(figures_dir: Path, name: str):
    path = figures_dir / f"{name}.png"
    assert path.stat().st_size > 10_000  # a real drawing, not an empty canvas
    assert _png_size(path) == (FIGSIZE[0] * DPI, FIGSIZE[1] * DPI)


def test_unknown_figure_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown figure"):
        make_figures(tmp_path, only=["nope"])
    assert not any(tmp_path.iterdir())  # nothing half-written
