"""The datasets tinyeval's tasks read, and how ``python -m tinyeval data fetch NAME`` gets them.

    $ python -m tinyeval data list
    $ python -m tinyeval data fetch ceval mmlu       # -> ~/.cache/tiny-universe/data/{ceval,mmlu}/
    $ python -m tinyeval run --task ceval --model tiny-random --limit 8

The cache and the transfer are :mod:`tinyqwen.data_cache`; this file only says where each dataset
lives and how its files become the layout the task configs (``tinyeval/tasks/*.json``) read:

| name      | folder after fetch                                   | from (default first)                  |
|-----------|------------------------------------------------------|---------------------------------------|
| ceval     | ``ceval/{dev,val,test}/{subject}_{split}.csv`` + ``subject_mapping.json`` | HF ceval/ceval-exam (parquet), ModelScope opencompass/ceval-exam; names from GitHub hkust-nlp/ceval |
| cmmlu     | ``cmmlu/{dev,test}/{subject}.csv``                   | GitHub haonan-li/CMMLU (pinned)       |
| mmlu      | ``mmlu/{dev,val,test}/{subject}_{split}.csv`` (question,choice0..3,answer index) | HF cais/mmlu (parquet) |
| gsm8k     | ``gsm8k/{train,test}.jsonl`` (question, answer)      | GitHub openai/grade-school-math (pinned), HF openai/gsm8k |
| longbench | ``longbench/{task}.jsonl``, ``longbench/{task}_e.jsonl`` (LongBench-E) | HF THUDM/LongBench ``data.zip`` |
| tinyeval  | ``tinyeval/pred/{internlm,internlm2,Qwen2}/*.jsonl``, ``tinyeval/dataset/GAOKAO_math.jsonl`` | GitHub datawhalechina/tiny-universe (pinned) |

CSV columns are written as the task configs expect (C-Eval: ``id,question,A,B,C,D,answer,
explanation``; the test split's answers are empty: its labels are not public). LongBench rows are
copied as they are (``input, context, answers, length, dataset, language, all_classes, _id``), all
21 tasks plus the 13 LongBench-E files.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

from tinyeval.data_pins import CEVAL_SUBJECTS, CMMLU, GSM8K, TINYEVAL_SEED
from tinyqwen.data_cache import DataError, DatasetSpec, Source

LONGBENCH_TASKS = (
    "narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh", "hotpotqa", "2wikimqa",
    "musique", "dureader", "gov_report", "qmsum", "multi_news", "vcsum", "trec", "triviaqa",
    "samsum", "lsht", "passage_count", "passage_retrieval_en", "passage_retrieval_zh", "lcc",
    "repobench-p",
)  # fmt: skip
LONGBENCH_E_TASKS = (
    "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "gov_report", "multi_news", "trec",
    "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p",
)  # fmt: skip


def _read_parquet(path: Path) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # a runtime dependency of tinyeval; say so if it went missing
        raise DataError("reading parquet needs pyarrow: pip install pyarrow") from e
    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises its own ArrowInvalid / OSError family
        raise DataError(f"{path}: not a readable parquet file ({e})") from e


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _split_of(rel: str) -> tuple[str, str] | None:
    """(subject, split) of a hub parquet path: ``acc/val-00000-of-00001.parquet`` (main) or
    ``acc/val/0000.parquet`` (the refs/convert/parquet branch)."""
    m = re.fullmatch(r"([^/]+)/(dev|val|validation|test)(?:-[^/]*|/[^/]*)\.parquet", rel)
    return (m.group(1), {"validation": "val"}.get(m.group(2), m.group(2))) if m else None


def convert_ceval(raw: Path, out: Path) -> None:
    """HF parquet ({subject}/{split}-*.parquet) or the official zip ({split}/{subject}_{split}.csv)."""
    header = ["id", "question", "A", "B", "C", "D", "answer", "explanation"]
    n = 0
    for path in sorted(raw.rglob("*.parquet")):
        where = _split_of(path.relative_to(raw).as_posix())
        if where is None:
            continue
        subject, split = where
        rows = []
        for r in _read_parquet(path):
            missing = [k for k in header[:7] if k not in r]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}")
            rows.append([r[k] if r.get(k) is not None else "" for k in header])
        _write_csv(out / split / f"{subject}_{split}.csv", header, rows)
        n += 1
    for path in sorted(raw.rglob("*.zip")):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                m = re.fullmatch(r"(?:.*/)?(dev|val|test)/([a-z_]+)_(dev|val|test)\.csv", name)
                if m:
                    target = out / m.group(1) / f"{m.group(2)}_{m.group(1)}.csv"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(name))
                    n += 1
    if n == 0:
        raise DataError(f"{raw}: no C-Eval parquet or csv files found in what was fetched")


def convert_mmlu(raw: Path, out: Path) -> None:
    """cais/mmlu ``all/{split}-*.parquet`` (question, subject, choices, answer) -> per-subject CSVs."""
    by_file: dict[Path, list[list]] = {}
    for path in sorted(raw.rglob("*.parquet")):
        where = _split_of(path.relative_to(raw).as_posix())
        if where is None:
            continue
        split = where[1]
        for i, r in enumerate(_read_parquet(path)):
            choices = r.get("choices")
            if (
                not isinstance(choices, list)
                or len(choices) != 4
                or r.get("answer") not in range(4)
            ):
                raise DataError(f"{path}: row {i}: expected 4 choices and an answer index 0-3")
            target = out / split / f"{r['subject']}_{split}.csv"
            by_file.setdefault(target, []).append([r["question"], *choices, r["answer"]])
    if not by_file:
        raise DataError(f"{raw}: no MMLU parquet files found in what was fetched")
    for target, rows in by_file.items():
        _write_csv(target, ["question", "choice0", "choice1", "choice2", "choice3", "answer"], rows)


def convert_gsm8k_parquet(raw: Path, out: Path) -> None:
    """openai/gsm8k ``main/{train,test}-*.parquet`` -> ``gsm8k/{train,test}.jsonl``."""
    done = 0
    for split in ("train", "test"):
        for path in sorted(raw.glob(f"main/{split}-*.parquet")):
            lines = []
            for r in _read_parquet(path):
                if not isinstance(r.get("question"), str) or not isinstance(r.get("answer"), str):
                    raise DataError(f"{path}: rows need string fields 'question' and 'answer'")
                row = {"question": r["question"], "answer": r["answer"]}
                lines.append(json.dumps(row, ensure_ascii=False))
            with open(out / f"{split}.jsonl", "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
            done += 1
    if not done:
        raise DataError(f"{raw}: no main/{{train,test}}-*.parquet in what was fetched")


def convert_longbench(raw: Path, out: Path) -> None:
    """LongBench's ``data.zip`` -> ``longbench/*.jsonl`` (only ``data/<name>.jsonl`` members)."""
    zips = sorted(raw.rglob("*.zip"))
    if not zips:
        raise DataError(f"{raw}: data.zip was not fetched")
    wanted = set(LONGBENCH_TASKS) | {f"{t}_e" for t in LONGBENCH_E_TASKS}
    found = set()
    try:
        with zipfile.ZipFile(zips[0]) as z:
            for name in z.namelist():
                m = re.fullmatch(r"(?:data/)?([A-Za-z0-9_\-]+)\.jsonl", name)
                if not m or m.group(1) not in wanted:
                    continue  # never write a member name we did not expect (no path tricks)
                target = out / f"{m.group(1)}.jsonl"
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(name) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                found.add(m.group(1))
    except zipfile.BadZipFile as e:
        raise DataError(f"{zips[0]}: not a valid zip file ({e})") from e
    missing = sorted(wanted - found)
    if missing:
        raise DataError(
            f"{zips[0]}: missing LongBench files {missing[:5]}{'...' * (len(missing) > 5)}"
        )


