"""The towns demo: the shipped documents, the prompt they make, and the demo command end to end.

The documents are written in the format ``tiny-universe`` was trained on (qwen-blog's
``universe_corpus``); when qwen_blog is importable (the monorepo) the tests check them against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ScriptedModel

from tinyqwen.tiny_universe import ASSET_DIR
from tinyrag.answer import REFUSAL, build_messages
from tinyrag.demo import TOWNS_DIR, TOWNS_K, TOWNS_QUESTIONS, towns_demo
from tinyrag.index import Index

# universe_corpus.town_path: "{dir}/long-river.md" (English) or "{dir}/town_{i}.md" (Chinese)
LOCATION = re.compile(r"(notes|wiki|docs|archive)/(town_\d+|[a-z-]+)\.md, chars 0-(\d+)")


@pytest.fixture(scope="module")
def towns() -> Index:
    index, report = Index.build(TOWNS_DIR, None, files=sorted(TOWNS_DIR.rglob("*.md")))
    assert report.summary().startswith("8 files: 8 new") and report.failed == []
    return index


def test_each_town_is_one_chunk_located_like_the_training_sources(towns: Index) -> None:
    assert len(towns.chunks) == 8
    for c in towns.chunks:
        text = (TOWNS_DIR / c["source"]).read_text(encoding="utf-8")
        assert c["start"] == 0 and c["end"] == len(text.rstrip("\n")) and c["heading_path"] == []
        hit = towns.search(c["text"], k=1)[0]
        assert hit.source == c["source"] and LOCATION.fullmatch(hit.location())


def test_documents_and_prompt_match_universe_corpus(towns: Index) -> None:
    uc = pytest.importorskip("qwen_blog.universe_corpus")
    for path in sorted(TOWNS_DIR.rglob("*.md")):
        text = path.read_text(encoding="utf-8").rstrip("\n")
        stem = path.stem
        lang = "zh" if stem.startswith("town_") else "en"
        towns_list = uc.TOWNS_ZH if lang == "zh" else uc.TOWNS_EN
        town = next(t for t in towns_list if uc.town_path(t, lang) == path.name)
        assert town in uc.TEST_TOWNS, f"{path}: not a held-out town"
        facts = {}  # attribute index -> value, read back through the corpus's own sentences
        for i, attr in enumerate(uc.ATTRS):
            tpl = re.escape(attr[4 if lang == "zh" else 5]).replace(r"\{t\}", re.escape(town))
            m = re.search(tpl.replace(r"\{v\}", "(.+?)"), text)
            if m:
                facts[i] = m.group(1)
        assert uc._document(town, facts, lang) == text, path
    for question, _ in TOWNS_QUESTIONS:
        hits = towns.search(question, k=TOWNS_K)
        lang = "zh" if re.search("[\u4e00-\u9fff]", question) else "en"
        sources = [(h.location(), h.text) for h in hits]
        assert build_messages(question, hits) == uc.rag_messages(question, sources, lang)


def test_towns_demo_prints_the_cited_source_and_who_refused(
    towns: Index, tmp_path: Path, capsys
) -> None:
    def reply(messages: list[dict]) -> str:
        q = messages[-1]["content"]
        return "红枫镇的人口是31243 [1]。" if "红枫镇" in q else REFUSAL["en"]

    model = ScriptedModel(reply)
    towns_demo(model, TOWNS_QUESTIONS, tmp_path / "idx")
    out = capsys.readouterr().out
    assert "cited [1] notes/town_12.md: 红枫镇的人口是31243。" in out
    assert "answered by: scripted (support 1.00 >= 0.641); cited [1]" in out
    assert "The documents do not say.\n" in out and "refused by: the model scripted" in out
    assert len(model.calls) == 2
    # a question the gate refuses: no model call, then the model asked with the gate off
    model = ScriptedModel(lambda m: REFUSAL["zh"])
    towns_demo(model, [("清泉村有多少人口？", "unanswerable")], tmp_path / "idx2")
    out = capsys.readouterr().out
    assert "refused by: the support gate (support 0.45 < 0.641); no model was asked" in out
    assert "gate off (min_support 0), scripted replies: '文档中没有提到。' -> refused too" in out
    assert len(model.calls) == 1


@pytest.mark.skipif(
    not (ASSET_DIR / "model.safetensors").is_file(),
    reason=f"no tiny-universe weights in {ASSET_DIR}",
)
def test_demo_command_on_tiny_universe() -> None:
    """End to end on the shipped model (structure only: the content is checked with the trained
    weights in qwen-blog's universe tests)."""
    r = subprocess.run(
        [sys.executable, "-m", "tinyrag", "demo", "--model", "tiny-universe"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "indexed 8 documents about fictional towns" in out
    assert "=== 1/2 answerable" in out and "=== 2/2 unanswerable" in out
    assert out.count("\nSources:\n") >= 2 and " notes/town_12.md, chars 0-34" in out
    assert len(re.findall(r"^(answered|refused) by: ", out, re.M)) == 2
