"""``python -m tinyrag demo``: index shipped documents and answer questions with citations.

Two document sets:

* ``project`` (the default): the repository's READMEs and ``qwen-blog/docs``, one question about
  Qwen2's attention (tinyrag's own README and another question when tinyrag was copied out alone);
  without ``--model`` the answer is extractive.
* ``towns`` (the default for ``--model tiny-universe``): ``tinyrag/examples/towns/``, eight
  three-sentence documents about fictional towns, written exactly like the documents
  ``tiny-universe`` was trained on (``qwen_blog/universe_corpus.py``), about the towns its training
  *held out* -- so its answers show generalisation, not memory. One answerable question (the answer
  is printed with its ``[n]`` citation and the cited source's text) and one that no document answers
  (a refusal, with the component that refused: the support gate before any model is asked, or the
  model itself; when the gate refused, the model is then asked anyway, gate off, to show its own
  reply).

    $ python -m tinyrag demo --model tiny-universe
    indexed 8 documents about fictional towns under .../tinyrag/examples/towns: 8 files: 8 new, ...
    === 1/2 answerable: the documents say this ===
    Q: 红枫镇有多少人口？
    红枫镇的人口是31243 [1]。
    ...

Limits: the towns questions are fixed (``--question`` replaces them with one of yours); the demo
does not judge the model's answers -- ``tinyeval`` and qwen-blog's ``universe`` evaluation do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tinyrag.answer import Answer, answer_question
from tinyrag.index import Index
from tinyrag.support import MIN_SUPPORT

DEMO_QUESTION = "Qwen2 为什么使用分组查询注意力（GQA）？"
# asked when only tinyrag's own README is available (tinyrag copied out of the monorepo)
DEMO_QUESTION_FALLBACK = "Qwen2 的句向量是怎么得到的？"

TOWNS_DIR = Path(__file__).resolve().parents[1] / "examples" / "towns"
# (question, what it shows): 红枫镇's document gives its population; no document gives Long River's
TOWNS_QUESTIONS = [
    ("红枫镇有多少人口？", "answerable: the documents say this"),
    ("What is the population of Long River?", "unanswerable: no document says this"),
]
# answers are one short sentence; a small budget leaves the model's context to the sources
TOWNS_MAX_NEW_TOKENS = 64
TOWNS_K = 3  # tiny-universe was trained on prompts with 2-3 sources


def demo_files(root: Path | None = None) -> tuple[Path, list[Path], bool]:
    """(root, markdown files, is_fallback): READMEs + qwen-blog/docs, else tinyrag's own README.

    The demo question is about Qwen2's attention, which qwen-blog/docs answers; a folder copied
    out without qwen-blog falls back to a question tinyrag's README answers."""
    pkg = Path(__file__).resolve().parent
    root = root or pkg.parents[1]  # tinyrag/tinyrag/demo.py -> the repo root
    docs = root / "qwen-blog" / "docs"
    if not docs.is_dir():
        return pkg.parent, [pkg.parent / "README.md"], True
    files = [root / "README.md"] + sorted(root.glob("*/README.md")) + sorted(docs.rglob("*.md"))
    return root, [f for f in files if f.is_file() and ".venv" not in f.parts], False


def project_demo(model: Any, question: str | None, index_path: Path) -> None:
    """Index the project's docs and answer one question about Qwen2."""
    root, files, fallback = demo_files()
    question = question or (DEMO_QUESTION_FALLBACK if fallback else DEMO_QUESTION)
    index, report = Index.build(root, index_path, files=files)
    print(f"indexed {len(files)} markdown files under {root}: {report.summary()}")
    print(f"\nQ: {question}\n")
    a = answer_question(index, question, model, k=5)
    print(f"{a.text}\n{a.sources_text()}")


def _verdict(a: Answer, min_support: float) -> str:
    """One line: who answered or refused, and the gate's number behind it."""
    gate = f"support {a.support:.2f} {'<' if a.support < min_support else '>='} {min_support}"
    if a.refused_by == "gate":
        return f"refused by: the support gate ({gate}); no model was asked"
    who = a.model or "the extractive answerer (no model)"
    if a.refused_by == "model":
        return f"refused by: the model {who} ({gate}: the gate let the question through)"
    return f"answered by: {who} ({gate}); cited {a.citations or 'nothing'}"


def towns_demo(
    model: Any, questions: list[tuple[str, str]], index_path: Path, folder: Path = TOWNS_DIR
) -> None:
    """Index ``folder`` and ask each question: the answer, its citations with the cited text, and
    who answered or refused. A gate refusal with a model is followed by the model's own reply."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the towns documents are missing: {folder} (they ship in a checkout of tinyrag)"
        )
    files = sorted(folder.rglob("*.md"))
    index, report = Index.build(folder, index_path, files=files)
    print(
        f"indexed {len(files)} documents about fictional towns under {folder}: {report.summary()}\n"
        "(tiny-universe's held-out towns: none of them is in its training data)"
    )
    for i, (question, what) in enumerate(questions, 1):
        print(f"\n=== {i}/{len(questions)} {what} ===\nQ: {question}\n")
        a = answer_question(index, question, model, k=TOWNS_K, max_new_tokens=TOWNS_MAX_NEW_TOKENS)
        print(f"{a.text.strip() or '(an empty reply)'}\n{a.sources_text()}")
        for n in a.citations:
            h = a.sources[n - 1]
            print(f"cited [{n}] {h.source}: {' '.join(h.text.split())}")
        print(_verdict(a, MIN_SUPPORT))
        if a.refused_by == "gate" and model is not None and a.sources:
            # the model's own behaviour on the same question, without the gate in front of it
            b = answer_question(
                index, question, model, k=TOWNS_K, max_new_tokens=TOWNS_MAX_NEW_TOKENS,
                min_support=0.0,
            )  # fmt: skip
            said = "refused too" if b.refused else f"answered, citing {b.citations or 'nothing'}"
            print(f"gate off (min_support 0), {a.model} replies: {b.text.strip()!r} -> {said}")


def run_demo(model: Any, docs: str, question: str | None, index: str | None) -> None:
    """The ``demo`` command: ``docs`` is "project" or "towns"; the index goes to ``index`` or a
    temporary folder."""
    with tempfile.TemporaryDirectory(prefix="tinyrag-demo-") as tmp:
        path = Path(index) if index else Path(tmp) / "index"
        if docs == "towns":
            towns_demo(model, [(question, "your question")] if question else TOWNS_QUESTIONS, path)
        else:
            project_demo(model, question, path)
