"""Run a task against a model: generate / pick choices / score perplexity, never losing a prediction.

    >>> import tinyqwen                                                   # doctest: +SKIP
    >>> from tinyeval.task import load_task
    >>> model = tinyqwen.connect("tiny-random")                           # doctest: +SKIP
    >>> run_task(model, load_task("demo_qa_zh"), "runs/tiny-random")      # doctest: +SKIP
    {'task': 'demo_qa_zh', 'score': 0.0, 'n': 8, ...}

What it does, per task type:

* ``generate``: prompt = few-shot block + template filled from the example; cut in the *middle*
  to fit the model's context (LongBench's rule: keep the first and last ``budget/2`` tokens,
  because instructions sit at both ends); sent through the chat template (``chat_batch``) or raw
  (``complete``) as the config says; greedy.
* ``multiple_choice``: ``loglikelihood`` of ``target_delimiter + letter`` (or ``+ choice text`` with
  ``"continuation": "text"``) after the prompt for every choice → ``acc`` (argmax) and ``acc_norm``
  (argmax per character; equal to acc for single-letter continuations). A backend without the
  ``"loglikelihood"`` capability, or one that raises ``NotImplementedError`` (e.g. a chat-only
  endpoint), is asked to generate instead and the letter is extracted from its reply
  (``metrics.choice``); the record says which ``mode`` was used.
* ``perplexity``: ``loglikelihood(("", text))`` (the backend puts its eos token in front), token
  count from ``count_tokens``.
* ``conversation``: the example's ``conversation`` (chat messages) goes to ``chat_batch`` with its
  ``tools``; a final assistant message is continued (``continue_final_message=True``, a ReAct
  scratchpad); the example's ``stop`` strings are added to the task's; greedy. The record keeps the
  reply's text as ``pred`` and its parsed ``tool_calls``. Conversations are never truncated.

Examples go to the model in batches of ``batch_size`` (one batched forward for a local model, that
many concurrent requests for an endpoint). Batches are cut at fixed example indices
(``idx // batch_size``), so a resumed run sends exactly the batches an uninterrupted run would.
Each finished batch is appended to ``OUT/TASK.jsonl`` and flushed + fsynced before the next one
starts; a rerun reads that file, drops a torn last line, and skips every example already there.
Scores go to ``OUT/result.json`` (seed format ``{task: score}``) and ``OUT/metrics.json``
(all metrics, n, model name), both written atomically.

Limits: one model call per batch, so a killed run loses at most the batch in flight. The middle cut
needs the ``"tokenizer"`` capability (a local model) to be exact; for an endpoint it bisects on characters
with ``count_tokens``, which is approximate for remote backends.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyeval.lock import run_lock
from tinyeval.metrics.accuracy import pick_choice
from tinyeval.metrics.choice import extract_choice
from tinyeval.score import (
    dedupe_by_idx,
    read_prediction_lines,
    read_predictions,
    score_task_records,
)
from tinyeval.task import LETTERS, Task, load_examples
from tinyqwen.atomic import atomic_write_text
from tinyqwen.chat_model import LOGLIKELIHOOD, TOKENIZER, ChatModel
from tinyqwen.sampling import Sampling

# Tokens kept free for the chat template around the prompt (Qwen2.5 default system prompt +
# role markers is ~30 tokens).
TEMPLATE_RESERVE = 64


def update_json(path: str | Path, key: str, value: Any) -> None:
    """Set ``key`` in the JSON object at ``path`` (created if absent), atomically."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[key] = value
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def truncate_middle(prompt: str, max_tokens: int, model: ChatModel) -> str:
    """LongBench middle truncation of ``prompt`` to at most ``max_tokens`` tokens."""
    if max_tokens <= 0:
        raise ValueError(f"no room for the prompt: token budget is {max_tokens}")
    if TOKENIZER in model.capabilities:  # exact: cut the token ids themselves
        tok = model.tokenizer
        ids = tok.encode(prompt)
        if len(ids) <= max_tokens:
            return prompt
        half = int(max_tokens / 2)
        return tok.decode(ids[:half]) + tok.decode(ids[-half:])
    if model.count_tokens(prompt) <= max_tokens:
        return prompt
    lo, hi = 0, len(prompt) // 2  # characters kept at each end: find the largest that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if model.count_tokens(prompt[:mid] + prompt[-mid:]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return prompt[:lo] + prompt[-lo:] if lo else ""


def _done_indices(pred_path: Path) -> set[int]:
    """Indices already predicted; rewrites the file without a torn last line (killed writer)."""
    if not pred_path.exists():
        return set()
    raw = pred_path.read_text(encoding="utf-8")
    records = read_predictions(pred_path)
    if raw and not raw.endswith("\n"):  # keep only complete lines before appending more
        keep = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        atomic_write_text(pred_path, keep)
    return {int(r["idx"]) for r in records if "idx" in r}


