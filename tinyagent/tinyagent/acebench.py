"""ACEBench (Chinese split) as BFCL-style examples, and a runner that scores a model on them.

ACEBench ships one JSON-lines file per category (``data_normal_single_turn_single_function.json``, ...)
plus ``possible_answer/<same name>`` with the ground truth. We convert each record into an
``Example`` the BFCL checker (``tinyagent.bfcl``) understands:

- ``question`` -- a transcript ``"user: ...\\nsystem: ...\\nuser: ..."`` -- becomes chat messages
  (``system:`` lines are the assistant's earlier replies); ``time`` and ``profile`` become a system
  message;
- ``function`` becomes OpenAI tool schemas;
- the ground truth ``{"Api": {"k": v}}`` (one call), a dict with several keys (parallel calls; a
  repeated function is written ``Api_1``, ``Api_2``... and mapped back to ``Api``), or a *list* of
  such dicts (alternative correct answers, e.g. with and without an optional parameter) becomes
  BFCL accepted-value answers: every value ``v`` -> ``[v]``, recursively for dicts;
- ``special_irrelevant`` (a fixed refusal sentence as ground truth) means "no call".

ACEBench's own prompts ask for ``[Api(k='v'), ...]``; ``parse_python_calls`` reads that form too, so
a model answering in text instead of ``<tool_call>`` blocks is scored as well.

    >>> ex = load_examples(DATA / "acebench_zh", "normal_single_turn_single_function")[0]  # doctest: +SKIP
    >>> score_calls(ex, ground_truth_calls(ex)).valid                                       # doctest: +SKIP
    True

Limits: ``special_incomplete`` / ``special_error_param`` (graded by ACEBench on the reply's wording)
and the ``agent_*`` categories (which need ACEBench's simulated environment) are not supported.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyagent.bfcl import CheckResult, check
from tinyagent.parsing import JSONParseError
from tinyagent.qwen_tools import QwenProtocol
from tinyqwen.atomic import atomic_write_text
from tinyqwen.chat_model import ChatModel

__all__ = [
    "Example",
    "load_examples",
    "ground_truth_calls",
    "score_calls",
    "evaluate",
    "CATEGORIES",
]
__all__ += ["parse_python_calls", "to_accepted"]

CATEGORIES = (
    "normal_single_turn_single_function",
    "normal_single_turn_parallel_function",
    "normal_similar_api",
    "normal_preference",
    "normal_multi_turn_user_adjust",
    "normal_multi_turn_user_switch",
    "normal_atom_bool",
    "normal_atom_enum",
    "normal_atom_list",
    "normal_atom_number",
    "normal_atom_object_deep",
    "normal_atom_object_short",
    "special_irrelevant",
)


@dataclass
class Example:
    """One scored question: messages, tools, and alternative correct call lists."""

    id: str
    category: str
    messages: list[dict]
    functions: list[dict]
    alternatives: list[list[dict]]  # each: BFCL answers [{name: {param: [accepted]}}]; [] = no call
    raw_ground_truth: Any = field(repr=False, default=None)

    @property
    def tools(self) -> list[dict]:
        return [{"type": "function", "function": f} for f in self.functions]


def to_accepted(value: Any) -> Any:
    """A ground-truth value in BFCL's accepted-value form (dicts: every key -> [value])."""
    if isinstance(value, dict):
        return {k: [to_accepted(v)] for k, v in value.items()}
    if isinstance(value, list):
        return [to_accepted(v) if isinstance(v, dict) else _plain(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [to_accepted(v) if isinstance(v, dict) else _plain(v) for v in value]
    return value


def _base_name(name: str, names: set[str]) -> str:
    if name in names:
        return name
    base = re.sub(r"_\d+$", "", name)
    if base in names:
        return base
    raise ValueError(
        f"ground truth calls {name!r}, which is not among the functions {sorted(names)}"
    )


def _gt_calls(gt: dict, names: set[str]) -> list[dict]:
    return [{_base_name(n, names): args} for n, args in gt.items()]


def _messages(record: dict) -> list[dict]:
    system = []
    if record.get("time"):
        system.append(record["time"])
    if record.get("profile"):
        system.append(f"用户画像（user profile）：{record['profile']}")
    messages = [{"role": "system", "content": "\n".join(system)}] if system else []
    turns = re.split(r"(?:^|\n)(user|system)\s*[:：]\s*", record["question"])
    for role, text in zip(turns[1::2], turns[2::2]):
        messages.append(
            {"role": "user" if role == "user" else "assistant", "content": text.strip()}
        )
    if not messages or messages[-1]["role"] != "user":
        raise ValueError(f"{record.get('id')}: question does not end with a user turn")
    return messages


def _jsonl(path: Path):
    """(line number, record) for each non-empty line; bad JSON names the file and line."""
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: invalid JSON: {e}") from None


def load_examples(data_dir: str | Path, category: str, limit: int | None = None) -> list[Example]:
    """Examples of one ACEBench category (file ``data_<category>.json`` + its possible_answer)."""
    if category not in CATEGORIES:
        raise ValueError(f"unsupported category {category!r}; supported: {', '.join(CATEGORIES)}")
    data_dir = Path(data_dir)
    qpath = data_dir / f"data_{category}.json"
    apath = data_dir / "possible_answer" / f"data_{category}.json"
    for p in (qpath, apath):
        if not p.is_file():
            raise FileNotFoundError(f"ACEBench file missing: {p}")
    answers = {rec["id"]: rec["ground_truth"] for _, rec in _jsonl(apath)}
    out = []
    for n, rec in _jsonl(qpath):
        if rec["id"] not in answers:
            raise ValueError(f"{apath}: no ground truth for id {rec['id']!r} ({qpath}:{n})")
        gt = answers[rec["id"]]
        names = {f["name"] for f in rec["function"]}
        if category == "special_irrelevant":
            alternatives: list[list[dict]] = [[]]
        else:
            options = gt if isinstance(gt, list) else [gt]
            alternatives = []
            for opt in options:
                calls = _gt_calls(opt, names)
                alternatives.append(
                    [
                        {fn: {k: [to_accepted(v)] for k, v in args.items()}}
                        for call in calls
                        for fn, args in call.items()
                    ]
                )
        out.append(Example(rec["id"], category, _messages(rec), rec["function"], alternatives, gt))
        if limit is not None and len(out) >= limit:
            break
    return out


def ground_truth_calls(example: Example, alternative: int = 0) -> list[dict]:
    """The ground truth itself as a prediction ``[{name: args}]`` (suffixes like ``_1`` removed)."""
    if example.category == "special_irrelevant":
        return []
    gt = example.raw_ground_truth
    opt = gt[alternative] if isinstance(gt, list) else gt
    return _gt_calls(opt, {f["name"] for f in example.functions})


def score_calls(example: Example, calls: list[dict]) -> CheckResult:
    """Valid if ``calls`` match any alternative answer (BFCL rules; parallel in any order)."""
    first = None
    for answers in example.alternatives:
        category = "irrelevance" if not answers else ("simple" if len(answers) == 1 else "parallel")
        r = check(example.functions, calls, answers, category, strict=True)
        if r.valid:
            return r
        first = first or r
    return first


def parse_python_calls(text: str) -> list[dict]:
    """``[Api(k='v'), Other(n=1)]`` (ACEBench's text format) -> ``[{"Api": {"k": "v"}}, ...]``."""
    m = re.search(r"\[.*\]", text, re.S)
    if not m:
        raise JSONParseError(f"no [Api(...)] list in {text[:80]!r}")
    try:
        tree = ast.parse(m.group(0), mode="eval").body
    except SyntaxError as e:
        raise JSONParseError(f"not a Python call list: {e.msg}") from None
    if not isinstance(tree, ast.List):
        raise JSONParseError("expected a list of calls")
    calls = []
    for node in tree.elts:
        if not isinstance(node, ast.Call) or node.args:
            raise JSONParseError("each element must be Api(key=value, ...)")
        name = ast.unparse(node.func)
        try:
            args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
        except ValueError as e:
            raise JSONParseError(f"{name}: argument is not a literal ({e})") from None
        calls.append({name: args})
    return calls


def predict_calls(model: ChatModel, example: Example, **sampling: Any) -> tuple[list[dict], str]:
    """Ask ``model`` once with the example's tools; return (calls, raw reply text)."""
    message = model.chat(example.messages, tools=example.tools, **sampling)
    turn = QwenProtocol([]).parse_message(message)
    calls = [{c.name: c.arguments} for c in turn.calls if c.parse_error is None]
    if not turn.calls and "(" in (message.get("content") or ""):
        try:
            calls = parse_python_calls(message["content"])
        except JSONParseError:
            pass
    raw = (message.get("content") or "") + json.dumps(
        message.get("tool_calls") or [], ensure_ascii=False
    )
    return calls, raw


def evaluate(
    model: ChatModel,
    examples: list[Example],
    out_path: str | Path | None = None,
    **sampling: Any,
) -> dict:
    """Score ``model`` on ``examples``; returns accuracy per category and error-type counts."""
    rows, per_cat, errors, first_error = [], Counter(), Counter(), {}
    totals = Counter()
    t0 = time.perf_counter()
    for ex in examples:
        try:
            calls, raw = predict_calls(model, ex, **sampling)
            r = score_calls(ex, calls)
        except Exception as e:  # a backend error is a failed example, not a crashed run
            calls, raw, r = [], "", CheckResult(False, "backend_error", f"{type(e).__name__}: {e}")
        totals[ex.category] += 1
        per_cat[ex.category] += r.valid
        if not r.valid:
            errors[r.error_type] += 1
            first_error.setdefault(r.error_type, r.error)
        rows.append(
            {
                "id": ex.id,
                "valid": r.valid,
                "error_type": r.error_type,
                "error": r.error,
                "calls": calls,
                "raw": raw,
            }
        )
    report = {
        "model": model.name,
        "n": len(examples),
        "accuracy": sum(per_cat.values()) / max(len(examples), 1),
        "per_category": {c: per_cat[c] / totals[c] for c in totals},
        "errors": dict(errors.most_common()),
        "first_error": first_error,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if out_path is not None:
        _write_jsonl_atomic(Path(out_path), [report, *rows])
    return report


def _write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
    atomic_write_text(path, text)
