"""Every ```python block of every walkthrough chapter runs, in order, against the current tinyqwen."""

from pathlib import Path

import pytest

from qwen_blog.docrun import python_blocks, run_chapter

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHAPTERS = sorted(DOCS.glob("*.md"))


def test_docs_exist():
    names = {p.stem for p in CHAPTERS}
    for chapter in ("00-overview", "05-rope", "06-attention", "10-generation", "11-tool-calls"):
        assert chapter in names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_code_runs(chapter: Path):
    run_chapter(chapter)


def test_harness_reports_the_failing_block(tmp_path: Path):
    md = tmp_path / "bad.md"
    md.write_text(
        "intro\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n", encoding="utf-8"
    )
    with pytest.raises(RuntimeError, match=r"bad.md, block at line 8"):
        run_chapter(md)


def test_only_python_fences_run():
    md = "```bash\nrm -rf /\n```\n```python no-run\n1/0\n```\n```text\nx\n```\n```python\ny = 2\n```\n"
    assert python_blocks(md) == [(11, "y = 2\n")]


def test_figures_referenced_by_docs_are_generated():
    """Each figure a chapter shows is one that `python -m qwen_blog figures` draws."""
    from qwen_blog.figures import FIGURES

    for chapter in CHAPTERS:
        text = chapter.read_text(encoding="utf-8")
        for name in FIGURES:
            text = text.replace(f"figures/{name}.png", "")
        assert "figures/" not in text.replace("figures/loss", "") or chapter.stem == "training", (
            chapter
        )