def _mc_keys(ex: dict) -> dict:
    """subject / question id of a multiple-choice example, for per-subject reports and exports."""
    return {k: ex[k] for k in ("subject", "id") if k in ex}


class _Runner:
    def __init__(
        self, model: ChatModel, task: Task, max_new_tokens: int, max_length: int | None
    ) -> None:
        self.model = model
        self.task = task
        self.max_new_tokens = max_new_tokens
        self.use_loglik = LOGLIKELIHOOD in model.capabilities
        if task.type == "multiple_choice" and not self.use_loglik:
            tqdm.write(f"{model.name}: no loglikelihood; choosing by generated letter")
        reserve = TEMPLATE_RESERVE if task.chat else 0
        self.budget = max_length or (int(model.context_length) - max_new_tokens - reserve)
        if task.type == "generate" and self.budget <= 0:
            raise ValueError(
                f"task {task.name!r}: max_new_tokens={max_new_tokens} leaves no room for a prompt in "
                f"{model.name}'s context of {model.context_length} tokens; pass --max-new-tokens"
            )

    def _generate(self, prompts: list[str], max_new_tokens: int) -> list[str]:
        sampling = Sampling(max_new_tokens=max_new_tokens, temperature=0.0, stop=self.task.stop)
        if self.task.chat:
            convs = [[{"role": "user", "content": p}] for p in prompts]
            with warnings.catch_warnings():
                # no tools are offered: a "<tool_call>" in a reply is just text to be scored
                warnings.filterwarnings("ignore", message=".*tool_call")
                replies = self.model.chat_batch(convs, sampling=sampling)
            return [m.get("content") or "" for m in replies]
        return list(self.model.complete(prompts, sampling=sampling))

    def generate(self, batch: list[dict]) -> list[dict]:
        prompts = [truncate_middle(ex["prompt"], self.budget, self.model) for ex in batch]
        outs = self._generate(prompts, self.max_new_tokens)
        return [
            {
                "idx": ex["idx"],
                "pred": out,
                "answers": ex["answers"],
                "all_classes": ex.get("all_classes"),
                "length": ex.get("length"),
                **({"_id": ex["_id"]} if "_id" in ex else {}),
                **{k: ex[k] for k in self.task.record_fields or () if k in ex},
            }
            for ex, out in zip(batch, outs)
        ]

    def converse(self, batch: list[dict]) -> list[dict]:
        # chat_batch takes one tools list / continuation flag / stop list per call: group by them
        groups: dict[tuple, list[int]] = {}
        for i, ex in enumerate(batch):
            cont = ex["conversation"][-1].get("role") == "assistant"
            key = (json.dumps(ex.get("tools"), sort_keys=True), cont, tuple(ex.get("stop") or ()))
            groups.setdefault(key, []).append(i)
        replies: list[dict] = [{}] * len(batch)
        for (tools, cont, stop), members in groups.items():
            sampling = Sampling(
                max_new_tokens=self.max_new_tokens,
                temperature=0.0,
                stop=[*(self.task.stop or ()), *stop],
            )
            with warnings.catch_warnings():
                # a malformed <tool_call> stays in the reply text and is scored as invalid
                warnings.filterwarnings("ignore", message=".*tool_call")
                out = self.model.chat_batch(
                    [batch[i]["conversation"] for i in members],
                    tools=json.loads(tools),
                    sampling=sampling,
                    continue_final_message=cont,
                )
            for i, reply in zip(members, out):
                replies[i] = reply
        return [
            {
                "idx": ex["idx"],
                "pred": reply.get("content") or "",
                **({"tool_calls": reply["tool_calls"]} if reply.get("tool_calls") else {}),
                "answers": ex["answers"],
                **{k: ex[k] for k in self.task.record_fields or () if k in ex},
            }
            for ex, reply in zip(batch, replies)
        ]

    def _continuations(self, ex: dict) -> list[str]:
        delim = self.task.target_delimiter
        if self.task.continuation == "text":
            return [delim + c for c in ex["choices"]]
        return [delim + LETTERS[i] for i in range(len(ex["choices"]))]

    def choose(self, batch: list[dict]) -> list[dict]:
        if self.use_loglik:
            requests = [(ex["prompt"], c) for ex in batch for c in self._continuations(ex)]
            try:
                results = self.model.loglikelihood(requests)
            except NotImplementedError:
                self.use_loglik = False
                tqdm.write(f"{self.model.name}: no loglikelihood; choosing by generated letter")
        records = []
        if self.use_loglik:
            k = 0
            for ex in batch:
                n = len(ex["choices"])
                lls = [ll for ll, _ in results[k : k + n]]
                k += n
                conts = self._continuations(ex)
                gold = LETTERS.index(ex["answers"][0]) if ex["answers"] else None
                best = pick_choice(lls)
                # lm-eval's acc_norm: per character of the choice, without the delimiter
                best_norm = pick_choice(
                    lls, [len(c) - len(self.task.target_delimiter) for c in conts]
                )
                records.append(
                    {
                        "idx": ex["idx"],
                        **_mc_keys(ex),
                        "pred": LETTERS[best],
                        "answers": ex["answers"],
                        "mode": "loglikelihood",
                        "logliks": lls,
                        "acc": None if gold is None else float(best == gold),
                        "acc_norm": None if gold is None else float(best_norm == gold),
                    }
                )
            return records
        outs = self._generate([ex["prompt"] for ex in batch], self.max_new_tokens)
        for ex, out in zip(batch, outs):
            letter = extract_choice(out, len(ex["choices"]))
            acc = float(letter == ex["answers"][0]) if ex["answers"] else None
            records.append(
                {
                    "idx": ex["idx"],
                    **_mc_keys(ex),
                    "pred": letter,
                    "raw": out,
                    "answers": ex["answers"],
                    "mode": "generate",
                    "acc": acc,
                    "acc_norm": acc,
                }
            )
        return records

    def perplexity(self, batch: list[dict]) -> list[dict]:
        results = self.model.loglikelihood([("", ex["text"]) for ex in batch])
        return [
            {
                "idx": ex["idx"],
                "loglik": ll,
                "n_tokens": self.model.count_tokens(ex["text"]),
                "n_bytes": len(ex["text"].encode("utf-8")),
            }
            for ex, (ll, _) in zip(batch, results)
        ]


