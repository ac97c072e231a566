"""Task configs (``tinyeval/tasks/*.json``) and their examples.

A task is one small JSON file: where the data is, how to build a prompt, how many tokens to
generate, which metric scores it. Example (``tasks/multifieldqa_zh.json``)::

    {"name": "multifieldqa_zh", "type": "generate",
     "data": {"path": "tinyeval/dataset/multifieldqa_zh.jsonl", "format": "longbench"},
     "prompt": "阅读以下文字并用中文简短回答：\\n\\n{context}\\n\\n...问题：{input}\\n回答：",
     "max_new_tokens": 64, "metric": "qa_f1_zh", "chat": true}

``type`` is ``generate`` (free text, scored by ``metric``), ``multiple_choice`` (log-likelihood of
each choice, or a generated letter when the backend has no log-likelihood), ``perplexity``, or
``conversation`` (each example is a list of chat messages, maybe with ``tools`` and an open assistant
turn to continue; the reply -- text and parsed tool calls -- is scored by ``metric``).

Data paths are relative to the data directory (``--data-dir``, else ``$TINYU_DATA_DIR``, else
``~/.cache/tiny-universe/data``, filled by ``python -m tinyeval data fetch NAME``; the first path
component is the dataset's name) — data never lives in the code — except ``builtin:`` paths, which
name the tiny demo files shipped in ``tinyeval/data/``, and ``tiny-universe:`` paths, which name
files shipped beside the ``tiny-universe`` model (``tinyqwen.tiny_universe.ASSET_DIR``).

    >>> t = load_task("demo_qa_en")
    >>> t.metric, t.type
    ('qa_f1', 'generate')
    >>> len(load_examples(t, limit=2))
    2

Formats: ``longbench`` (jsonl: context/input/answers/all_classes/length), ``jsonl`` (any fields,
``answer_field`` names the gold), ``concat_json`` (pretty-printed JSON objects one after another,
the seed's GAOKAO_math.jsonl), ``csv`` (multiple choice; ``fields`` maps columns; a glob path, one
subject per file, ``subject_pattern`` pulls the subject out of the file name), ``tiny_universe``
(tiny-universe's ``heldout.jsonl``, turned into conversations by ``tinyeval/universe.py``;
``data.subtasks`` picks some of them).
"""

from __future__ import annotations

import csv
import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyeval.judge import check_judge_config
from tinyeval.metrics.resolve import Metric, resolve_metric
from tinyeval.template import check_template, safe_format
from tinyeval.universe import PATH_PREFIX as UNIVERSE_PREFIX
from tinyeval.universe import asset_path, universe_rows

TASK_TYPES = ("generate", "multiple_choice", "perplexity", "conversation")
LETTERS = "ABCDEFGHIJ"


