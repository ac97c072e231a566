"""Embedding-model query formats (gte-Qwen2 vs Qwen3-Embedding) and their record in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ScriptedModel

from tinyrag.embedder import DEFAULT_INSTRUCTION, Embedder, query_format_for
from tinyrag.index import Index


def test_query_formats_differ_by_the_documented_space() -> None:
    gte = Embedder(ScriptedModel())
    qwen3 = Embedder(ScriptedModel(), query_format="qwen3-embedding")
    assert gte.query_text("RoPE?") == f"Instruct: {DEFAULT_INSTRUCTION}\nQuery: RoPE?"
    assert qwen3.query_text("RoPE?") == f"Instruct: {DEFAULT_INSTRUCTION}\nQuery:RoPE?"
    assert Embedder(ScriptedModel(), instruction=None).query_text("RoPE?") == "RoPE?"
    with pytest.raises(ValueError, match="query_format"):
        Embedder(ScriptedModel(), query_format="bge")


def test_format_from_the_model_name() -> None:
    assert query_format_for("~/models/Qwen3-Embedding-0.6B") == "qwen3-embedding"
    assert query_format_for("Alibaba-NLP/gte-Qwen2-1.5B-instruct") == "gte-qwen2"
    assert query_format_for("http://127.0.0.1:8000/v1") == "gte-qwen2"


def test_manifest_records_a_non_default_format_and_query_uses_it(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("# RoPE\n\n旋转位置编码。\n", encoding="utf-8")
    model = ScriptedModel()
    emb = Embedder(model, query_format="qwen3-embedding")
    Index.build(tmp_path / "d", tmp_path / "q3", embedder=emb, embedder_spec="Qwen3-Embedding")
    m = Index.read_manifest(tmp_path / "q3")
    assert m["embedder"]["query_format"] == "qwen3-embedding"
    Index.build(tmp_path / "d", tmp_path / "gte", embedder=Embedder(model), embedder_spec="gte")
    assert "query_format" not in Index.read_manifest(tmp_path / "gte")["embedder"]  # old layout
    # a changed format re-embeds (query and document vectors must come from one convention)
    _, report = Index.build(tmp_path / "d", tmp_path / "q3", embedder=Embedder(model),
                            embedder_spec="Qwen3-Embedding")  # fmt: skip
    assert report.full_rebuild_reason == "embedder changed"
    index = Index.load(tmp_path / "q3", embedder=emb)
    model.calls.clear()
    index.search("旋转", k=1, mode="dense")
    assert model.calls == [("embed", [f"Instruct: {DEFAULT_INSTRUCTION}\nQuery:旋转"])]
