"""LLM-as-judge: a (stronger) model grades predictions where rule metrics cannot ("厦大" vs "厦门大学").

Two modes, configured in the task config's ``"judge"`` object, run against any ``--judge`` model
spec (``tinyqwen.connect``: a checkpoint dir, ``tiny-random``, ``http://host:port/v1#model``):

* **pointwise** — the judge reads the question, the reference and one prediction and gives a
  rating on ``scale`` (default 1..10) as ``[[7]]``; the example's score is
  ``(rating - lo) / (hi - lo)`` and the task's judge score ``round(100 · mean, 2)``.
* **pairwise** — the judge sees the predictions of two runs (A and B) for the same question and
  answers ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie). Every pair is judged **in both orders**; a win
  counts only if the judge picks the same *prediction* both times, otherwise it is a tie — the
  position bias of a judge that always prefers the first answer cancels out. Reported: wins,
  losses, ties, ``win_rate = (wins + ties/2) / n`` and ``consistency`` (share of pairs with the
  same verdict in both orders).

A reply without a parseable verdict is **retried** (``retries`` times, default 2) by appending it
and a short format reminder to the conversation — a deterministic judge would otherwise repeat
itself — and is never silently scored: it is counted in ``unparsed`` and left out of the mean.
Where the task also has a rule metric, ``agreement`` reports how often judge and rule agree
(pointwise: both ≥ 0.5 or both < 0.5, and Pearson r; pairwise: same preferred run, rule ties
excluded).

Task config (``tasks/demo_qa_zh.json``)::

    "judge": {"mode": "pointwise", "scale": [1, 10], "max_new_tokens": 64,
              "prompt": "问题：{input}\\n参考答案：{answer}\\n模型回答：{prediction}\\n...[[评分]]"}
    "judge": {"mode": "pairwise", "prompt": "...{input}...{answer_a}...{answer_b}...[[A]]..."}

Template fields: every field of the data example (``input``, ``context``, ``question`` …),
``answer`` (the first gold answer), ``answers`` (all, joined by `` / ``), and ``prediction``
(pointwise) or ``answer_a`` / ``answer_b`` (pairwise).

    >>> parse_rating("理由……评分：[[8]]", (1, 10)), parse_rating("8/10", (1, 10))
    (8.0, None)
    >>> parse_choice("[[B]]"), parse_choice("I pick A"), combine("A", "B")
    ('B', None, 'A')

Limits: one judge call per example and order (plus retries); the judge sees the prompt fields you
put in the template, so leave ``{context}`` out of long-context tasks unless the judge can read
it. Judge scores depend on the judge model: report which one (it is in the output).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyeval.template import check_template, safe_format
from tinyqwen.sampling import Sampling

RATING_RE = re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]")
CHOICE_RE = re.compile(r"\[\[\s*([ABC])\s*\]\]")
REMINDER = {
    "pointwise": "请严格按格式只输出评分，例如 [[5]]。 Reply with the rating only, e.g. [[5]].",
    "pairwise": "请严格按格式只输出 [[A]]、[[B]] 或 [[C]]。 Reply with [[A]], [[B]] or [[C]] only.",
}


def check_judge_config(cfg: Any, where: str) -> None:
    """Validate a task config's ``judge`` object (called when the task is loaded)."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: field 'judge' must be an object")
    mode = cfg.get("mode")
    if mode not in ("pointwise", "pairwise"):
        raise ValueError(f"{where}: field 'judge.mode' must be 'pointwise' or 'pairwise'")
    check_template(cfg.get("prompt"), f"{where}: judge.prompt")
    scale = cfg.get("scale", [1, 10])
    if not (
        isinstance(scale, list)
        and len(scale) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scale)
        and scale[0] < scale[1]
    ):
        raise ValueError(f"{where}: field 'judge.scale' must be [low, high] with low < high")
    for key, low in (("retries", 0), ("max_new_tokens", 1)):
        v = cfg.get(key, low)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{where}: field 'judge.{key}' must be an integer >= {low}")


def parse_rating(reply: str, scale: Sequence[float]) -> float | None:
    """The last ``[[number]]`` in ``reply`` if it lies on ``scale``, else None."""
    found = RATING_RE.findall(reply or "")
    if not found:
        return None
    value = float(found[-1])
    return value if scale[0] <= value <= scale[1] else None


def parse_choice(reply: str) -> str | None:
    """``"A"``, ``"B"`` or ``"C"`` (tie) from the last ``[[X]]`` in ``reply``, else None."""
    found = CHOICE_RE.findall(reply or "")
    return found[-1] if found else None


SWAP = {"A": "B", "B": "A", "C": "C"}


def combine(first: str, second: str) -> str:
    """Verdict for run A from two orders: ``first`` with A shown first, ``second`` with B first.

    Returns ``"A"`` (A better both times), ``"B"``, or ``"C"`` (tie, or the orders disagree)."""
    return first if first == SWAP[second] else "C"