def _check_jsonl(out: Path, rel: str) -> None:
    for i, line in enumerate(open(out / rel, encoding="utf-8"), 1):
        if line.strip():
            try:
                json.loads(line)
            except ValueError as e:
                raise DataError(f"{out / rel}:{i}: not a JSON line ({e})") from e


def convert_gsm8k_github(raw: Path, out: Path) -> None:
    for name in ("train.jsonl", "test.jsonl"):
        (out / name).write_bytes((raw / name).read_bytes())
        _check_jsonl(out, name)


DATASETS = (
    DatasetSpec(
        name="ceval",
        folder="ceval",
        about="C-Eval: 52 subjects, 4-choice, zh (dev 260 / val 1,346 / test 12,342 unlabelled)",
        size="~4.5 MB",
        license="CC BY-NC-SA 4.0",
        sources=(
            Source(
                "hf",
                "ceval/ceval-exam",
                "main",
                files=("*/dev-*.parquet", "*/val-*.parquet", "*/test-*.parquet"),
                convert=convert_ceval,
            ),
            Source(
                "modelscope",
                "opencompass/ceval-exam",
                "master",
                files=("*.parquet", "*.zip"),
                convert=convert_ceval,
            ),
        ),
        extras=(
            Source(
                "github",
                "hkust-nlp/ceval",
                "cba65ae93bcf189149ced9f66ae0c958201faed9",
                pins=CEVAL_SUBJECTS,
            ),
        ),
    ),
    DatasetSpec(
        name="cmmlu",
        folder="cmmlu",
        about="CMMLU: 67 subjects, 4-choice, zh (dev 335 / test 11,582)",
        size="2.5 MB",
        license="CC BY-NC-SA 4.0",
        sources=(
            Source(
                "github",
                "haonan-li/CMMLU",
                "d6e7b716d8ac694f38969a6c0407437d1fded799",
                pins=CMMLU,
            ),
        ),
    ),
    DatasetSpec(
        name="mmlu",
        folder="mmlu",
        about="MMLU: 57 subjects, 4-choice, en (dev 285 / val 1,531 / test 14,042)",
        size="~4.0 MB",
        license="MIT",
        sources=(
            Source(
                "hf",
                "cais/mmlu",
                "main",
                files=("all/dev-*.parquet", "all/validation-*.parquet", "all/test-*.parquet"),
                convert=convert_mmlu,
            ),
        ),
    ),
    DatasetSpec(
        name="gsm8k",
        folder="gsm8k",
        about="GSM8K: grade-school math word problems (train 7,473 / test 1,319)",
        size="4.9 MB",
        license="MIT",
        sources=(
            Source(
                "github",
                "openai/grade-school-math",
                "3101c7d5072418e28b9008a6636bde82a006892c",
                pins=GSM8K,
                convert=convert_gsm8k_github,
            ),
            Source(
                "hf",
                "openai/gsm8k",
                "main",
                files=("main/train-*.parquet", "main/test-*.parquet"),
                convert=convert_gsm8k_parquet,
            ),
        ),
    ),
    DatasetSpec(
        name="longbench",
        folder="longbench",
        about="LongBench: 21 long-context tasks + 13 LongBench-E files (4,750 + 3,000 rows)",
        size="~114 MB",
        license="MIT (per-task sources differ; see LongBench's README)",
        sources=(
            Source("hf", "THUDM/LongBench", "main", files=("data.zip",), convert=convert_longbench),
        ),
    ),
    DatasetSpec(
        name="tinyeval",
        folder="tinyeval",
        about="the seed TinyEval's real predictions (internlm, internlm2, Qwen2) + GAOKAO_math",
        size="1.3 MB",
        license="CC BY-NC-SA 4.0",
        sources=(
            Source(
                "github",
                "datawhalechina/tiny-universe",
                "25c84e1addf6bac0db1ed80ffb457bb8a060acf2",
                pins=TINYEVAL_SEED,
            ),
        ),
    ),
)
