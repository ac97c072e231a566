"""tinyeval — an LLM evaluation harness written by hand.

Metrics that agree exactly with their reference implementations (LongBench, SQuAD v1.1, CMRC 2018,
lm-evaluation-harness GSM8K, sacrebleu BLEU), tasks as small JSON configs, resumable runs against
any ``tinyqwen.connect`` model, and reports with bootstrap intervals.

    python -m tinyeval run --model tiny-random --task demo_qa_zh --out runs/tiny-random
    python -m tinyeval score ~/.cache/tiny-universe/data/tinyeval/pred/internlm
    python -m tinyeval report runs/tiny-random ~/.cache/tiny-universe/data/tinyeval/pred/internlm --out runs/report

Importing the package does not import torch (the model side is loaded only by ``run``).
"""

__version__ = "0.1.0"
