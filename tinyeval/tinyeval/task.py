"""Task configs (``tinyeval/tasks/*.json``) and their examples.

A task is one small JSON file: where the data is, how to build a prompt, how many tokens to
generate, which metric scores it. Example (``tasks/multifieldqa_zh.json``)::

    {"name": "multifieldqa_zh", "type": "generate",
     "data": {"path": "tinyeval/dataset/multifieldqa_zh.jsonl", "format": "longbench"},
     "prompt": "阅读以下文字并用中文简短回答：\\n\\n{context}\\n\\n...问题：{input}\\n回答：",
     "max_new_tokens": 64, "metric": "qa_f1_zh", "chat": true}

``type`` is ``generate`` (free text, scored by ``metric``), ``multiple_choice`` (log-likelihood of
each choice, or a generated letter when the backend has no log-likelihood) or ``perplexity``.

Data paths are relative to the data directory (``--data-dir``, else ``$TINYU_DATA_DIR``, else
``~/.cache/tiny-universe/data``, filled by ``python -m tinyeval data fetch NAME``; the first path
component is the dataset's name) — data never lives in the code — except ``builtin:`` paths, which
name the tiny demo files shipped in ``tinyeval/data/``.

    >>> t = load_task("demo_qa_en")
    >>> t.metric, t.type
    ('qa_f1', 'generate')
    >>> len(load_examples(t, limit=2))
    2

Formats: ``longbench`` (jsonl: context/input/answers/all_classes/length), ``jsonl`` (any fields,
``answer_field`` names the gold), ``concat_json`` (pretty-printed JSON objects one after another,
the seed's GAOKAO_math.jsonl), ``csv`` (multiple choice; ``fields`` maps columns; a glob path, one
subject per file, ``subject_pattern`` pulls the subject out of the file name).
"""

from __future__ import annotations

import csv
import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASK_TYPES = ("generate", "multiple_choice", "perplexity")
LETTERS = "ABCDEFGHIJ"


@dataclass
class Task:
    name: str
    type: str
    data: dict[str, Any]
    prompt: str = "{input}"
    metric: str | None = None
    max_new_tokens: int = 64
    chat: bool = True
    first_line: bool = False
    stop: list[str] | None = None
    answer_field: str = "answers"
    fewshot: dict[str, Any] | None = None
    question_template: str | None = None
    target_delimiter: str = " "
    continuation: str = "letter"  # multiple choice: score " A" (letter) or " <choice text>" (text)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> Task:
        known = set(cls.__dataclass_fields__) - {"extra"}
        for key in ("name", "type", "data"):
            if key not in d:
                raise ValueError(f"{source}: task config is missing field {key!r}")
        if d["type"] not in TASK_TYPES:
            raise ValueError(
                f"{source}: field 'type' is {d['type']!r}, expected one of {TASK_TYPES}"
            )
        if d["type"] == "generate" and not d.get("metric"):
            raise ValueError(f"{source}: a 'generate' task needs field 'metric'")
        if d.get("continuation", "letter") not in ("letter", "text"):
            raise ValueError(f"{source}: field 'continuation' must be 'letter' or 'text'")
        if "path" not in d["data"]:
            raise ValueError(f"{source}: field 'data.path' is missing")
        task = cls(**{k: v for k, v in d.items() if k in known})
        task.extra = {k: v for k, v in d.items() if k not in known}
        return task


def task_dir() -> Path:
    return Path(__file__).resolve().parent / "tasks"


def list_tasks() -> list[str]:
    return sorted(p.stem for p in task_dir().glob("*.json"))


def load_task(name_or_path: str) -> Task:
    """A task by name (``tinyeval/tasks/NAME.json``) or by path to a JSON file."""
    path = Path(name_or_path)
    if not (path.suffix == ".json" and path.exists()):
        path = task_dir() / f"{name_or_path}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"unknown task {name_or_path!r}; known tasks: {', '.join(list_tasks())}"
        )
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON: {e}") from e
    return Task.from_dict(d, str(path))


def default_data_dir() -> Path:
    """``$TINYU_DATA_DIR``, else ``~/.cache/tiny-universe/data`` (see tinyqwen.data_cache)."""
    from tinyqwen.data_cache import data_dir

    return data_dir()


def resolve_path(path: str, data_dir: str | Path | None) -> Path:
    if path.startswith("builtin:"):
        return Path(__file__).resolve().parent / "data" / path[len("builtin:") :]
    return Path(data_dir or default_data_dir()) / path


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: invalid JSON line: {e}") from e
    return rows