# A task name becomes a file name under --out: one plain path component, never "..", "/" or "C:".
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


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
    answer_type: str | None = None  # "list" (LongBench answers) | "string" (one gold string)
    fewshot: dict[str, Any] | None = None
    question_template: str | None = None
    target_delimiter: str = " "
    continuation: str = "letter"  # multiple choice: score " A" (letter) or " <choice text>" (text)
    description: str = ""
    length_buckets: bool = False  # LongBench-E: also score 0-4k / 4-8k / 8k+ by "length"
    record_fields: list[str] | None = None  # example fields copied into prediction records
    judge: dict[str, Any] | list[dict[str, Any]] | None = None  # LLM-as-judge (see judge.py)
    extra: dict[str, Any] = field(default_factory=dict)
    base_dir: str | None = None  # folder of the config file: where "file.py:fn" metrics are found

    def __post_init__(self) -> None:
        if self.answer_type is None:
            self.answer_type = "list" if self.answer_field == "answers" else "string"

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], source: str = "<dict>", base_dir: str | None = None
    ) -> Task:
        """Validate every field (types, ranges, templates, the metric) and build the task."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: a task config must be a JSON object")
        known = set(cls.__dataclass_fields__) - {"extra", "base_dir"}
        for key in ("name", "type", "data"):
            if key not in d:
                raise ValueError(f"{source}: task config is missing field {key!r}")
        _validate(d, source)
        task = cls(**{k: v for k, v in d.items() if k in known}, base_dir=base_dir)
        task.extra = {k: v for k, v in d.items() if k not in known}
        if task.metric is not None:
            try:
                task.resolved_metric()
            except ValueError as e:
                raise ValueError(f"{source}: field 'metric': {e}") from e
        return task

    def resolved_metric(self, override: str | None = None) -> Metric:
        """The metric function (``override`` replaces the config's, e.g. ``score --metric``)."""
        spec = override or self.metric
        if spec is None:
            raise ValueError(f"task {self.name!r} has no metric")
        return resolve_metric(spec, self.base_dir)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _validate(d: dict[str, Any], source: str) -> None:
    def bad(key: str, why: str) -> ValueError:
        return ValueError(f"{source}: field {key!r} {why}")

    name = d["name"]
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise bad(
            "name",
            f"is {name!r}; a task name is a file name: letters, digits, '_', '-', '.', "
            "starting with a letter or digit (no '/', no '..')",
        )
    if d["type"] not in TASK_TYPES:
        raise bad("type", f"is {d['type']!r}, expected one of {TASK_TYPES}")
    if d["type"] in ("generate", "conversation") and not d.get("metric"):
        raise ValueError(f"{source}: a {d['type']!r} task needs field 'metric'")
    data_path = d["data"].get("path") if isinstance(d["data"], dict) else None
    if not (isinstance(data_path, str) or _str_list(data_path) and data_path):
        raise bad(
            "data.path",
            "is missing (data must be an object whose 'path' is a string or a list of "
            "alternative paths)",
        )
    if d.get("record_fields") is not None and not _str_list(d["record_fields"]):
        raise bad("record_fields", "must be a list of field names")
    mnt = d.get("max_new_tokens", 64)
    if isinstance(mnt, bool) or not isinstance(mnt, int) or mnt < 1:
        raise bad("max_new_tokens", f"is {mnt!r}; it must be an integer >= 1")
    for key in ("chat", "first_line", "length_buckets"):
        if not isinstance(d.get(key, False), bool):
            raise bad(key, f"is {d[key]!r}; it must be true or false")
    stop = d.get("stop")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(x, str) for x in stop)):
        raise bad("stop", f"is {stop!r}; it must be a list of strings")
    if d.get("continuation", "letter") not in ("letter", "text"):
        raise bad("continuation", "must be 'letter' or 'text'")
    if d.get("answer_type", "list") not in ("list", "string"):
        raise bad("answer_type", "must be 'list' or 'string'")
    for key in ("prompt", "question_template", "answer_field", "target_delimiter", "metric"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise bad(key, f"must be a string, got {type(d[key]).__name__}")
    for key in ("prompt", "question_template"):
        if d.get(key) is not None:
            check_template(d[key], f"{source}: {key}")
    judge = d.get("judge")
    for cfg in judge if isinstance(judge, list) else [judge] if judge is not None else []:
        check_judge_config(cfg, source)
    shots = d.get("fewshot")
    if shots is not None:
        if not isinstance(shots, dict) or not isinstance(shots.get("path"), str):
            raise bad("fewshot", "must be an object with a string 'path'")
        k = shots.get("k", 0)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise bad("fewshot.k", f"is {k!r}; it must be an integer >= 0")
        if "template" in shots:
            check_template(shots["template"], f"{source}: fewshot.template")


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
    return Task.from_dict(d, str(path), base_dir=str(path.resolve().parent))


def default_data_dir() -> Path:
    """``$TINYU_DATA_DIR``, else ``~/.cache/tiny-universe/data`` (see tinyqwen.data_cache)."""
    from tinyqwen.data_cache import data_dir

    return data_dir()


def resolve_path(path: str, data_dir: str | Path | None, base_dir: str | None = None) -> Path:
    """``builtin:NAME`` → the package's demo data; ``tiny-universe:NAME`` → the tiny-universe
    asset folder; ``./NAME`` or ``../NAME`` → next to the task config (``base_dir``); anything
    else → under the data directory."""
    if path.startswith("builtin:"):
        return Path(__file__).resolve().parent / "data" / path[len("builtin:") :]
    if path.startswith(UNIVERSE_PREFIX):
        return asset_path(path[len(UNIVERSE_PREFIX) :])
    if base_dir and path.startswith(("./", "../")):
        return Path(base_dir) / path
    return Path(data_dir or default_data_dir()) / path


def _read_jsonl(path: Path, with_lines: bool = False) -> list:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    rows.append((lineno, row) if with_lines else row)
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
    """Files of the first ``data.path`` alternative that exists (a glob may match several)."""
    paths = task.data["path"]
    paths = [paths] if isinstance(paths, str) else paths
    tried = []
    for path in paths:
        pattern = str(resolve_path(path, data_dir, task.base_dir))
        files = sorted(Path(p) for p in glob.glob(pattern))
        if files:
            return files
        tried.append(pattern)
    if paths[0].startswith(UNIVERSE_PREFIX):
        raise FileNotFoundError(
            f"task {task.name!r}: no data at {' or '.join(tried)} (field 'data.path'): tiny-universe's "
            "held-out split ships with tinyqwen's tiny-universe assets; reinstall tinyqwen "
            "(pip install -e shared) or train one: python -m qwen_blog universe"
        )
    from tinyqwen.data_cache import missing_hint

    raise FileNotFoundError(
        f"task {task.name!r}: no data at {' or '.join(tried)} (field 'data.path'); "
        + missing_hint("python -m tinyeval", paths[0].split("/")[0])
    )


def _csv_examples(task: Task, path: Path, labeled: bool = True) -> list[dict]:
    """Multiple-choice rows of one subject's CSV; ``labeled=False`` (a test split whose answers
    are not public, ``"data": {"labels": false}``) allows an empty or missing answer column."""
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
            needed = [q_col, *choice_cols, *([a_col] if labeled else [])]
            missing = [c for c in needed if c not in row]
            if missing:
                raise ValueError(f"{path}:{lineno}: missing column(s) {missing}")
            answer = (row.get(a_col) or "").strip()
            if answer.isdigit():  # MMLU copy: 0-based index
                answer = LETTERS[int(answer)] if int(answer) < len(choice_cols) else answer
            if (labeled or answer) and answer not in LETTERS[: len(choice_cols)]:
                raise ValueError(f"{path}:{lineno}: answer {row[a_col]!r} is not a choice letter")
            rec = {
                "question": row[q_col],
                "choices": [row[c] for c in choice_cols],
                "answers": [answer] if answer else [],
                "subject": subject,
                "subject_name": subject.replace("_", " "),
            }
            if row.get("id", "").strip():
                rec["id"] = row["id"].strip()
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
    path = resolve_path(
        safe_format(task.fewshot["path"], {"subject": subject}), data_dir, task.base_dir
    )
    if not path.exists():
        raise FileNotFoundError(
            f"task {task.name!r}: few-shot file {path} not found (field 'fewshot.path')"
        )
    k = task.fewshot["k"]
    if path.suffix == ".csv":
        shots = _csv_examples(task, path)[:k]
        fmt = task.question_template or "{question}"

        def target(s: dict) -> str:  # the answer as the model is scored on it: letter or text
            letter = s["answers"][0]
            return s["choices"][LETTERS.index(letter)] if task.continuation == "text" else letter

        block = "".join(
            safe_format(fmt, s) + task.target_delimiter + target(s) + "\n\n" for s in shots
        )
    else:
        shots = _read_jsonl(path)[:k]
        shot_fmt = task.fewshot["template"]
        delim = task.fewshot.get("delimiter", "\n\n")
        block = "".join(safe_format(shot_fmt, s) + delim for s in shots)
    cache[subject] = block
    return block


def load_examples(
    task: Task, data_dir: str | Path | None = None, limit: int | None = None
) -> list[dict]:
    """Examples as dicts with ``idx``, ``prompt``, ``answers`` (list) and task-specific fields."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an integer >= 0, got {limit!r}")
    fmt = task.data.get("format", "jsonl")
    rows: list[tuple[str, dict]] = []  # (where it came from, row)
    for path in _files(task, data_dir):
        if fmt == "csv":
            labeled = task.data.get("labels", True)
            found = [
                (f"{path}:{i + 2}", r) for i, r in enumerate(_csv_examples(task, path, labeled))
            ]
        elif fmt == "concat_json":
            found = [(f"{path} object {i + 1}", r) for i, r in enumerate(_read_concat_json(path))]
        elif fmt == "tiny_universe":
            found = universe_rows(path, task.data.get("subtasks"))
        elif fmt in ("jsonl", "longbench"):
            found = [(f"{path}:{n}", r) for n, r in _read_jsonl(path, with_lines=True)]
        else:
            raise ValueError(f"task {task.name!r}: unknown data.format {fmt!r}")
        rows.extend(found)
        if limit is not None and len(rows) >= limit:
            break
    if limit is not None:
        rows = rows[:limit]
    names: dict = {}
    # e.g. C-Eval subject_mapping.json: subject -> [en, zh, category]
    if task.data.get("subject_names"):
        names_path = resolve_path(task.data["subject_names"], data_dir, task.base_dir)
        names = json.loads(names_path.read_text(encoding="utf-8"))
    shots_cache: dict[str, str] = {}
    examples = []
    for idx, (where, row) in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{where}: an example must be a JSON object, got {type(row).__name__}")
        ex = dict(row)
        ex["idx"] = idx
        if task.type == "perplexity":
            if not isinstance(ex.get("text"), str):
                raise ValueError(f"{where}: example has no string 'text' field")
            examples.append(ex)
            continue
        ex["answers"] = _answers_of(task, ex, where)
        if task.type == "conversation":
            _check_conversation(ex, where)
            examples.append(ex)
            continue
        if task.type == "multiple_choice" and "choices" not in ex:
            ex["choices"] = [ex[letter] for letter in LETTERS if letter in ex]
        if ex.get("subject") in names:
            ex["subject_name"] = names[ex["subject"]][task.data.get("subject_name_index", 0)]
            if len(names[ex["subject"]]) > 2:
                ex.setdefault("category", names[ex["subject"]][2])
        ex.setdefault("all_classes", None)
        ex.setdefault("length", None)
        shots = _fewshot_block(task, ex.get("subject", ""), data_dir, shots_cache)
        try:
            if task.type == "multiple_choice":
                question = safe_format(task.question_template or "{question}", ex)
                ex["prompt"] = safe_format(task.prompt, ex) + shots + question
            else:
                ex["prompt"] = shots + safe_format(task.prompt, ex)
        except KeyError as e:
            raise ValueError(
                f"{where}: task {task.name!r}: the prompt uses field {e}, which this "
                "example does not have"
            ) from e
        examples.append(ex)
    return examples


def _check_conversation(ex: dict, where: str) -> None:
    """A ``conversation`` example: messages to send (the last may be an open assistant turn to
    continue), optional ``tools`` (OpenAI format) and extra ``stop`` strings."""
    conv = ex.get("conversation")
    if not isinstance(conv, list) or not conv or not all(isinstance(m, dict) for m in conv):
        raise ValueError(f"{where}: field 'conversation' must be a non-empty list of messages")
    if ex.get("tools") is not None and not isinstance(ex["tools"], list):
        raise ValueError(f"{where}: field 'tools' must be a list of tool schemas")
    if ex.get("stop") is not None and not _str_list(ex["stop"]):
        raise ValueError(f"{where}: field 'stop' must be a list of strings")


def _answers_of(task: Task, ex: dict, where: str) -> list:
    """The gold answers as a list; LongBench ``answers`` must already be a list of strings."""
    if task.data.get("labels", True) is False:  # a test split without public answers
        return list(ex.get(task.answer_field) or [])
    if task.answer_field not in ex:
        raise ValueError(f"{where}: example has no answer field {task.answer_field!r}")
    value = ex[task.answer_field]
    if task.answer_type == "list":
        if not isinstance(value, list) or not value:
            raise ValueError(
                f"{where}: field {task.answer_field!r} must be a non-empty list of gold answers, "
                f"got {value!r:.60}"
            )
        return value
    if isinstance(value, list):
        return value
    return [value]
