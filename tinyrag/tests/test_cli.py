"""CLI end to end: index, search --json, ask (extractive), eval, demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyrag", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    (docs / "rope.md").write_text(
        "# RoPE\n\nQwen2 使用旋转位置编码（RoPE）。rope_theta 为一百万。\n", encoding="utf-8"
    )
    (docs / "gqa.md").write_text(
        "# GQA\n\nQwen2 uses grouped-query attention to shrink the KV cache.\n", encoding="utf-8"
    )
    (docs / "broken.json").write_text("{", encoding="utf-8")
    r = run("index", str(docs), "--index", str(root / "idx"))
    assert r.returncode == 0, r.stderr
    assert "2 new" in r.stdout and "1 failed" in r.stdout and "broken.json" in r.stderr
    return root


def test_search_json(built: Path) -> None:
    r = run("search", "旋转位置编码", "--index", str(built / "idx"), "--k", "2", "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["source"] == "rope.md" and hits[0]["score"] > 0
    text = (built / "docs" / "rope.md").read_text(encoding="utf-8")
    assert text[hits[0]["start"] : hits[0]["end"]] == hits[0]["text"]


def test_ask_extractive_and_chat(built: Path) -> None:
    r = run("ask", "What does grouped-query attention shrink?", "--index", str(built / "idx"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("[Extractive answer: no language model") and "[1]" in r.stdout
    assert "*[1] gqa.md" in r.stdout
    r = run("chat", "--index", str(built / "idx"), stdin="旋转位置编码是什么\n/exit\n")
    assert r.returncode == 0 and "rope.md" in r.stdout


def test_errors_are_clear(tmp_path: Path) -> None:
    r = run("search", "x", "--index", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no index here" in r.stderr


def test_eval_squad_file(tmp_path: Path) -> None:
    squad = {"data": [{"title": "t", "paragraphs": [
        {"id": "p1", "context": "北京是中国的首都。", "qas": [{"id": "a", "question": "中国的首都是哪里", "answers": [{"text": "北京", "answer_start": 0}]}]},
        {"id": "p2", "context": "巴黎是法国的首都。", "qas": [{"id": "b", "question": "法国的首都是哪里", "answers": [{"text": "巴黎", "answer_start": 0}]}]},
    ]}]}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    r = run("eval", "--squad", str(tmp_path / "s.json"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["queries"] == 2 and out["MRR@10"] == 1.0 and out["nDCG@10"] == 1.0


def test_eval_answer_em_f1_with_a_model(tmp_path: Path) -> None:
    """EM/F1 path: a scripted model that copies the first source's first clause."""
    from conftest import ScriptedModel

    from tinyrag.datasets import RetrievalSet
    from tinyrag.evaluate import evaluate

    docs = {"p1": "北京是中国的首都。", "p2": "巴黎是法国的首都。"}
    ds = RetrievalSet(
        "toy", docs, {"a": "中国的首都是哪里", "b": "法国的首都是哪里"}, {"a": {"p1": 1}, "b": {"p2": 1}},
        answers={"a": ["北京"], "b": ["巴黎"]},
    )  # fmt: skip

    def reply(messages: list[dict]) -> str:
        first = messages[-1]["content"].split("\n")[3]  # the text line of source [1]
        return first[:2] + " [1]"

    r = evaluate(ds, model=ScriptedModel(reply), answer_k=1)
    assert r["answered"] == 2 and r["EM"] == 1.0 and r["F1"] == 1.0


def test_demo_fallback_uses_tinyrags_readme(tmp_path: Path) -> None:
    from tinyrag import Index, answer_question
    from tinyrag.demo import DEMO_QUESTION_FALLBACK, demo_files

    (tmp_path / "tinyrag").mkdir()  # a repo root with no docs besides tinyrag's
    root, files, fallback = demo_files(tmp_path)
    assert fallback and [f.name for f in files] == ["README.md"]
    index, _ = Index.build(root, None, files=files)
    a = answer_question(index, DEMO_QUESTION_FALLBACK)
    assert a.extractive and not a.refused and "token" in a.text


def test_demo_answers_about_qwen2() -> None:
    r = run("demo")
    assert r.returncode == 0, r.stderr
    assert "Qwen2" in r.stdout and "抽取式答案" in r.stdout and "*[" in r.stdout


def test_index_onto_an_existing_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n内容。\n", encoding="utf-8")
    (tmp_path / "taken").write_text("not an index")
    r = run("index", str(tmp_path / "docs"), "--index", str(tmp_path / "taken"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "is not a folder" in r.stderr


def test_chat_verbose_shows_the_standalone_query(built: Path) -> None:
    r = run("chat", "--index", str(built / "idx"), "--verbose",
            stdin="Qwen2 的旋转位置编码\n它的 theta 是多少\n/exit\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "(standalone query: Qwen2 的旋转位置编码 它的 theta 是多少)" in r.stderr
    assert r.stdout.count("rope.md") >= 2  # the follow-up retrieved the RoPE doc too


def test_rerank_without_a_model_is_one_line(built: Path) -> None:
    r = run("ask", "RoPE", "--index", str(built / "idx"), "--rerank")
    assert (
        r.returncode == 2 and "--rerank needs a model" in r.stderr and "Traceback" not in r.stderr
    )


def test_unsupported_files_are_reported_grouped_by_type(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("# A\n\n内容。\n", encoding="utf-8")
    for i in range(5):
        (tmp_path / "d" / f"fig{i}.png").write_bytes(b"\x89PNG")
    r = run("index", str(tmp_path / "d"), "--index", str(tmp_path / "idx"))
    assert r.returncode == 0, r.stderr
    assert "5 unsupported files skipped" in r.stdout
    (line,) = [ln for ln in r.stderr.splitlines() if ".png" in ln]
    assert "fig0.png, fig1.png, fig2.png and 2 more: unsupported file type .png" in line


def test_eval_answers_extractive(tmp_path: Path) -> None:
    squad = {"data": [{"title": "t", "paragraphs": [
        {"id": "p1", "context": "北京是中国的首都。", "qas": [{"id": "a", "question": "中国的首都是哪里", "answers": [{"text": "北京", "answer_start": 0}]}]},
        {"id": "p2", "context": "巴黎是法国的首都。", "qas": [{"id": "b", "question": "法国的首都是哪里", "answers": [{"text": "巴黎", "answer_start": 0}]}]},
    ]}]}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    r = run("eval", "--squad", str(tmp_path / "s.json"), "--answers", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answered"] == 2 and out["model"] == "extractive" and out["judge"] == "lexical"
    assert out["answer_in_text"] == 1.0 and out["faithfulness"] == 1.0 and out["refused"] == 0.0