def _read_concat_json(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    decoder, pos, rows = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return rows
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON object at char {pos}: {e}") from e
        rows.extend(obj if isinstance(obj, list) else [obj])


def _files(task: Task, data_dir: str | Path | None) -> list[Path]:
    pattern = str(resolve_path(task.data["path"], data_dir))
    files = sorted(Path(p) for p in glob.glob(pattern))
    if not files:
        from tinyqwen.data_cache import missing_hint

        dataset = task.data["path"].split("/")[0]
        raise FileNotFoundError(
            f"task {task.name!r}: no data at {pattern} (field 'data.path'); "
            + missing_hint("python -m tinyeval", dataset)
        )
    return files


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _csv_examples(task: Task, path: Path) -> list[dict]:
    fields = task.data.get("fields", {})
    q_col = fields.get("question", "question")
    choice_cols = fields.get("choices", ["A", "B", "C", "D"])
    a_col = fields.get("answer", "answer")
    subject = path.stem
    if task.data.get("subject_pattern"):
        m = re.fullmatch(task.data["subject_pattern"], path.name)
        if m:
            subject = m.group("subject")
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.DictReader(f), 2):
            missing = [c for c in [q_col, *choice_cols, a_col] if c not in row]
            if missing:
                raise ValueError(f"{path}:{lineno}: missing column(s) {missing}")
            answer = row[a_col].strip()
            if answer.isdigit():  # MMLU copy: 0-based index
                answer = LETTERS[int(answer)]
            if answer not in LETTERS[: len(choice_cols)]:
                raise ValueError(f"{path}:{lineno}: answer {row[a_col]!r} is not a choice letter")
            rec = {
                "question": row[q_col],
                "choices": [row[c] for c in choice_cols],
                "answers": [answer],
                "subject": subject,
                "subject_name": subject.replace("_", " "),
            }
            for i, c in enumerate(rec["choices"]):
                rec[LETTERS[i]] = c
            rows.append(rec)
    return rows


def _fewshot_block(task: Task, subject: str, data_dir: str | Path | None, cache: dict) -> str:
    """k solved examples of the same subject, formatted like the question (first k rows)."""
    if not task.fewshot or task.fewshot.get("k", 0) <= 0:
        return ""
    if subject in cache:
        return cache[subject]
    path = resolve_path(task.fewshot["path"].format(subject=subject), data_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"task {task.name!r}: few-shot file {path} not found (field 'fewshot.path')"
        )
    k = task.fewshot["k"]
    if path.suffix == ".csv":
        shots = _csv_examples(task, path)[:k]
        fmt = task.question_template or "{question}"
        block = "".join(
            fmt.format(**s) + task.target_delimiter + s["answers"][0] + "\n\n" for s in shots
        )
    else:
        shots = _read_jsonl(path)[:k]
        shot_fmt = task.fewshot["template"]
        block = "".join(shot_fmt.format(**s) + task.fewshot.get("delimiter", "\n\n") for s in shots)
    cache[subject] = block
    return block


def load_examples(
    task: Task, data_dir: str | Path | None = None, limit: int | None = None
) -> list[dict]:
    """Examples as dicts with ``idx``, ``prompt``, ``answers`` (list) and task-specific fields."""
    fmt = task.data.get("format", "jsonl")
    rows: list[dict] = []
    for path in _files(task, data_dir):
        if fmt == "csv":
            rows.extend(_csv_examples(task, path))
        elif fmt == "concat_json":
            rows.extend(_read_concat_json(path))
        elif fmt in ("jsonl", "longbench"):
            rows.extend(_read_jsonl(path))
        else:
            raise ValueError(f"task {task.name!r}: unknown data.format {fmt!r}")
        if limit is not None and len(rows) >= limit:
            break
    if limit is not None:
        rows = rows[:limit]
    names: dict = {}
    # e.g. C-Eval subject_mapping.json: subject -> [en, zh, category]
    if task.data.get("subject_names"):
        names_path = resolve_path(task.data["subject_names"], data_dir)
        names = json.loads(names_path.read_text(encoding="utf-8"))
    shots_cache: dict[str, str] = {}
    examples = []
    for idx, row in enumerate(rows):
        ex = dict(row)
        ex["idx"] = idx
        if task.type == "perplexity":
            if "text" not in ex:
                raise ValueError(f"task {task.name!r}: example {idx} has no 'text' field")
            examples.append(ex)
            continue
        if task.answer_field not in ex:
            raise ValueError(
                f"task {task.name!r}: example {idx} has no answer field {task.answer_field!r}"
            )
        ex["answers"] = _as_list(ex[task.answer_field])
        if task.type == "multiple_choice" and "choices" not in ex:
            ex["choices"] = [ex[letter] for letter in LETTERS if letter in ex]
        if ex.get("subject") in names:
            ex["subject_name"] = names[ex["subject"]][task.data.get("subject_name_index", 0)]
        ex.setdefault("all_classes", None)
        ex.setdefault("length", None)
        header = task.prompt.format(**ex) if task.type == "multiple_choice" else ""
        shots = _fewshot_block(task, ex.get("subject", ""), data_dir, shots_cache)
        if task.type == "multiple_choice":
            ex["prompt"] = header + shots + (task.question_template or "{question}").format(**ex)
        else:
            try:
                ex["prompt"] = shots + task.prompt.format(**ex)
            except KeyError as e:
                raise ValueError(
                    f"task {task.name!r}: prompt uses field {e} missing in example {idx}"
                ) from e
        examples.append(ex)
    return examples
