"""Export run predictions in a benchmark's official submission format.

``python -m tinyeval export ceval-submission RUN_DIR`` turns ``RUN_DIR/ceval_test.jsonl`` (written
by ``run --task ceval_test``) into C-Eval's test-set submission file, the format
cevalbenchmark.com accepts (C-Eval README, "How to submit")::

    {"computer_network": {"0": "A", "1": "B", ...}, "operating_system": {...}, ...}

subject → question ``id`` (the test CSV's ``id`` column, as a string) → the predicted letter.
Before writing, every test question of the data (when ``--data-dir`` has it) must have a
prediction, so a half-finished run is never submitted by mistake.

    >>> recs = [{"subject": "law", "id": "1", "pred": "B"}, {"subject": "law", "id": "0", "pred": "A"}]
    >>> ceval_submission_dict(recs, "x.jsonl")
    {'law': {'0': 'A', '1': 'B'}}

Limits: a question whose letter could not be extracted (generate mode, ``pred`` null) is written
as ``""`` — counted as wrong by the grader — and reported on stderr by the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyeval.score import dedupe_by_idx, read_prediction_lines
from tinyeval.task import LETTERS, load_examples, load_task
from tinyqwen.atomic import atomic_write_text


def ceval_submission_dict(records: Sequence[dict], where: str) -> dict[str, dict[str, str]]:
    """{subject: {id: letter}} with ids in numeric order; ``ValueError`` on a malformed record."""
    out: dict[str, dict[str, str]] = {}
    for i, r in enumerate(records):
        for key in ("subject", "id", "pred"):
            if key not in r:
                raise ValueError(f"{where}: record {i} has no {key!r} (write it with `run`)")
        pred = r["pred"] if r["pred"] in LETTERS[:4] else ""
        out.setdefault(str(r["subject"]), {})[str(r["id"])] = pred
    return {
        s: dict(sorted(ids.items(), key=lambda kv: (len(kv[0]), kv[0])))
        for s, ids in sorted(out.items())
    }


def export_ceval_submission(
    run_dir: str | Path,
    out: str | Path,
    data_dir: str | Path | None = None,
    task_name: str = "ceval_test",
) -> dict[str, Any]:
    """Write the submission JSON; returns {"subjects", "questions", "blank", "checked"}."""
    pred = Path(run_dir) / f"{task_name}.jsonl"
    if not pred.exists():
        raise FileNotFoundError(
            f"{pred} not found; first run `python -m tinyeval run --task {task_name} "
            f"--out {run_dir} --model ...`"
        )
    records = [r for _, r in dedupe_by_idx(read_prediction_lines(pred))]
    sub = ceval_submission_dict(records, str(pred))
    checked = False
    try:
        examples = load_examples(load_task(task_name), data_dir)
    except FileNotFoundError:
        examples = None  # no test data here: cannot check completeness
    if examples is not None:
        have = {(s, i) for s, ids in sub.items() for i in ids}
        missing = [ex for ex in examples if (ex["subject"], str(ex.get("id"))) not in have]
        if missing:
            raise ValueError(
                f"{pred}: {len(missing)} of {len(examples)} test questions have no prediction "
                f"(first: {missing[0]['subject']} id {missing[0].get('id')}); run "
                f"`python -m tinyeval run --task {task_name} --out {run_dir}` again to finish"
            )
        checked = True
    atomic_write_text(Path(out), json.dumps(sub, ensure_ascii=False, indent=1) + "\n")
    return {
        "subjects": len(sub),
        "questions": sum(len(v) for v in sub.values()),
        "blank": sum(1 for v in sub.values() for p in v.values() if not p),
        "checked": checked,
    }