def _fields(example: dict, record: dict) -> dict[str, Any]:
    answers = record.get("answers", example.get("answers")) or []
    answers = answers if isinstance(answers, list) else [answers]
    return {
        **example,
        "answer": answers[0] if answers else "",
        "answers": " / ".join(map(str, answers)),
    }


class Judge:
    """Ask ``model`` for verdicts with retries; counts what could not be parsed."""

    def __init__(self, model: Any, cfg: dict[str, Any]) -> None:
        self.model = model
        self.cfg = cfg
        self.scale = tuple(cfg.get("scale", [1, 10]))
        self.retries = cfg.get("retries", 2)
        self.sampling = Sampling(max_new_tokens=cfg.get("max_new_tokens", 256), temperature=0.0)
        self.calls = 0

    def ask(self, prompts: list[str], parse) -> list[tuple[Any, list[str]]]:
        """(parsed verdict or None, every reply) per prompt, retrying unparsed ones together."""
        convs = [[{"role": "user", "content": p}] for p in prompts]
        replies: list[list[str]] = [[] for _ in prompts]
        verdicts: list[Any] = [None] * len(prompts)
        todo = list(range(len(prompts)))
        for _attempt in range(self.retries + 1):
            if not todo:
                break
            with warnings.catch_warnings():  # no tools offered: "<tool_call>" is just text
                warnings.filterwarnings("ignore", message=".*tool_call")
                outs = self.model.chat_batch([convs[i] for i in todo], sampling=self.sampling)
            self.calls += len(todo)
            still = []
            for i, msg in zip(todo, outs):
                text = msg.get("content") or ""
                replies[i].append(text)
                verdicts[i] = parse(text)
                if verdicts[i] is None:
                    convs[i] = convs[i] + [
                        {"role": "assistant", "content": text},
                        {"role": "user", "content": REMINDER[self.cfg["mode"]]},
                    ]
                    still.append(i)
            todo = still
        return list(zip(verdicts, replies))

    def pointwise(self, items: list[tuple[dict, dict]]) -> list[dict]:
        """items: (example, prediction record) → judged records with ``judge_score`` (0..1|None)."""
        prompts = [
            safe_format(self.cfg["prompt"], {**_fields(ex, rec), "prediction": rec["pred"]})
            for ex, rec in items
        ]
        out = []
        for (_ex, rec), (rating, replies) in zip(
            items, self.ask(prompts, lambda t: parse_rating(t, self.scale))
        ):
            lo, hi = self.scale
            score = None if rating is None else (rating - lo) / (hi - lo)
            out.append({"idx": rec["idx"], "rating": rating, "judge_score": score,
                        "tries": len(replies), "replies": replies})  # fmt: skip
        return out

    def pairwise(self, items: list[tuple[dict, dict, dict]]) -> list[dict]:
        """items: (example, record of run A, record of run B) → verdicts in both orders."""
        prompts = []
        for ex, a, b in items:
            base = _fields(ex, a)
            prompts.append(
                safe_format(
                    self.cfg["prompt"], {**base, "answer_a": a["pred"], "answer_b": b["pred"]}
                )
            )
            prompts.append(
                safe_format(
                    self.cfg["prompt"], {**base, "answer_a": b["pred"], "answer_b": a["pred"]}
                )
            )
        asked = self.ask(prompts, parse_choice)
        out = []
        for k, (_ex, a, _b) in enumerate(items):
            (first, r1), (second, r2) = asked[2 * k], asked[2 * k + 1]
            verdict = None if first is None or second is None else combine(first, second)
            out.append({"idx": a["idx"], "ab": first, "ba": second, "verdict": verdict,
                        "tries": len(r1) + len(r2), "replies": [r1, r2]})  # fmt: skip
        return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation, None when either side is constant or there are < 2 points."""
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def summarize_pointwise(judged: list[dict], rule: dict[int, float] | None) -> dict[str, Any]:
    scored = [j for j in judged if j["judge_score"] is not None]
    summary: dict[str, Any] = {
        "mode": "pointwise",
        "n": len(judged),
        "scored": len(scored),
        "unparsed": len(judged) - len(scored),
        "retried": sum(1 for j in judged if j["tries"] > 1),
        "judge_score": round(100 * sum(j["judge_score"] for j in scored) / len(scored), 2)
        if scored
        else None,
    }
    if rule is not None:
        pairs = [(j["judge_score"], rule[j["idx"]]) for j in scored if j["idx"] in rule]
        if pairs:
            agree = sum((js >= 0.5) == (rs >= 0.5) for js, rs in pairs) / len(pairs)
            r = pearson([p[0] for p in pairs], [p[1] for p in pairs])
            summary["agreement"] = {
                "n": len(pairs),
                "same_pass_fail": round(agree, 4),
                "pearson_r": None if r is None else round(r, 4),
            }
    return summary


def summarize_pairwise(judged: list[dict], rule: dict[int, tuple[float, float]] | None) -> dict:
    done = [j for j in judged if j["verdict"] is not None]
    wins = sum(j["verdict"] == "A" for j in done)
    losses = sum(j["verdict"] == "B" for j in done)
    ties = len(done) - wins - losses
    consistent = sum(1 for j in done if j["ab"] == SWAP[j["ba"]])
    summary: dict[str, Any] = {
        "mode": "pairwise",
        "n": len(judged),
        "unparsed": len(judged) - len(done),
        "retried": sum(1 for j in judged if j["tries"] > 2),
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": round((wins + ties / 2) / len(done), 4) if done else None,
        "consistency": round(consistent / len(done), 4) if done else None,
    }
    if rule is not None:
        decisive = [(j["verdict"], rule[j["idx"]]) for j in done if j["idx"] in rule]
        decisive = [(v, a, b) for v, (a, b) in decisive if a != b and v != "C"]
        if decisive:
            same = sum((v == "A") == (a > b) for v, a, b in decisive)
            summary["agreement"] = {
                "n": len(decisive),
                "same_winner": round(same / len(decisive), 4),
            }
    return summary


def judge_config(task: Any, mode: str) -> dict[str, Any]:
    """The task's ``judge`` entry for ``mode`` (the config may hold one object or a list)."""
    cfgs = task.judge if isinstance(task.judge, list) else [task.judge] if task.judge else []
    for cfg in cfgs:
        if cfg["mode"] == mode:
            return cfg
    raise ValueError(f"task {task.name!r} has no {mode} 'judge' config (add one to its JSON)")


