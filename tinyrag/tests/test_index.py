"""On-disk index: incremental updates touch only changed files; interrupted builds are harmless."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ScriptedModel

from tinyrag import loaders
from tinyrag.analyzers import Analyzer
from tinyrag.embedder import Embedder
from tinyrag.index import Index

FILES = {
    "qwen/attention.md": "# 注意力\n\nQwen2 使用分组查询注意力（GQA）。多个查询头共享一组键值头。\n\n## 掩码\n\n因果掩码保证只看左边。\n",
    "qwen/rope.md": "# RoPE\n\n旋转位置编码把位置信息旋转进查询和键。rope_theta 是一百万。\n",
    "notes/bm25.txt": "BM25 ranks documents by term frequency, inverse document frequency and length.\n",
    "notes/faq.json": json.dumps(
        [{"id": "q1", "text": "RMSNorm 不减去均值。"}, {"id": "q2", "text": "SwiGLU 是门控激活。"}],
        ensure_ascii=False,
    ),
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def results(index: Index, q: str) -> list[tuple[str, int, int, float]]:
    return [
        (h.source, h.start, h.end, round(h.score, 9)) for h in index.search(q, k=10, mode="bm25")
    ]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_tree(tmp_path / "docs", FILES)
    return tmp_path / "docs"


def test_build_load_search_and_offsets(tree: Path, tmp_path: Path) -> None:
    index, report = Index.build(tree, tmp_path / "idx")
    assert sorted(report.new) == sorted(FILES) and report.failed == []
    loaded = Index.load(tmp_path / "idx")
    assert results(loaded, "分组查询注意力") == results(index, "分组查询注意力")
    hit = loaded.search("旋转位置编码", k=1)[0]
    assert hit.source == "qwen/rope.md"
    src = (tree / hit.source).read_text(encoding="utf-8")
    assert src[hit.start : hit.end] == hit.text  # offsets map back into the file
    assert loaded.search("因果掩码", k=1)[0].chunk["heading_path"] == ["注意力", "掩码"]
    assert [h.source for h in loaded.search("门控激活", k=5, where={"ext": ".json"})] == [
        "notes/faq.json"
    ]


def test_line_separator_characters_survive_a_reload(tmp_path: Path) -> None:
    """U+2028 / U+2029 stay raw in chunks.jsonl (json.dumps with ensure_ascii=False); loading
    splits lines at "\n" only, so such a chunk comes back whole."""
    write_tree(tmp_path / "docs", {"web.txt": "第一行\u2028仍是同一段\u2029结束。\n"})
    built, _ = Index.build(tmp_path / "docs", tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx")
    assert [c["text"] for c in loaded.chunks] == [c["text"] for c in built.chunks]
    assert "\u2028" in loaded.chunks[0]["text"]


def test_bm25_of_a_built_index_equals_a_fit_on_its_chunks(tree: Path, tmp_path: Path) -> None:
    """The streamed build gives the same postings and scores as BM25.fit on the analysed chunks."""
    from tinyrag.bm25 import BM25
    from tinyrag.index import index_text

    index, _ = Index.build(tree, tmp_path / "idx")
    ref = BM25.fit([index.analyzer(index_text(c)) for c in index.chunks])
    loaded = Index.load(tmp_path / "idx").bm25
    for bm in (index.bm25, loaded):
        assert bm.vocab == ref.vocab
        for name in ("indptr", "doc_ids", "tfs", "doc_len", "impacts"):
            np.testing.assert_array_equal(getattr(bm, name), getattr(ref, name))


def test_incremental_touches_only_changed_files(tree: Path, tmp_path: Path, monkeypatch) -> None:
    model = ScriptedModel()
    emb = Embedder(model)
    Index.build(tree, tmp_path / "idx", embedder=emb, embedder_spec="scripted")
    (tree / "qwen/rope.md").write_text(
        "# RoPE\n\n旋转位置编码的 theta 改成了一千万。\n", encoding="utf-8"
    )
    (tree / "notes/bm25.txt").unlink()
    (tree / "notes/new.md").write_text(
        "# 新文件\n\n滑动窗口注意力只看最近的词。\n", encoding="utf-8"
    )
    loaded_paths: list[str] = []
    real_load = loaders.load_file
    monkeypatch.setattr(
        loaders,
        "load_file",
        lambda p, source=None: loaded_paths.append(source) or real_load(p, source),
    )
    model.calls.clear()
    index, report = Index.build(tree, tmp_path / "idx", embedder=emb, embedder_spec="scripted")
    assert sorted(loaded_paths) == ["notes/new.md", "qwen/rope.md"]
    assert report.changed == ["qwen/rope.md"] and report.new == ["notes/new.md"]
    assert report.removed == ["notes/bm25.txt"]
    assert sorted(report.unchanged) == ["notes/faq.json", "qwen/attention.md"]
    embedded = [t for kind, texts in model.calls if kind == "embed" for t in texts]
    assert embedded and all(("一千万" in t) or ("滑动窗口" in t) for t in embedded)
    # the incremental index equals a fresh full build of the same files
    fresh, _ = Index.build(tree, tmp_path / "fresh", embedder=emb, embedder_spec="scripted")
    for q in ("旋转位置编码", "注意力", "BM25 frequency", "滑动窗口"):
        assert sorted(results(index, q)) == sorted(results(fresh, q))
    key = lambda c: (c["source"], c["start"])  # noqa: E731
    order_i = sorted(range(len(index.chunks)), key=lambda i: key(index.chunks[i]))
    order_f = sorted(range(len(fresh.chunks)), key=lambda i: key(fresh.chunks[i]))
    np.testing.assert_allclose(
        index.vectors.vectors[order_i], fresh.vectors.vectors[order_f], atol=1e-7
    )
    assert not any(c["source"] == "notes/bm25.txt" for c in Index.load(tmp_path / "idx").chunks)
    # nothing changed -> nothing loaded
    loaded_paths.clear()
    _, report = Index.build(tree, tmp_path / "idx", embedder=emb, embedder_spec="scripted")
    assert loaded_paths == [] and len(report.unchanged) == 4


def test_changed_settings_force_a_full_rebuild(tree: Path, tmp_path: Path) -> None:
    Index.build(tree, tmp_path / "idx")
    _, report = Index.build(tree, tmp_path / "idx", analyzer=Analyzer(chinese="bigram"))
    assert report.full_rebuild_reason == "analyzer changed" and len(report.new) == 4


def test_exception_mid_write_keeps_previous_index(tree: Path, tmp_path: Path, monkeypatch) -> None:
    Index.build(tree, tmp_path / "idx")
    before = results(Index.load(tmp_path / "idx"), "注意力")
    (tree / "qwen/attention.md").write_text("# 注意力\n\n完全不同的内容。\n", encoding="utf-8")
    from tinyrag.bm25 import BM25

    def boom(self, directory):
        (Path(directory) / "bm25.npz").write_bytes(b"half written")
        raise OSError("disk full (injected)")

    monkeypatch.setattr(BM25, "save", boom)
    with pytest.raises(OSError, match="injected"):
        Index.build(tree, tmp_path / "idx")
    monkeypatch.undo()
    assert results(Index.load(tmp_path / "idx"), "注意力") == before
    _, report = Index.build(tree, tmp_path / "idx")  # the next build cleans up and succeeds
    assert report.changed == ["qwen/attention.md"]
    assert [p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("gen-")] == [
        "gen-000002"
    ]


KILL_SCRIPT = """
import sys, time
from pathlib import Path
import tinyrag.bm25
from tinyrag.index import Index
real_save_npz = tinyrag.bm25.save_npz
def slow_save_npz(path, arrays):
    real_save_npz(path, arrays)
    Path(sys.argv[3]).write_text("writing")
    time.sleep(60)
