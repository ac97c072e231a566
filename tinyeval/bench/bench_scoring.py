"""Scoring throughput: tinyeval's hand-written metrics vs the reference implementations.

    python bench/bench_scoring.py            # needs ../shared/data/tinyeval/pred (real predictions)

Pairs are the seed's real internlm predictions. References: rouge==1.0.1 (via LongBench's
rouge_score), LongBench's qa_f1_zh / classification (jieba / plain Python), fuzzywuzzy (difflib
backend), sacrebleu. Each row is timed best-of-3 on one core; results are also checked equal.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
warnings.filterwarnings("ignore", message="Using slow pure-python SequenceMatcher")

import longbench_reference as ref  # noqa: E402
import sacrebleu  # noqa: E402

from tinyeval.metrics import METRICS  # noqa: E402
from tinyeval.metrics.bleu import corpus_bleu  # noqa: E402
from tinyeval.score import read_predictions  # noqa: E402
from tinyqwen.data_cache import data_dir, shared_dev_data  # noqa: E402

# the developers' copy (../shared/data) if present, else the data cache (python -m tinyeval data fetch tinyeval)
PRED = (shared_dev_data(HERE.parents[1]) or data_dir()) / "tinyeval" / "pred" / "internlm"


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    if not PRED.exists():
        raise SystemExit(f"bench_scoring: real predictions not found at {PRED}")
    news = read_predictions(PRED / "multi_news.jsonl")
    zh = read_predictions(PRED / "multifieldqa_zh.jsonl")
    trec = read_predictions(PRED / "trec.jsonl")
    ref.qa_f1_zh_score("预热", "jieba")  # load jieba's dictionary outside the timings

    def pairs(recs, first_line=False):
        out = []
        for r in recs:
            p = r["pred"].lstrip("\n").split("\n")[0] if first_line else r["pred"]
            out += [(p, g, r["all_classes"]) for g in r["answers"]]
        return out

    rows = []
    cases = [
        ("rouge (multi_news)", "rouge", ref.rouge_score, pairs(news)),
        ("qa_f1_zh (multifieldqa_zh)", "qa_f1_zh", ref.qa_f1_zh_score, pairs(zh)),
        ("rouge_zh (multifieldqa_zh)", "rouge_zh", ref.rouge_zh_score, pairs(zh)),
        ("classification (trec)", "classification", ref.classification_score, pairs(trec, True)),
        ("code_sim (trec lines)", "code_sim", ref.code_sim_score, pairs(trec)),
    ]
    for label, name, oracle, ps in cases:
        ours_fn = METRICS[name]
        ours_vals = [ours_fn(p, g, all_classes=c) for p, g, c in ps]
        ref_vals = [oracle(p, g, all_classes=c) for p, g, c in ps]
        diff = max(abs(a - b) for a, b in zip(ours_vals, ref_vals))
        t_ours = best_of(lambda: [ours_fn(p, g, all_classes=c) for p, g, c in ps])  # noqa: B023
        t_ref = best_of(lambda: [oracle(p, g, all_classes=c) for p, g, c in ps])  # noqa: B023
        rows.append((label, len(ps), t_ours, t_ref, diff))
    for tok, recs in (("13a", news), ("zh", zh)):
        hyps, refs = [r["pred"] for r in recs], [[r["answers"][0] for r in recs]]
        diff = abs(
            corpus_bleu(hyps, refs, tokenize=tok).score
            - sacrebleu.corpus_bleu(hyps, refs, tokenize=tok).score
        )
        t_ours = best_of(lambda: corpus_bleu(hyps, refs, tokenize=tok))  # noqa: B023
        # sacrebleu caches tokenisation per line (lru_cache); a fresh BLEU object per call is fair
        t_ref = best_of(lambda: sacrebleu.corpus_bleu(hyps, refs, tokenize=tok))  # noqa: B023
        rows.append((f"corpus BLEU {tok}", len(hyps), t_ours, t_ref, diff))

    print(
        "| metric | pairs | tinyeval (s) | reference (s) | speed ratio (ref/ours) | max abs diff |"
    )
    print("|---|---|---|---|---|---|")
    for label, n, a, b, d in rows:
        print(f"| {label} | {n} | {a:.3f} | {b:.3f} | {b / a:.2f}x | {d:.1e} |")


if __name__ == "__main__":
    main()