def _records(pred_dir: Path, task: Any) -> list[dict]:
    from tinyeval.score import dedupe_by_idx, read_prediction_lines

    path = pred_dir / f"{task.name}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (run the task first)")
    recs = [r for _, r in dedupe_by_idx(read_prediction_lines(path))]
    for i, r in enumerate(recs):
        r.setdefault("idx", i)  # LongBench folders: the line order is the example order
        if not isinstance(r.get("pred"), str):
            raise ValueError(f"{path}: record {i} has no string 'pred' to judge")
    return recs


def _rule_scores(task: Any, recs: list[dict]) -> dict[int, float] | None:
    from tinyeval.score import score_task_records

    if task.type != "generate" or not task.metric:
        return None
    res = score_task_records(task, recs, task.name)
    if res.get("per_example") is None:  # a corpus metric has no per-example scores
        return None
    return {r["idx"]: s for r, s in zip(recs, res["per_example"])}


def _append(path: Path, records: list[dict]) -> None:
    import os

    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


def _done(path: Path) -> dict[int, dict]:
    from tinyeval.score import read_predictions

    return {r["idx"]: r for r in read_predictions(path)} if path.exists() else {}


def run_judge(
    task: Any,
    judge_model: Any,
    pred_dirs: Sequence[str | Path],
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Judge one run (pointwise) or two runs (pairwise) of ``task``; resumable per batch.

    Writes ``OUT/TASK.jsonl`` (one verdict per example, with the judge's replies) and updates
    ``OUT/judge.json`` with the summary; returns the summary."""
    from tinyeval.lock import run_lock
    from tinyeval.runner import update_json
    from tinyeval.task import load_examples

    mode = "pairwise" if len(pred_dirs) == 2 else "pointwise"
    if len(pred_dirs) not in (1, 2):
        raise ValueError("judge: give one prediction folder (pointwise) or two (pairwise)")
    judge = Judge(judge_model, judge_config(task, mode))
    runs = [_records(Path(d), task) for d in pred_dirs]
    examples = {ex["idx"]: ex for ex in load_examples(task, data_dir)}
    out_dir = Path(out_dir)
    with run_lock(out_dir):
        path = out_dir / f"{task.name}.jsonl"
        done = _done(path)
        if mode == "pointwise":
            items = [(examples.get(r["idx"], {}), r) for r in runs[0] if r["idx"] not in done]
            step = judge.pointwise
        else:
            b_by_idx = {r["idx"]: r for r in runs[1]}
            items = [
                (examples.get(a["idx"], {}), a, b_by_idx[a["idx"]])
                for a in runs[0]
                if a["idx"] in b_by_idx and a["idx"] not in done
            ]
            step = judge.pairwise
        for k in range(0, len(items), batch_size):
            _append(path, step(items[k : k + batch_size]))
        judged = sorted(_done(path).values(), key=lambda r: r["idx"])
        if mode == "pointwise":
            summary = summarize_pointwise(judged, _rule_scores(task, runs[0]))
        else:
            a_rule, b_rule = _rule_scores(task, runs[0]), _rule_scores(task, runs[1])
            rule = (
                {i: (a_rule[i], b_rule[i]) for i in a_rule if i in b_rule}
                if a_rule is not None and b_rule is not None
                else None
            )
            summary = summarize_pairwise(judged, rule)
            summary["runs"] = [str(d) for d in pred_dirs]
        summary["judge"] = judge_model.name
        summary["calls"] = judge.calls
        update_json(out_dir / "judge.json", task.name, summary)
    return summary
