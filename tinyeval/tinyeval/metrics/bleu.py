"""BLEU exactly as sacrebleu 2.x computes it, with its ``13a`` and ``zh`` tokenisers.

Per segment: tokenise (``13a`` = mteval-v13a rules; ``zh`` = every CJK character its own token,
then the same rules), count n-grams n = 1..4, clip each hypothesis n-gram count by its max count in
any one reference, and take the reference length closest to the hypothesis length (ties: shorter).
Corpus: sum the statistics, then

    BLEU = BP · exp( mean_n log p_n ),   p_n = 100·correct_n/total_n,   BP = exp(1 - r/c) if c < r

Smoothing ``exp`` (sacrebleu's default; NIST/mteval): the k-th order with zero matches gets
``p_n = 100 / (2^k · total_n)``. ``floor`` (0.1) and ``add-k`` (1) and ``none`` are also here.
``sentence_bleu`` defaults to ``use_effective_order=True`` (orders with no n-grams at all are left
out of the mean), ``corpus_bleu`` to False — the same defaults as sacrebleu's functions.

    >>> round(corpus_bleu(["the cat sat on the mat"], [["the cat is on the mat"]]).score, 4)
    37.9918
    >>> round(sentence_bleu("猫坐在垫子上", ["猫在垫子上"], tokenize="zh").score, 4)
    53.7285

References are *streams*, as in sacrebleu: ``references[k][i]`` is the k-th reference of segment i;
``None`` drops that reference for that segment.

Limits: only the ``13a``, ``zh`` and ``none`` tokenisers; no ``intl``/``char``/mecab/spm.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_ORDER = 4
SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}

# mteval-v13a language-dependent rules (sacrebleu tokenizer_re.py), applied in this order.
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # symbols become tokens
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period/comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period/comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
]

# sacrebleu tokenizer_zh.py ranges, compared as *strings* like sacrebleu does. Two entries are
# written there as "\u20000" and "\u2f800" (meant as U+20000 / U+2F800) but Python reads them as
# two characters, "\u2000" + "0": the comparison then covers U+2001..U+2A6D and U+2F81..U+2FA1.
# We keep the literal strings so the behaviour is identical.
_ZH_RANGES = [
    ("\u3400", "\u4db5"),
    ("\u4e00", "\u9fa5"),
    ("\u9fa6", "\u9fbb"),
    ("\uf900", "\ufa2d"),
    ("\ufa30", "\ufa6a"),
    ("\ufa70", "\ufad9"),
    ("\u20000", "\u2a6d6"),
    ("\u2f800", "\u2fa1d"),
    ("\uff00", "\uffef"),
    ("\u2e80", "\u2eff"),
    ("\u3000", "\u303f"),
    ("\u31c0", "\u31ef"),
    ("\u2f00", "\u2fdf"),
    ("\u2ff0", "\u2fff"),
    ("\u3100", "\u312f"),
    ("\u31a0", "\u31bf"),
    ("\ufe10", "\ufe1f"),
    ("\ufe30", "\ufe4f"),
    ("\u2600", "\u26ff"),
    ("\u2700", "\u27bf"),
    ("\u3200", "\u32ff"),
    ("\u3300", "\u33ff"),
]


def _post_tokenize(line: str) -> str:
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenisation (sacrebleu ``13a``)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&")
        line = line.replace("&lt;", "<").replace("&gt;", ">")
    return _post_tokenize(f" {line} ")


def is_chinese_char(ch: str) -> bool:
    return any(start <= ch <= end for start, end in _ZH_RANGES)


def tokenize_zh(line: str) -> str:
    """sacrebleu ``zh``: space out each CJK character, then the 13a rules."""
    out = []
    for ch in line.strip():
        out.append(f" {ch} " if is_chinese_char(ch) else ch)
    return _post_tokenize("".join(out))


TOKENIZERS = {"13a": tokenize_13a, "zh": tokenize_zh, "none": lambda line: line}


@dataclass
class BLEUResult:
    score: float
    counts: list[int]
    totals: list[int]
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int
    extra: dict = field(default_factory=dict)


def _ngrams(line: str, max_order: int) -> tuple[Counter, int]:
    tokens = line.split()
    grams = [
        tuple(tokens[i : i + n])
        for n in range(1, max_order + 1)
        for i in range(len(tokens) - n + 1)
    ]
    return Counter(grams), len(tokens)


def _closest_ref_len(hyp_len: int, ref_lens: list[int]) -> int:
    best_diff, best_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if best_diff == -1 or diff < best_diff:
            best_diff, best_len = diff, ref_len
        elif diff == best_diff and ref_len < best_len:
            best_len = ref_len
    return best_len


def _log(x: float) -> float:
    return -9999999999 if x == 0.0 else math.log(x)  # sacrebleu utils.my_log


def compute_bleu(
    correct: list[int],
    total: list[int],
    sys_len: int,
    ref_len: int,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = False,
    max_order: int = MAX_ORDER,
) -> BLEUResult:
    """BLEU from summed sufficient statistics (sacrebleu ``BLEU.compute_bleu``)."""
    if smooth_method not in SMOOTH_DEFAULTS:
        raise ValueError(f"unknown smooth_method {smooth_method!r}; use {sorted(SMOOTH_DEFAULTS)}")
    if smooth_value is None:
        smooth_value = SMOOTH_DEFAULTS[smooth_method]
    correct, total = list(correct), list(total)
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_order
    if not any(correct):
        return BLEUResult(0.0, correct, total, precisions, bp, sys_len, ref_len)
    smooth_mteval = 1.0
    eff_order = max_order
    for n in range(1, max_order + 1):
        if smooth_method == "add-k" and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth_method == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth_method == "floor":
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    score = bp * math.exp(sum([_log(p) for p in precisions[:eff_order]]) / eff_order)
    return BLEUResult(score, correct, total, precisions, bp, sys_len, ref_len)


def segment_stats(
    hypothesis: str, references: Sequence[str], tokenize: str = "13a", lowercase: bool = False
) -> list[int]:
    """[hyp_len, ref_len, correct_1..4, total_1..4] for one segment (``None`` refs dropped)."""
    if tokenize not in TOKENIZERS:
        raise ValueError(f"unknown tokenize {tokenize!r}; use one of {sorted(TOKENIZERS)}")
    tok = TOKENIZERS[tokenize]

    def prep(s: str) -> str:
        return tok((s.lower() if lowercase else s).rstrip())

    ref_ngrams: Counter | None = None
    ref_lens = []
    for ref in references:
        if ref is None:
            continue
        grams, length = _ngrams(prep(ref), MAX_ORDER)
        ref_lens.append(length)
        if ref_ngrams is None:
            ref_ngrams = grams
        else:
            for gram, count in grams.items():
                ref_ngrams[gram] = max(ref_ngrams[gram], count)
    if ref_ngrams is None:
        raise ValueError("BLEU: a segment has no reference (all None)")
    hyp_grams, hyp_len = _ngrams(prep(hypothesis), MAX_ORDER)
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for gram, count in hyp_grams.items():
        n = len(gram) - 1
        total[n] += count
        if gram in ref_ngrams:
            correct[n] += min(count, ref_ngrams[gram])
    return [hyp_len, _closest_ref_len(hyp_len, ref_lens), *correct, *total]


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str | None]],
    *,
    tokenize: str = "13a",
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    use_effective_order: bool = False,
) -> BLEUResult:
    """Corpus BLEU; ``references`` is a list of reference streams, each as long as hypotheses."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("corpus_bleu: hypotheses must be a list of str, references a list of lists")
    for k, stream in enumerate(references):
        if len(stream) != len(hypotheses):
            raise ValueError(
                f"corpus_bleu: reference stream {k} has {len(stream)} lines, "
                f"hypotheses have {len(hypotheses)}"
            )
    stats = [
        segment_stats(hyp, refs, tokenize, lowercase)
        for hyp, refs in zip(hypotheses, zip(*references))
    ]
    summed = [sum(col) for col in zip(*stats)] if len(stats) > 1 else stats[0]
    return compute_bleu(
        summed[2 : 2 + MAX_ORDER],
        summed[2 + MAX_ORDER :],
        int(summed[0]),
        int(summed[1]),
        smooth_method,
        smooth_value,
        use_effective_order,
    )


def sentence_bleu(
    hypothesis: str,
    references: Sequence[str],
    *,
    tokenize: str = "13a",
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    use_effective_order: bool = True,
) -> BLEUResult:
    """BLEU of one segment against one or more references (sacrebleu ``sentence_bleu``)."""
    if isinstance(references, str):
        raise TypeError("sentence_bleu: references must be a list of str, not a str")
    return corpus_bleu(
        [hypothesis],
        [[r] for r in references],
        tokenize=tokenize,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        lowercase=lowercase,
        use_effective_order=use_effective_order,
    )
