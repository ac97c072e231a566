"""The built-in training corpus: original bilingual text generated from a seed, so training works offline.

Real pretraining needs gigabytes of text; a laptop demo needs something a 1M-parameter model can visibly
learn in minutes. This module writes *original* text (no copied sources) from small templates with real
structure the model must pick up: arithmetic that has to add up, week days and months that follow each
other, counting, short bilingual stories about a handful of characters, and a few hand-written
paragraphs about how a language model works. The same world feeds the SFT set (question -> answer).

    >>> docs = pretrain_documents(n_docs=3, seed=0)
    >>> len(docs), all(isinstance(d, str) and d for d in docs)
    (3, True)
    >>> conv = sft_conversations(n=1, seed=0)[0]
    >>> [m["role"] for m in conv["messages"]][-2:]
    ['user', 'assistant']

Limits: a toy world. A model trained only on it writes fluent toy sentences and adds small numbers; it
knows nothing else. Pass ``--data`` with your own text for anything real.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tinyqwen.atomic import atomic_write_text

NAMES_ZH = ["小明", "小红", "小刚", "小丽", "阿强", "小美", "老王", "李老师"]
NAMES_EN = ["Tom", "Lily", "Max", "Anna", "Leo", "Mia", "Sam", "Ruby"]
ITEMS_ZH = ["苹果", "橘子", "铅笔", "本子", "气球", "饼干", "贴纸", "小球"]
ITEMS_EN = ["apples", "oranges", "pencils", "books", "balloons", "cookies", "stickers", "marbles"]
COLORS_ZH = ["红色", "蓝色", "绿色", "黄色", "白色", "黑色"]
COLORS_EN = ["red", "blue", "green", "yellow", "white", "black"]
ANIMALS_ZH = ["小猫", "小狗", "兔子", "鸭子", "小鸟", "乌龟"]
ANIMALS_EN = ["cat", "dog", "rabbit", "duck", "bird", "turtle"]
PLACES_ZH = ["公园里", "河边", "院子里", "树下", "草地上", "桥上"]
PLACES_EN = [
    "in the park",
    "by the river",
    "in the yard",
    "under the tree",
    "on the grass",
    "on the bridge",
]
ACTIONS_ZH = ["跑来跑去", "晒太阳", "睡觉", "找吃的", "唱歌", "玩耍"]
ACTIONS_EN = ["runs around", "lies in the sun", "sleeps", "looks for food", "sings", "plays"]
WEEK_ZH = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
WEEK_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS_ZH = [f"{i}月" for i in range(1, 13)]
MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# Hand-written for this project (original text), about what the model being trained is doing.
ESSAYS = [
    "语言模型做的事情很简单：读前面的字，猜下一个字。猜对了，损失就小；猜错了，损失就大。"
    "训练就是一遍又一遍地调整参数，让损失慢慢变小。",
    "A language model reads the tokens so far and predicts the next one. Training nudges every "
    "weight a little in the direction that makes the right token more likely, millions of times.",
    "注意力让每个位置去看它前面的所有位置，并决定该看谁多一点。因果掩码保证模型不能偷看后面的答案。",
    "Attention lets each position look back at every earlier position and decide which ones matter. "
    "The causal mask makes sure the model never peeks at the answer it is asked to predict.",
    "旋转位置编码把位置信息写进查询和键的方向里。两个向量旋转的角度之差，只取决于它们的相对距离。",
    "RMSNorm divides a vector by its root mean square and multiplies by a learned gain. It keeps the "
    "numbers in a healthy range as they flow through many layers.",
    "学习率先从零慢慢升高，这叫预热；然后沿着余弦曲线慢慢降低。太大的学习率会让损失跳来跳去，太小又学得太慢。",
    "LoRA freezes the big weight matrix and learns two thin matrices beside it. Their product is a "
    "low-rank update, so fine-tuning touches only a small fraction of the parameters.",
    "指令微调只在助手的回答上计算损失。系统提示和用户的问题只是条件，模型不需要学会复述它们。",
    "Gradient accumulation adds up the gradients of several small batches before one optimizer step, "
    "so a small machine can train with the same effective batch size as a large one.",
]


def _num(rng: random.Random, hi: int = 20) -> int:
    return rng.randint(1, hi)


def _story_zh(rng: random.Random) -> str:
    name, item = rng.choice(NAMES_ZH), rng.choice(ITEMS_ZH)
    a, b = _num(rng), _num(rng)
    lines = [f"{name}有{a}个{item}。"]
    if rng.random() < 0.5:
        lines.append(
            f"{rng.choice(['妈妈', '朋友', '老师'])}又给了{name}{b}个，现在{name}一共有{a + b}个{item}。"
        )
    else:
        b = rng.randint(0, a)
        lines.append(f"{name}分给同学{b}个，还剩下{a - b}个{item}。")
    c, an, pl, ac = (
        rng.choice(COLORS_ZH),
        rng.choice(ANIMALS_ZH),
        rng.choice(PLACES_ZH),
        rng.choice(ACTIONS_ZH),
    )
    lines.append(f"一只{c}的{an}在{pl}{ac}。")
    d = rng.randrange(7)
    lines.append(
        f"今天是{WEEK_ZH[d]}，明天是{WEEK_ZH[(d + 1) % 7]}，昨天是{WEEK_ZH[(d - 1) % 7]}。"
    )
    return "".join(lines)


def _story_en(rng: random.Random) -> str:
    i = rng.randrange(len(NAMES_EN))
    name, pron = NAMES_EN[i], ("he" if i % 2 == 0 else "she")
    item = rng.choice(ITEMS_EN)
    a, b = _num(rng), _num(rng)
    lines = [f"{name} has {a} {item}."]
    if rng.random() < 0.5:
        lines.append(f"A friend gives {name} {b} more, so now {pron} has {a + b} {item}.")
    else:
        b = rng.randint(0, a)
        lines.append(f"{name} gives away {b}, and {pron} has {a - b} {item} left.")
    c, an, pl, ac = (
        rng.choice(COLORS_EN),
        rng.choice(ANIMALS_EN),
        rng.choice(PLACES_EN),
        rng.choice(ACTIONS_EN),
    )
    lines.append(f"A {c} {an} {ac} {pl}.")
    m = rng.randrange(12)
    lines.append(f"After {MONTHS_EN[m]} comes {MONTHS_EN[(m + 1) % 12]}.")
    return " ".join(lines)


def _arithmetic(rng: random.Random) -> str:
    rows = []
    for _ in range(rng.randint(3, 6)):
        a, b = _num(rng, 50), _num(rng, 50)
        if rng.random() < 0.5:
            rows.append(f"{a} + {b} = {a + b}")
        else:
            a, b = max(a, b), min(a, b)
            rows.append(f"{a} - {b} = {a - b}")
    return "\n".join(rows)


def _sequence(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        start = rng.randrange(7)
        return "，".join(WEEK_ZH[(start + k) % 7] for k in range(7)) + "。"
    if kind == 1:
        start = rng.randrange(12)
        return ", ".join(MONTHS_EN[(start + k) % 12] for k in range(6)) + "."
    if kind == 2:
        start, step = rng.randint(1, 30), rng.randint(1, 5)
        return " ".join(str(start + step * k) for k in range(8))
    start = rng.randrange(12)
    return "、".join(MONTHS_ZH[(start + k) % 12] for k in range(6)) + "。"


def pretrain_documents(n_docs: int = 3000, seed: int = 0) -> list[str]:
    """``n_docs`` short documents (~100 bytes each); the mix is fixed by ``seed``."""
    rng = random.Random(seed)
    makers = [_story_zh, _story_en, _arithmetic, _sequence]
    docs = []
    for i in range(n_docs):
        if i % 50 == 49:
            docs.append(ESSAYS[(i // 50) % len(ESSAYS)])
        else:
            docs.append(rng.choice(makers)(rng))
    return docs


def _qa(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(6)
    a, b = _num(rng, 30), _num(rng, 30)
    if kind == 0:
        return f"{a}加{b}等于多少？", f"{a}加{b}等于{a + b}。"
    if kind == 1:
        a, b = max(a, b), min(a, b)
        return f"{a}减{b}等于多少？", f"{a}减{b}等于{a - b}。"
    if kind == 2:
        return f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."
    if kind == 3:
        d = rng.randrange(7)
        return f"{WEEK_ZH[d]}的下一天是星期几？", f"{WEEK_ZH[d]}的下一天是{WEEK_ZH[(d + 1) % 7]}。"
    if kind == 4:
        m = rng.randrange(12)
        return (
            f"Which month comes after {MONTHS_EN[m]}?",
            f"{MONTHS_EN[(m + 1) % 12]} comes after {MONTHS_EN[m]}.",
        )
    name, item = rng.choice(NAMES_ZH), rng.choice(ITEMS_ZH)
    return (f"{name}有{a}个{item}，又得到{b}个，现在有几个？", f"{name}现在有{a + b}个{item}。")


def sft_conversations(n: int = 2000, seed: int = 0) -> list[dict]:
    """``n`` conversations ``{"messages": [...]}`` in OpenAI format; some multi-turn, some with a system prompt."""
    rng = random.Random(seed + 1)
    out = []
    for _ in range(n):
        messages: list[dict] = []
        if rng.random() < 0.3:
            messages.append({"role": "system", "content": "你是一个耐心的小老师，回答要简短。"})
        for _turn in range(1 if rng.random() < 0.7 else 2):
            q, a = _qa(rng)
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        out.append({"messages": messages})
    return out


def write_pretrain_corpus(path: str | Path, n_docs: int = 3000, seed: int = 0) -> Path:
    """Write the corpus as JSONL (``{"text": ...}`` per line) atomically; returns the path."""
    p = Path(path)
    lines = [json.dumps({"text": d}, ensure_ascii=False) for d in pretrain_documents(n_docs, seed)]
    atomic_write_text(p, "\n".join(lines) + "\n")
    return p


def write_sft_corpus(path: str | Path, n: int = 2000, seed: int = 0) -> Path:
    p = Path(path)
    lines = [json.dumps(c, ensure_ascii=False) for c in sft_conversations(n, seed)]
    atomic_write_text(p, "\n".join(lines) + "\n")
    return p