tinyrag.bm25.save_npz = slow_save_npz
Index.build(sys.argv[1], sys.argv[2])
"""


def test_killed_build_keeps_previous_index(tree: Path, tmp_path: Path) -> None:
    Index.build(tree, tmp_path / "idx")
    before = results(Index.load(tmp_path / "idx"), "旋转位置编码")
    (tree / "qwen/rope.md").write_text("# RoPE\n\n被改写的内容。\n", encoding="utf-8")
    flag = tmp_path / "flag"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tree), str(tmp_path / "idx"), str(flag)]
    )
    try:
        deadline = time.time() + 60
        while not flag.exists():
            assert proc.poll() is None and time.time() < deadline, "build finished before the kill"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-write: bm25.npz is on disk, the rest is not
    finally:
        proc.wait()
    assert any(p.name.startswith("gen-000002.tmp") for p in (tmp_path / "idx").iterdir())
    assert results(Index.load(tmp_path / "idx"), "旋转位置编码") == before


def test_manifest_errors_name_the_field(tmp_path: Path, tree: Path) -> None:
    Index.build(tree, tmp_path / "idx")
    m = json.loads((tmp_path / "idx/manifest.json").read_text())
    m["version"] = 99
    (tmp_path / "idx/manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="'version' is 99"):
        Index.load(tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="no index here"):
        Index.load(tmp_path / "nothing")


def test_dense_and_hybrid_search(tree: Path, tmp_path: Path) -> None:
    emb = Embedder(ScriptedModel(), instruction=None)  # a bag-of-bigrams double: no prefix
    Index.build(tree, tmp_path / "idx", embedder=emb, embedder_spec="scripted")
    index = Index.load(tmp_path / "idx", embedder=emb)
    assert index.search("旋转位置编码 rope_theta", k=1, mode="dense")[0].source == "qwen/rope.md"
    hybrid = index.search("分组查询注意力", k=3, mode="auto")
    assert hybrid[0].source == "qwen/attention.md"
    weighted = index.search("分组查询注意力", k=3, mode="hybrid", fusion="weighted")
    assert weighted[0].source == "qwen/attention.md"
    pytest.importorskip("faiss")
    via_faiss = Index.load(tmp_path / "idx", embedder=emb, vector_backend="faiss")
    for q in ("旋转位置编码", "BM25 ranks documents", "门控激活"):
        a, b = index.search(q, k=5, mode="dense"), via_faiss.search(q, k=5, mode="dense")
        assert [h.row for h in a] == [h.row for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    with pytest.raises(ValueError, match="needs an index built with --model"):
        Index.load(tmp_path / "idx").search("x", mode="dense")