def run_task(
    model: ChatModel,
    task: Task,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    max_length: int | None = None,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predict every not-yet-done example of ``task``, then score the file; returns the scores.

    Holds ``OUT/.tinyeval.lock`` throughout: a second run on the same folder fails at once.
    """
    for key, value, low in (
        ("batch_size", batch_size, 1),
        ("limit", limit, 0),
        ("max_new_tokens", max_new_tokens, 1),
        ("max_length", max_length, 1),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
    out_dir = Path(out_dir)
    examples = load_examples(task, data_dir, limit)
    with run_lock(out_dir):
        return _run_locked(
            model,
            task,
            out_dir,
            examples,
            batch_size,
            max_new_tokens,
            max_length,
            progress,
            on_batch,
        )


def _run_locked(
    model, task, out_dir, examples, batch_size, max_new_tokens, max_length, progress, on_batch
) -> dict[str, Any]:
    pred_path = out_dir / f"{task.name}.jsonl"
    done = _done_indices(pred_path)
    todo = [ex for ex in examples if ex["idx"] not in done]
    runner = _Runner(model, task, max_new_tokens or task.max_new_tokens, max_length)
    step = {
        "generate": runner.generate,
        "multiple_choice": runner.choose,
        "perplexity": runner.perplexity,
        "conversation": runner.converse,
    }[task.type]
    batches: dict[int, list[dict]] = {}
    for ex in todo:  # fixed boundaries: a resumed run sends the same batches
        batches.setdefault(ex["idx"] // batch_size, []).append(ex)
    bar = tqdm(
        total=len(examples),
        initial=len(examples) - len(todo),
        desc=task.name,
        disable=not progress,
        unit="ex",
    )
    with open(pred_path, "a", encoding="utf-8") as f:
        for n, key in enumerate(sorted(batches)):
            records = step(batches[key])
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
            bar.update(len(records))
            if on_batch is not None:
                on_batch(n)
    bar.close()
    summary: dict[str, Any] = {"task": task.name, "model": model.name, "score": None, "n": 0}
    if not examples:  # --limit 0: nothing to score
        return summary
    wanted = {ex["idx"] for ex in examples}
    lines = sorted(
        (
            (n, r)
            for n, r in dedupe_by_idx(read_prediction_lines(pred_path))
            if r.get("idx") in wanted
        ),
        key=lambda nr: nr[1]["idx"],
    )
    result = score_task_records(
        task, [r for _, r in lines], str(pred_path), lines=[n for n, _ in lines]
    )
    summary.update(score=result["score"], n=result["n"])
    if "metrics" in result:
        summary["metrics"] = result["metrics"]
    # LongBench-E tasks: result.json holds the per-length scores, as LongBench's pred_e/ does
    main = result["metrics"] if task.length_buckets else result["score"]
    update_json(out_dir / "result.json", task.name, main)
    update_json(out_dir / "metrics.json", task.name, summary)
    return summary
