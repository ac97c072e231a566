"""LongBench metrics.py / eval.py and the seed's GAOKAO rule, restated on top of the reference
packages (rouge==1.0.1, jieba, fuzzywuzzy, difflib) — the oracle the hand-written metrics must match.

Kept deliberately close to THUDM/LongBench metrics.py (quirks included); test-only code.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import jieba
from fuzzywuzzy import fuzz
from rouge import Rouge


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def normalize_zh_answer(s):
    cn = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
    allp = set(string.punctuation + cn)
    return "".join("".join(ch for ch in s.lower() if ch not in allp).split())


def count_score(prediction, ground_truth, **kwargs):
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for n in numbers if str(n) == str(ground_truth))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def retrieval_score(prediction, ground_truth, **kwargs):
    gid = re.findall(r"Paragraph (\d+)", ground_truth)[0]
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for n in numbers if str(n) == str(gid))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def retrieval_zh_score(prediction, ground_truth, **kwargs):
    gid = re.findall(r"段落(\d+)", ground_truth)[0]
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for n in numbers if str(n) == str(gid))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def code_sim_score(prediction, ground_truth, **kwargs):
    all_lines = prediction.lstrip("\n").split("\n")
    prediction = ""
    for line in all_lines:
        if ("`" not in line) and ("#" not in line) and ("//" not in line):
            prediction = line
            break
    return fuzz.ratio(prediction, ground_truth) / 100


def classification_score(prediction, ground_truth, **kwargs):
    em_match_list = []
    all_classes = kwargs["all_classes"]
    for class_name in all_classes:
        if class_name in prediction:
            em_match_list.append(class_name)
    for match_term in em_match_list:  # noqa: B909 - the reference mutates while iterating
        if match_term in ground_truth and match_term != ground_truth:
            em_match_list.remove(match_term)
    if ground_truth in em_match_list:
        return 1.0 / len(em_match_list)
    return 0.0


def rouge_score(prediction, ground_truth, **kwargs):
    try:
        scores = Rouge().get_scores([prediction], [ground_truth], avg=True)
    except Exception:  # LongBench: bare except -> 0.0
        return 0.0
    return scores["rouge-l"]["f"]


def rouge_zh_score(prediction, ground_truth, **kwargs):
    prediction = " ".join(list(jieba.cut(prediction, cut_all=False)))
    ground_truth = " ".join(list(jieba.cut(ground_truth, cut_all=False)))
    return rouge_score(prediction, ground_truth)


def f1_score(prediction, ground_truth, **kwargs):
    common = Counter(prediction) & Counter(ground_truth)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction)
    recall = 1.0 * num_same / len(ground_truth)
    return (2 * precision * recall) / (precision + recall)


def qa_f1_score(prediction, ground_truth, **kwargs):
    return f1_score(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def qa_f1_zh_score(prediction, ground_truth, **kwargs):
    p = [normalize_zh_answer(t) for t in jieba.cut(prediction, cut_all=False)]
    g = [normalize_zh_answer(t) for t in jieba.cut(ground_truth, cut_all=False)]
    return f1_score([t for t in p if len(t) > 0], [t for t in g if len(t) > 0])


DATASET2METRIC = {  # LongBench eval.py, all 21 datasets
    "narrativeqa": qa_f1_score,
    "qasper": qa_f1_score,
    "multifieldqa_en": qa_f1_score,
    "multifieldqa_zh": qa_f1_zh_score,
    "hotpotqa": qa_f1_score,
    "2wikimqa": qa_f1_score,
    "musique": qa_f1_score,
    "dureader": rouge_zh_score,
    "gov_report": rouge_score,
    "qmsum": rouge_score,
    "multi_news": rouge_score,
    "vcsum": rouge_zh_score,
    "trec": classification_score,
    "triviaqa": qa_f1_score,
    "samsum": rouge_score,
    "lsht": classification_score,
    "passage_retrieval_en": retrieval_score,
    "passage_count": count_score,
    "passage_retrieval_zh": retrieval_zh_score,
    "lcc": code_sim_score,
    "repobench-p": code_sim_score,
}


def scorer_e(dataset, predictions, answers, lengths, all_classes):
    """LongBench eval.py ``scorer_e`` (numpy mean per length bucket; empty bucket -> nan)."""
    import numpy as np

    scores = {"0-4k": [], "4-8k": [], "8k+": []}
    for prediction, ground_truths, length in zip(predictions, answers, lengths):
        score = 0.0
        if dataset in ["trec", "triviaqa", "samsum", "lsht"]:
            prediction = prediction.lstrip("\n").split("\n")[0]
        for ground_truth in ground_truths:
            score = max(
                score, DATASET2METRIC[dataset](prediction, ground_truth, all_classes=all_classes)
            )
        if length < 4000:
            scores["0-4k"].append(score)
        elif length < 8000:
            scores["4-8k"].append(score)
        else:
            scores["8k+"].append(score)
    for key in scores.keys():
        scores[key] = round(100 * np.mean(scores[key]), 2)
    return scores


def eval_folder(path, e=False):
    """LongBench eval.py ``__main__`` on a prediction folder: {dataset: score} (not written)."""
    import json
    import os
    import warnings

    scores = {}
    for filename in os.listdir(path):
        if not filename.endswith("jsonl"):
            continue
        predictions, answers, lengths = [], [], []
        dataset = filename.split(".")[0]
        with open(os.path.join(path, filename), encoding="utf-8") as f:
            for line in f:
                data = json.loads(line)
                predictions.append(data["pred"])
                answers.append(data["answers"])
                all_classes = data["all_classes"]
                if "length" in data:
                    lengths.append(data["length"])
        if e:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy: mean of an empty bucket
                scores[dataset] = scorer_e(dataset, predictions, answers, lengths, all_classes)
        else:
            scores[dataset] = scorer(dataset, predictions, answers, all_classes)
    return scores


def scorer(dataset, predictions, answers, all_classes):
    """LongBench eval.py ``scorer`` (all_classes of the last record, as eval.py passes it)."""
    total_score = 0.0
    for prediction, ground_truths in zip(predictions, answers):
        score = 0.0
        if dataset in ["trec", "triviaqa", "samsum", "lsht"]:
            prediction = prediction.lstrip("\n").split("\n")[0]
        for ground_truth in ground_truths:
            score = max(
                score, DATASET2METRIC[dataset](prediction, ground_truth, all_classes=all_classes)
            )
        total_score += score
    return round(100 * total_score / len(predictions), 2)


def seed_gaokao(prediction, ground_truth, **kwargs):
    """The seed's GAOKAO_math (commit 8af27e3), verbatim logic."""
    score = 0
    if len(ground_truth) > 1:
        matches = re.findall(r"[A-D]", prediction)
        predicted_answer = ""
        if matches:
            reversed_prediction = prediction[::-1]
            if len(matches) > 1:
                for i, match in enumerate(matches):
                    if i == 0:
                        predicted_answer += match
                    else:
                        distance = (
                            reversed_prediction.find(matches[i - 1])
                            - reversed_prediction.find(match)
                            - 1
                        )
                        if distance > 5:
                            break
                        predicted_answer += match
                predicted_answer = "".join(sorted(set(predicted_answer)))
            if predicted_answer == ground_truth:
                score = 1
            elif all(option in ground_truth for option in predicted_answer) and len(
                predicted_answer
            ) < len(ground_truth):
                score = 0.5
    else:
        matches = re.findall(r"[A-D]", prediction)
        if matches and matches[-1] == ground_truth:
            score = 1
    return score
