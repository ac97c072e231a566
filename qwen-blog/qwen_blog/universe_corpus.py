"""The ``tiny-universe`` instruction corpus: tool calls, grounded answers with ``[n]``, refusals, chat.

Every conversation is generated from a seed, in Chinese and English, in the *exact* prompt formats the
mini-projects send at run time, so a model trained on it works with them unchanged:

* ``calc_qwen`` / ``clock_qwen``: tinyagent's ``qwen`` protocol -- OpenAI messages plus tool schemas,
  rendered by tinyqwen's Qwen2.5 template (``<tools>`` in the system prompt, ``<tool_call>`` blocks in
  the reply, ``<tool_response>`` for the result);
* ``calc_react`` / ``clock_react``: tinyagent's ``react`` protocol -- its system prompt and one open
  assistant scratchpad ``Thought: ... Action: ... Action Input: {...}\\nObservation: ...\\nThought: ...
  Final Answer: ...``; the observation text is marked untrained (``"untrained"``: character spans of
  the assistant message), because at run time the tool writes it, not the model;
* ``rag`` / ``refuse``: tinyrag's answer prompt (its system message, numbered ``[n] (location)`` sources,
  ``问题：``/``Question:``); the reply cites the right source as ``[n]`` or is tinyrag's refusal
  sentence when no source holds the answer;
* ``chat``: short plain conversation (greetings, what the model can do).

Train/test split by *template and entity*: each task's question templates are split (the last
template of every list is held out), and so are its entities -- operand pairs for arithmetic (by a
hash of the pair), cities for the clock, the fictional towns/people of the documents. The test split
therefore asks questions worded in ways the model never saw, about things it never saw.

Besides the conversations, training-side drills (never test towns or held-out wordings):
:func:`copy_documents` (copying, key -> value lookup, clock reading, time zones), :func:`drill_documents`
(each conversation without its system prompt), :func:`lookup_documents` (sources + several questions,
for pretraining), :func:`value_drill` (sources + answer openings, value-only loss, for the lookup
stage between the two) and :func:`lookup_conversations` (the same as multi-turn chats, for SFT).

    >>> convs = universe_conversations("train", n=7, seed=0)
    >>> sorted({c["task"] for c in convs}) == sorted(TASKS)
    True
    >>> c = universe_conversations("test", n=1, seed=0, tasks=["calc_qwen"])[0]
    >>> c["messages"][1]["tool_calls"][0]["function"]["name"], c["answer"] == c["messages"][2]["content"]
    ('calculator', True)

Limits: a toy world -- two integers of up to 3 digits, five unit conversions, documents of one to four
sentences about generated towns, 48 cities. The
constants below copy tinyagent's tool schemas and ReAct prompt and tinyrag's answer prompt; the tests
check them against those packages (when installed), so a change there is caught here.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from tinyqwen.atomic import atomic_write_text

TASKS = ["calc_qwen", "calc_react", "clock_qwen", "clock_react", "rag", "refuse", "chat"]
WEIGHTS = {"calc_qwen": 3, "calc_react": 2, "clock_qwen": 2, "clock_react": 2, "rag": 3,
           "refuse": 2, "chat": 1}  # fmt: skip

# --- tinyagent's tool schemas (tinyagent/tools/calculator.py, clock.py; checked in tests) ----------
CALCULATOR_SCHEMA = {"type": "function", "function": {
    "name": "calculator", "description": "Evaluate an arithmetic expression and return the number.",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string", "description":
        'the expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(2) / 3". Supports + - * / // % **, '
        "parentheses, sqrt, log, exp, sin, cos, tan, floor, ceil, abs, round, min, max, pi and e."}},
        "required": ["expression"]}}}  # fmt: skip
CLOCK_SCHEMA = {"type": "function", "function": {
    "name": "current_time", "description": "Get the current date, time and weekday.",
    "parameters": {"type": "object", "properties": {"timezone_name": {"type": "string",
        "description": 'an IANA time zone such as "Asia/Shanghai" or "America/New_York".',
        "default": "UTC"}}}}}  # fmt: skip
TOOL_SETS = [[CALCULATOR_SCHEMA, CLOCK_SCHEMA], [CALCULATOR_SCHEMA], [CLOCK_SCHEMA]]

# --- tinyagent's ReAct system prompt (tinyagent/react.py react_system_prompt; checked in tests) --------
REACT_FORMAT = """Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{names}]
Action Input: the input to the action, as a JSON object
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can be repeated zero or more times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question"""


def react_system(schemas: list[dict]) -> str:
    lines = [
        "Answer the following questions as best you can. You have access to the following tools:",
        "",
    ]
    for s in schemas:
        f = s["function"]
        params = json.dumps(f["parameters"], ensure_ascii=False)
        lines.append(f"{f['name']}: {f['description']} Parameters: {params}")
    names = ", ".join(s["function"]["name"] for s in schemas)
    return "\n".join([*lines, "", REACT_FORMAT.format(names=names), "", "Begin!"])


# --- tinyrag's answer prompt (tinyrag/answer.py build_messages; checked in tests) ---------------------
RAG_SYSTEM = {
    "zh": (
        "你是一个严谨的问答助手。只根据下面编号的资料回答问题，每个论断后用 [n] 标注所依据的资料编号"
        "（可以有多个，如 [1][3]）。如果资料中没有答案，只回答：文档中没有提到。"
    ),
    "en": (
        "You are a careful assistant. Answer only from the numbered sources below and cite the "
        "source of every claim as [n] (several are fine, e.g. [1][3]). If the sources do not "
        "contain the answer, reply only: The documents do not say."
    ),
}
REFUSAL = {"zh": "文档中没有提到。", "en": "The documents do not say."}


def rag_messages(question: str, sources: list[tuple[str, str]], lang: str) -> list[dict]:
    """tinyrag's prompt for ``sources`` = [(location, text), ...] numbered from 1."""
    user = f"{sources_text(sources, lang)}\n\n{question_line(question, lang)}"
    return [{"role": "system", "content": RAG_SYSTEM[lang]}, {"role": "user", "content": user}]


def sources_text(sources: list[tuple[str, str]], lang: str) -> str:
    """``资料:`` / ``Sources:`` and the numbered ``[n] (location)\ntext`` blocks, as tinyrag writes them."""
    blocks = [f"[{i}] ({loc})\n{text.strip()}" for i, (loc, text) in enumerate(sources, 1)]
    return ("资料" if lang == "zh" else "Sources") + ":\n\n" + "\n\n".join(blocks)


def question_line(question: str, lang: str) -> str:
    return ("问题：" if lang == "zh" else "Question: ") + question.strip()


# --- templates: the LAST entry of every list is the held-out (test) template --------------------------
OPS = {"+": ("加", "plus"), "-": ("减", "minus"), "*": ("乘以", "times")}
CALC_ZH = ["{a}{op}{b}等于多少？", "请帮我算一下 {a} {sym} {b}。", "计算：{a}{op}{b}", "{a} {sym} {b} 是多少？",
           "{a}{op}{b}得几？", "算一算 {a}{op}{b}。", "问一下，{a} {sym} {b} 的结果是？", "{a}{op}{b}是多少呀？",
           "请计算 {a} {sym} {b} 的值。", "帮我算算{a}{op}{b}的结果。"]  # fmt: skip
CALC_EN = ["What is {a} {op} {b}?", "Compute {a} {sym} {b}.", "Please calculate {a} {op} {b}.",
           "How much is {a} {sym} {b}?", "What do you get for {a} {op} {b}?", "Calculate {a} {sym} {b} please.",
           "I need {a} {op} {b}.", "Find the value of {a} {sym} {b}.", "What's {a} {op} {b}?",
           "Can you work out {a} {op} {b} for me?"]  # fmt: skip
# unit conversions: (zh from, zh to, en from, en to, factor)
UNITS = [("千米", "米", "kilometers", "meters", 1000), ("小时", "分钟", "hours", "minutes", 60),
         ("千克", "克", "kilograms", "grams", 1000), ("米", "厘米", "meters", "centimeters", 100),
         ("分钟", "秒", "minutes", "seconds", 60)]  # fmt: skip
UNIT_ZH = ["{a}{u1}是多少{u2}？", "{a}{u1}等于几{u2}？", "{a}{u1}合多少{u2}？", "请把{a}{u1}换算成{u2}。",
           "{a}{u1}有多少{u2}？", "把{a}{u1}换算成{u2}。"]  # fmt: skip
UNIT_EN = ["How many {u2} are {a} {u1}?", "Convert {a} {u1} to {u2}.", "How many {u2} is {a} {u1}?",
           "Please convert {a} {u1} into {u2}.", "What is {a} {u1} in {u2}?",
           "{a} {u1} is how many {u2}?"]  # fmt: skip
CALC_ANSWER = {
    "zh": "{expr} = {value}，答案是 {value}。",
    "en": "{expr} = {value}, so the answer is {value}.",
}
UNIT_ANSWER = {"zh": "{a}{u1}等于 {value}{u2}。", "en": "{a} {u1} is {value} {u2}."}
# training only: more arithmetic wordings, composed (verb + expression + ending), so the model finds
# the operands wherever they sit in a question, not after one of ten fixed openings (held-out
# templates are never produced: the test checks it)
CALC_VERB_ZH = ["", "求", "请算", "算一下", "告诉我", "计算一下", "麻烦算算", "我想知道"]
CALC_END_ZH = ["", "等于几？", "的值。", "是几？", "得多少？", "的答案是什么？"]
CALC_VERB_EN = ["", "Solve", "Evaluate", "Tell me", "Give me", "Determine", "Figure out"]
CALC_END_EN = ["", "?", ", please.", " quickly.", " for my homework.", " -- what is it?"]
# training only: openings and endings around any question (tool or document question alike)
LEAD_ZH = ["你好，", "请问，", "麻烦问一下：", "有个问题：", "嗨！", "劳驾，", "考考你：", "我想问问，"]  # fmt: skip
TAIL_ZH = ["谢谢。", "谢谢！", "麻烦了。", "请直接回答。", "急用。"]
LEAD_EN = ["Hi! ", "Hello, ", "Quick question: ", "Hey, ", "Excuse me, ", "OK, so ", "One more: "]
TAIL_EN = [" Thanks!", " Thank you.", " Please be brief.", " I need it now."]


def _dress(rng: random.Random, question: str, split: str, lang: str) -> str:
    """A training question, half the time with an opening and/or an ending around it."""
    if split != "train" or rng.random() < 0.5:
        return question
    lead, tail = (LEAD_ZH, TAIL_ZH) if lang == "zh" else (LEAD_EN, TAIL_EN)
    r = rng.random()
    if r < 0.4:
        return rng.choice(lead) + question
    if r < 0.8:
        return question + rng.choice(tail)
    return rng.choice(lead) + question + rng.choice(tail)


def _composed_calc(rng: random.Random, lang: str, a: int, b: int, op: str) -> str:
    """A training-only arithmetic question built from a verb, the expression and an ending."""
    word = OPS[op][0 if lang == "zh" else 1]
    if lang == "zh":
        expr = rng.choice([f"{a}{word}{b}", f"{a} {op} {b}", f"{a}{op}{b}"])
        return rng.choice(CALC_VERB_ZH) + expr + rng.choice(CALC_END_ZH)
    expr = rng.choice([f"{a} {word} {b}", f"{a} {op} {b}", f"{a}{op}{b}"])
    verb = rng.choice(CALC_VERB_EN)
    return (f"{verb} {expr}" if verb else expr) + rng.choice(CALC_END_EN)


# clock questions by what they ask for: 0 time, 1 date, 2 weekday (last of each list held out)
CLOCK_ZH = [["现在几点了？", "请告诉我现在的时间。", "现在是几点几分？", "现在什么时间了？"],
            ["今天是几号？", "今天的日期是什么？", "今天是几月几号？", "今天几号了？"],
            ["今天星期几？", "今天是星期几呀？", "今天是周几？", "今天星期几了？"]]  # fmt: skip
CLOCK_EN = [["What time is it now?", "Tell me the current time.", "What is the time right now?",
             "Do you have the time?"],
            ["What is today's date?", "What date is it today?", "Tell me today's date.",
             "Which date is it today?"],
            ["What day of the week is it today?", "Which weekday is it today?",
             "What day is it today?", "Which day of the week is it?"]]  # fmt: skip
CLOCK_CITY_ZH = [["{city}现在几点？", "请查一下{city}的当前时间。", "{city}那边现在几点了？"],
                 ["{city}今天是几号？", "{city}今天的日期是什么？", "{city}那边今天几号？"],
                 ["{city}现在是星期几？", "{city}今天是周几？", "{city}那边今天星期几？"]]  # fmt: skip
CLOCK_CITY_EN = [["What time is it in {city}?", "Look up the current time in {city}.",
                  "What's the time in {city} right now?"],
                 ["What is the date in {city} today?", "Which date is it in {city}?",
                  "Tell me today's date in {city}."],
                 ["What weekday is it in {city}?", "Which day of the week is it in {city}?",
                  "What day is it in {city} today?"]]  # fmt: skip
# (zh name, en name, IANA zone). Held out (test entities): the last three of the first fifteen and
# about one in five of the rest (by a hash of the name, ``_is_test_name``). Many zones are named after
# a city, many are not (北京 -> Asia/Shanghai): the zone is world knowledge, learned in pretraining
# from ``copy_documents``'s table, which lists every city, held-out ones too.
CITIES = [("上海", "Shanghai", "Asia/Shanghai"), ("东京", "Tokyo", "Asia/Tokyo"),
          ("伦敦", "London", "Europe/London"), ("纽约", "New York", "America/New_York"),
          ("柏林", "Berlin", "Europe/Berlin"), ("莫斯科", "Moscow", "Europe/Moscow"),
          ("迪拜", "Dubai", "Asia/Dubai"), ("新加坡", "Singapore", "Asia/Singapore"),
          ("首尔", "Seoul", "Asia/Seoul"), ("巴黎", "Paris", "Europe/Paris"),
          ("悉尼", "Sydney", "Australia/Sydney"), ("芝加哥", "Chicago", "America/Chicago"),
          ("曼谷", "Bangkok", "Asia/Bangkok"), ("开罗", "Cairo", "Africa/Cairo"),
          ("罗马", "Rome", "Europe/Rome"),
          ("北京", "Beijing", "Asia/Shanghai"), ("香港", "Hong Kong", "Asia/Hong_Kong"),
          ("台北", "Taipei", "Asia/Taipei"), ("大阪", "Osaka", "Asia/Tokyo"),
          ("雅加达", "Jakarta", "Asia/Jakarta"), ("马尼拉", "Manila", "Asia/Manila"),
          ("吉隆坡", "Kuala Lumpur", "Asia/Kuala_Lumpur"), ("孟买", "Mumbai", "Asia/Kolkata"),
          ("卡拉奇", "Karachi", "Asia/Karachi"), ("德黑兰", "Tehran", "Asia/Tehran"),
          ("伊斯坦布尔", "Istanbul", "Europe/Istanbul"), ("内罗毕", "Nairobi", "Africa/Nairobi"),
          ("拉各斯", "Lagos", "Africa/Lagos"), ("约翰内斯堡", "Johannesburg", "Africa/Johannesburg"),
          ("马德里", "Madrid", "Europe/Madrid"), ("阿姆斯特丹", "Amsterdam", "Europe/Amsterdam"),
          ("维也纳", "Vienna", "Europe/Vienna"), ("斯德哥尔摩", "Stockholm", "Europe/Stockholm"),
          ("雅典", "Athens", "Europe/Athens"), ("里斯本", "Lisbon", "Europe/Lisbon"),
          ("都柏林", "Dublin", "Europe/Dublin"), ("华沙", "Warsaw", "Europe/Warsaw"),
          ("洛杉矶", "Los Angeles", "America/Los_Angeles"), ("丹佛", "Denver", "America/Denver"),
          ("多伦多", "Toronto", "America/Toronto"), ("温哥华", "Vancouver", "America/Vancouver"),
          ("墨西哥城", "Mexico City", "America/Mexico_City"), ("圣保罗", "Sao Paulo", "America/Sao_Paulo"),
          ("利马", "Lima", "America/Lima"), ("墨尔本", "Melbourne", "Australia/Melbourne"),
          ("珀斯", "Perth", "Australia/Perth"), ("奥克兰", "Auckland", "Pacific/Auckland"),
          ("檀香山", "Honolulu", "Pacific/Honolulu")]  # fmt: skip
# the first list (earlier rounds) and how many at its end are held out
N_LEGACY_CITIES, N_LEGACY_TEST_CITIES = 15, 3


def _is_test_name(name: str) -> bool:
    """About one in five generated names belongs to the test split (a hash, so stable)."""
    return hashlib.sha256(name.encode()).digest()[0] % 5 == 0


TEST_CITIES = [c for i, c in enumerate(CITIES)
               if (N_LEGACY_CITIES - N_LEGACY_TEST_CITIES <= i < N_LEGACY_CITIES)
               or (i >= N_LEGACY_CITIES and _is_test_name(c[1]))]  # fmt: skip

# The first sixteen towns per language (earlier rounds; the last four are held out -- tinyrag's
# examples/towns use them) and then every name the two-part generator makes: hundreds of towns, so
# the model must *copy* a name from the sources instead of picking one of a dozen it knows. English
# names are two words ("Maple Ridge") and Chinese is cut one character per token (see
# ``universe.token_pattern``): a held-out name is then made of the very tokens training names are
# made of. (One-word names were not: byte-level BPE merges across the parts -- "Maple"+"ridge" ->
# "M" "ap" "l" "er" ... -- so an unseen combination tokenized unlike any training name.)
LEGACY_TOWNS_ZH = ["青石镇", "白沙村", "云溪镇", "松林村", "明月镇", "落霞村", "金川镇", "碧水村", "石门镇",
                   "桃源村", "柳岸镇", "望山村", "红枫镇", "清泉村", "长河镇", "竹溪村"]  # fmt: skip
LEGACY_TOWNS_EN = ["Stone Brook", "White Sand", "Cloud Creek", "Pine Wood", "Moon Vale", "Red Hill",
                   "Gold River", "Blue Water", "Gate Stone", "Peach Field", "Willow Bank", "Hill View",
                   "Maple Town", "Clear Spring", "Long River", "Bamboo Dale"]  # fmt: skip
N_TEST_TOWNS = 4  # of each legacy list
# name parts: zh = first + second + 镇/村, en = first + " " + second
TOWN_PARTS_ZH = ("青白云松明落金碧石桃柳望红清长竹黄东西南北安平兴龙凤新丰福永",
                 "石沙溪林月霞川水门源岸山枫泉河湖坪塘桥岭田园港口坡湾谷", "镇村")  # fmt: skip
TOWN_PARTS_EN = (["Stone", "White", "Cloud", "Pine", "Moon", "Red", "Gold", "Blue", "Gate", "Peach",
                  "Willow", "Hill", "Maple", "Clear", "Long", "Bamboo", "Ash", "Oak", "Fox", "Iron",
                  "Silver", "Rose", "Elm", "Birch", "Deer", "Green", "North", "South", "East", "West",
                  "Frost", "Amber", "Cedar", "Raven", "Wolf", "Eagle"],
                 ["Brook", "Sand", "Creek", "Wood", "Vale", "Hill", "River", "Water", "Stone", "Field",
                  "Bank", "View", "Town", "Spring", "Dale", "Ford", "Port", "Bay", "Lake", "Ridge",
                  "Haven", "Gate", "Well", "Moor", "Cross", "Falls", "Grove"])  # fmt: skip


def _generated_towns(lang: str) -> list[str]:
    if lang == "zh":
        first, second, kinds = TOWN_PARTS_ZH
        names = [a + b + k for a in first for b in second for k in kinds if a != b]
    else:
        names = [f"{a} {b}" for a in TOWN_PARTS_EN[0] for b in TOWN_PARTS_EN[1] if a != b]
    legacy = LEGACY_TOWNS_ZH if lang == "zh" else LEGACY_TOWNS_EN
    return legacy + [n for n in names if n not in legacy]


TOWNS_ZH, TOWNS_EN = _generated_towns("zh"), _generated_towns("en")
TEST_TOWNS = frozenset(
    [t for ts in (TOWNS_ZH, TOWNS_EN) for t in ts[len(LEGACY_TOWNS_ZH) :] if _is_test_name(t)]
    + LEGACY_TOWNS_ZH[-N_TEST_TOWNS:]
    + LEGACY_TOWNS_EN[-N_TEST_TOWNS:]
)
# finds every town name in a text (tests use it to check the split)
TOWN_RE = re.compile(
    r"\b(?:"
    + "|".join(TOWN_PARTS_EN[0])
    + ") (?:"
    + "|".join(TOWN_PARTS_EN[1])
    + r")\b"
    + "|["
    + TOWN_PARTS_ZH[0]
    + "]["
    + TOWN_PARTS_ZH[1]
    + "]["
    + TOWN_PARTS_ZH[2]
    + "]"
)


def towns(lang: str, split: str) -> list[str]:
    """The towns of ``split`` in ``lang``."""
    names = TOWNS_ZH if lang == "zh" else TOWNS_EN
    return [t for t in names if (t in TEST_TOWNS) == (split == "test")]


def town_path(town: str, lang: str) -> str:
    """The file name a town's document has in the sources (``long-river.md``, ``town_14.md``)."""
    return (
        f"{town.lower().replace(' ', '-')}.md"
        if lang == "en"
        else f"town_{TOWNS_ZH.index(town)}.md"
    )


# documents about fictional places: (zh attribute, en attribute, zh question, en question, values)
ATTRS = [
    ("人口", "population", "{t}有多少人口？", "What is the population of {t}?",
     "{t}的人口是{v}。", "{t} has a population of {v}.", lambda r: str(r.randint(800, 98000))),
    ("建立年份", "founding year", "{t}是哪一年建立的？", "In which year was {t} founded?",
     "{t}建于{v}年。", "{t} was founded in {v}.", lambda r: str(r.randint(1200, 1990))),
    ("特产", "local product", "{t}的特产是什么？", "What is the local product of {t}?",
     "{t}的特产是{v}。", "The local product of {t} is {v}.", None),
    ("海拔", "altitude", "{t}的海拔是多少米？", "How high above sea level is {t}, in meters?",
     "{t}的海拔是{v}米。", "{t} lies {v} meters above sea level.", lambda r: str(r.randint(5, 4800))),
]  # fmt: skip
PRODUCTS = [("茶叶", "tea"), ("蜂蜜", "honey"), ("瓷器", "porcelain"), ("竹篮", "bamboo baskets"),
            ("葡萄", "grapes"), ("丝绸", "silk"), ("米酒", "rice wine"), ("木雕", "wood carvings")]  # fmt: skip
# more ways to ask for an attribute (train); the LAST form is the held-out (test) wording
RAG_Q_ZH = ["{t}的{attr}是多少？", "关于{t}，它的{attr}是什么？", "你知道{t}的{attr}吗？", "{t}的{attr}？",
            "请问{t}的{attr}是什么？"]  # fmt: skip
RAG_Q_EN = ["What is the {attr} of {t}?", "Do you know the {attr} of {t}?", "{t}: what is its {attr}?",
            "What's {t}'s {attr}?", "Tell me the {attr} of {t}."]  # fmt: skip
RAG_ANSWER = {"zh": "{t}的{attr}是{v} [{n}]。", "en": "The {attr} of {t} is {v} [{n}]."}
DIRS = ["notes", "wiki", "docs", "archive"]

CHAT = [
    ("你好", "你好！我可以帮你算数、查时间，或者根据资料回答问题。"),
    ("Hello!", "Hello! I can do arithmetic, tell the time, or answer questions from documents."),
    ("你是谁？", "我是 tiny-universe，一个在 CPU 上从零训练的小模型。"),
    ("Who are you?", "I am tiny-universe, a small model trained from scratch on a CPU."),
    ("谢谢你！", "不客气！"),
    ("Thank you!", "You're welcome!"),
    ("你能做什么？", "我会调用计算器和时钟工具，也会根据给定的资料回答问题并标注来源。"),
    ("What can you do?", "I can call a calculator and a clock, and answer from given sources with citations."),
    ("再见", "再见，祝你今天愉快！"),
    ("Goodbye", "Goodbye, have a nice day!"),
]  # fmt: skip
N_TEST_CHAT = 2  # the last two pairs


def _split_list(items: list, split: str, n_test: int = 1) -> list:
    return items[:-n_test] if split == "train" else items[-n_test:]


def _is_test_pair(a: int, b: int) -> bool:
    """Operand pairs are split by a hash: ~1 in 5 pairs belongs to the test split."""
    return hashlib.sha256(f"{a},{b}".encode()).digest()[0] % 5 == 0


def _operands(rng: random.Random, split: str, op: str) -> tuple[int, int]:
    while True:
        digits = rng.choice([1, 2, 2, 3, 3])
        a = rng.randint(2, 10**digits - 1)
        b = rng.randint(2, 99 if op == "*" else 10 ** rng.choice([1, 2, 3]) - 1)
        if op == "-" and b > a:
            a, b = b, a
        if _is_test_pair(a, b) == (split == "test"):
            return a, b


def _format_number(x: int | float) -> str:
    """tinyagent's calculator output: integers exactly, floats to 12 significant digits."""
    return str(x) if isinstance(x, int) else f"{x:.12g}"


def _calc_item(rng: random.Random, split: str, lang: str) -> dict:
    """question, expression, value, final answer for one arithmetic or unit question."""
    if rng.random() < 0.25:
        zf, zt, ef, et, factor = rng.choice(UNITS)
        a = rng.randint(2, 99)
        while _is_test_pair(a, factor) != (split == "test"):
            a = rng.randint(2, 99)
        u1, u2 = (zf, zt) if lang == "zh" else (ef, et)
        tpl = rng.choice(_split_list(UNIT_ZH if lang == "zh" else UNIT_EN, split))
        expr, value = f"{a} * {factor}", str(a * factor)
        question = _dress(rng, tpl.format(a=a, u1=u1, u2=u2), split, lang)
        return {"question": question, "expression": expr, "value": value,
                "answer": UNIT_ANSWER[lang].format(a=a, u1=u1, u2=u2, value=value)}  # fmt: skip
    op = rng.choice(list(OPS))
    a, b = _operands(rng, split, op)
    word = OPS[op][0 if lang == "zh" else 1]
    tpl = rng.choice(_split_list(CALC_ZH if lang == "zh" else CALC_EN, split))
    expr = f"{a} {op} {b}"
    value = _format_number(eval(expr))  # our own two-integer expression, never user text
    if split == "train" and rng.random() < 0.4:
        question = _composed_calc(rng, lang, a, b, op)
    else:
        question = tpl.format(a=a, b=b, op=word, sym=op)
    return {"question": _dress(rng, question, split, lang), "expression": expr, "value": value,
            "answer": CALC_ANSWER[lang].format(expr=expr, value=value)}  # fmt: skip


WEEKDAYS_ZH = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def _clock_reading(moment: datetime, zone: str) -> tuple[datetime, str]:
    """(local time, the clock tool's text) -- tinyagent.tools.clock.now_text's format."""
    local = moment.astimezone(timezone.utc if zone == "UTC" else ZoneInfo(zone))
    offset = local.strftime("%z")
    return (
        local,
        f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]}), {local:%A}",
    )


def _clock_item(rng: random.Random, split: str, lang: str) -> dict:
    """question, timezone argument, a fake clock reading (tinyagent's now_text format), answer."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    moment = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
    kind = rng.randrange(3)  # 0 time, 1 date, 2 weekday
    if rng.random() < 0.6:
        zh, en, zone = rng.choice([c for c in CITIES if (c in TEST_CITIES) == (split == "test")])
        tpls = (CLOCK_CITY_ZH if lang == "zh" else CLOCK_CITY_EN)[kind]
        question = rng.choice(_split_list(tpls, split)).format(city=zh if lang == "zh" else en)
        args = {"timezone_name": zone}
    else:
        zone, args = "UTC", {}
        question = rng.choice(_split_list((CLOCK_ZH if lang == "zh" else CLOCK_EN)[kind], split))
    question = _dress(rng, question, split, lang)
    local, observation = _clock_reading(moment, zone)
    if lang == "zh":
        answer = [f"现在是 {local:%H:%M}。", f"今天是 {local:%Y-%m-%d}。",
                  f"今天是{WEEKDAYS_ZH[local.weekday()]}（{local:%A}）。"][kind]  # fmt: skip
    else:
        answer = [f"It is {local:%H:%M} now.", f"Today is {local:%Y-%m-%d}.",
                  f"Today is {local:%A}."][kind]  # fmt: skip
    key = [f"{local:%H:%M}", f"{local:%Y-%m-%d}", f"{local:%A}"][kind]
    return {"question": question, "arguments": args, "observation": observation, "answer": answer,
            "value": key}  # fmt: skip


def _tool_conversation(item: dict, name: str, schemas: list[dict], protocol: str) -> dict:
    """One tool round trip in the ``qwen`` or ``react`` protocol of tinyagent."""
    args = item["arguments"]
    if protocol == "qwen":
        call = {"id": "call_0", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}  # fmt: skip
        messages = [
            {"role": "user", "content": item["question"]},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {
                "role": "tool",
                "name": name,
                "tool_call_id": "call_0",
                "content": item["observation"],
            },
            {"role": "assistant", "content": item["answer"]},
        ]
        return {"messages": messages, "tools": schemas}
    thought = f"I should use the {name} tool."
    step = f" {thought}\nAction: {name}\nAction Input: {json.dumps(args, ensure_ascii=False)}\nObservation:"
    untrained = f" {item['observation']}\nThought:"
    final = f" I now know the final answer\nFinal Answer: {item['answer']}"
    content = "Thought:" + step + untrained + final
    start = len("Thought:" + step)
    messages = [
        {"role": "system", "content": react_system(schemas)},
        {"role": "user", "content": f"Question: {item['question']}"},
        {"role": "assistant", "content": content},
    ]
    # "Thought:" is the prompt's own scratchpad start; the observation is written by the tool
    return {
        "messages": messages,
        "untrained": {"2": [[0, len("Thought:")], [start, start + len(untrained)]]},
    }


def _town_facts(rng: random.Random, town: str, lang: str) -> dict[int, str]:
    """attribute index -> value for ``town`` (a fixed random subset of the four attributes)."""
    frng = random.Random(f"{town}:{rng.random()}")
    facts = {}
    for i in range(len(ATTRS)):
        if frng.random() < 0.75:
            facts[i] = _attr_value(frng, i, lang)
    if not facts:
        facts[0] = _attr_value(frng, 0, lang)
    return facts


def _attr_value(rng: random.Random, i: int, lang: str) -> str:
    gen = ATTRS[i][6]
    return gen(rng) if gen else rng.choice(PRODUCTS)[0 if lang == "zh" else 1]


def _document(town: str, facts: dict[int, str], lang: str) -> str:
    sep = "" if lang == "zh" else " "
    return sep.join(
        ATTRS[i][4 if lang == "zh" else 5].format(t=town, v=v) for i, v in sorted(facts.items())
    )


def _sources(
    rng: random.Random, picked: list[str], facts: list[dict[int, str]], lang: str
) -> list[tuple[str, str]]:
    """Each town's document with a location as tinyrag gives it: ``folder/town-file.md, chars 0-N``."""
    out = []
    for town, f in zip(picked, facts):
        text = _document(town, f, lang)
        out.append((f"{rng.choice(DIRS)}/{town_path(town, lang)}, chars 0-{len(text)}", text))
    return out


def _rag_question(
    rng: random.Random, town: str, attr_i: int, split: str, lang: str, dress: bool = True
) -> str:
    """A question for attribute ``attr_i`` of ``town``. Train: the attribute's own question (ATTRS)
    40 % of the time, else a generic form, with lead-ins / tails (``dress``, :func:`_dress`); test:
    only the held-out form."""
    zh = lang == "zh"
    attr = ATTRS[attr_i]
    if split == "train" and rng.random() < 0.4:
        q = attr[2 if zh else 3].format(t=town)
    else:
        forms = _split_list(RAG_Q_ZH if zh else RAG_Q_EN, split)
        q = rng.choice(forms).format(t=town, attr=attr[0 if zh else 1])
    return _dress(rng, q, split, lang) if dress else q


def _rag_answer(town: str, attr_i: int, value: str | None, n: int, lang: str) -> str:
    """The cited answer, or tinyrag's refusal sentence when ``value`` is None."""
    if value is None:
        return REFUSAL[lang]
    name = ATTRS[attr_i][0 if lang == "zh" else 1]
    return RAG_ANSWER[lang].format(t=town, attr=name, v=value, n=n)


def _rag_item(rng: random.Random, split: str, lang: str, refuse: bool) -> dict:
    picked = rng.sample(towns(lang, split), rng.choice([2, 3]))
    facts = [_town_facts(rng, t, lang) for t in picked]
    target = rng.randrange(len(picked))
    town = picked[target]
    others = [f for i, f in enumerate(facts) if i != target]
    if rng.random() < 0.7:
        # the hard case, most of the time: another source states the asked attribute for ANOTHER
        # town, so the answer (or the refusal) depends on matching the town, not the attribute
        attr_i = rng.randrange(len(ATTRS))
        rng.choice(others).setdefault(attr_i, _attr_value(rng, attr_i, lang))
        if refuse:
            facts[target].pop(attr_i, None)
        else:
            facts[target].setdefault(attr_i, _attr_value(rng, attr_i, lang))
    elif refuse:
        missing = [i for i in range(len(ATTRS)) if i not in facts[target]]
        if not missing:  # drop one attribute so the question has no answer
            drop = rng.choice(sorted(facts[target]))
            del facts[target][drop]
            missing = [drop]
        attr_i = rng.choice(missing)
    else:
        attr_i = rng.choice(sorted(facts[target]))
    if not facts[target]:  # a document says something about its town
        facts[target][(attr_i + 1) % len(ATTRS)] = _attr_value(rng, (attr_i + 1) % len(ATTRS), lang)
    q = _rag_question(rng, town, attr_i, split, lang)
    sources = _sources(rng, picked, facts, lang)
    n = target + 1
    value = None if refuse else facts[target][attr_i]
    answer = _rag_answer(town, attr_i, value, n, lang)
    messages = rag_messages(q, sources, lang) + [{"role": "assistant", "content": answer}]
    return {
        "messages": messages,
        "answer": answer,
        "value": value,
        "citation": None if refuse else n,
    }


def _one(task: str, rng: random.Random, split: str) -> dict:
    lang = rng.choice(["zh", "en"])
    if task in ("calc_qwen", "calc_react"):
        item = _calc_item(rng, split, lang)
        item["arguments"] = {"expression": item["expression"]}
        item["observation"] = item["value"]
        schemas = rng.choice([s for s in TOOL_SETS if CALCULATOR_SCHEMA in s])
        conv = _tool_conversation(item, "calculator", schemas, task.split("_")[1])
        conv.update(
            expression=item["expression"],
            value=item["value"],
            question=item["question"],
            observation=item["observation"],
            answer=item["answer"],
        )
    elif task in ("clock_qwen", "clock_react"):
        item = _clock_item(rng, split, lang)
        schemas = rng.choice([s for s in TOOL_SETS if CLOCK_SCHEMA in s])
        conv = _tool_conversation(item, "current_time", schemas, task.split("_")[1])
        conv.update(
            arguments=item["arguments"],
            value=item["value"],
            question=item["question"],
            observation=item["observation"],
            answer=item["answer"],
        )
    elif task in ("rag", "refuse"):
        conv = _rag_item(rng, split, lang, refuse=task == "refuse")
    else:
        pairs = _split_list(CHAT, split, N_TEST_CHAT)
        q, a = rng.choice(pairs)
        conv = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        lang = "en" if q.isascii() else "zh"
    conv["messages"][-1].setdefault("content", "")
    conv.update(task=task, lang=lang, split=split)
    conv.setdefault("answer", conv["messages"][-1]["content"])
    return conv


def universe_conversations(
    split: str = "train", n: int = 6000, seed: int = 0, tasks: list[str] | None = None
) -> list[dict]:
    """``n`` conversations of ``split`` ("train" or "test"), tasks mixed by ``WEIGHTS``.

    Each is ``{"messages", "tools"?, "untrained"?, "task", "lang", "split", "answer", ...}``; the extra
    keys (``expression``, ``value``, ``citation``) are what the evaluation checks.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    tasks = list(tasks or TASKS)
    bad = set(tasks) - set(TASKS)
    if bad:
        raise ValueError(f"unknown task(s) {sorted(bad)}; known: {', '.join(TASKS)}")
    rng = random.Random(f"{seed}:{split}")
    # every task at least once, then by weight
    order = tasks + rng.choices(
        tasks, weights=[WEIGHTS[t] for t in tasks], k=max(0, n - len(tasks))
    )
    return [_one(t, rng, split) for t in order[:n]]


def copy_documents(n_docs: int, seed: int = 0) -> list[str]:
    """Pretraining documents that make the model *copy* numbers and names from earlier text: the
    skill tool calls and grounded answers need (``小明有 347 个 -> 347``, ``Stonebrook ... Stonebrook``),
    plus the one piece of world knowledge the clock needs: which IANA zone each city is in (``悉尼的时区是
    Australia/Sydney``), for held-out cities too -- knowledge comes from pretraining, the skill from SFT."""
    rng = random.Random(f"copy:{seed}")
    names = towns("zh", "train") + towns("en", "train")
    docs = []
    for _ in range(n_docs):
        # kinds 5-6 (two shares each): look a value up by its key, read a clock (see _recall_drill)
        kind = rng.choice([0, 1, 2, 3, 4, 5, 5, 6, 6])
        if kind >= 5:
            docs.append(_recall_drill(rng, names) if kind == 5 else _clock_drill(rng))
            continue
        nums = [str(rng.randint(2, 999)) for _ in range(rng.randint(2, 4))]
        if kind == 0:
            docs.append(f"数字：{' '.join(nums)}。再写一遍：{' '.join(nums)}。")
        elif kind == 1:
            a, b = nums[0], nums[1]
            docs.append(
                f"Question: what is {a} plus {b}?\nexpression: {a} + {b}\nanswer: {int(a) + int(b)}"
            )
        elif kind == 2:
            t = rng.choice(names)
            docs.append(f"{t} {nums[0]}; {t} {nums[0]}; {t} {nums[0]}.")
        elif kind == 3:
            a, b = nums[0], nums[1]
            docs.append(f"{a}乘以{b}写成算式是 {a} * {b}，结果是 {int(a) * int(b)}。")
        else:  # world knowledge the clock tool needs: every city's IANA zone (test cities too)
            zh, en, zone = rng.choice(CITIES)
            docs.append(
                f"{zh}的时区是 {zone}。"
                if rng.random() < 0.5
                else f"{en} is in the time zone {zone}."
            )
    return docs


def lookup_documents(n_docs: int, seed: int = 0) -> list[str]:
    """``n_docs`` grounded-QA drills (:func:`_lookup_drill`), half Chinese, half English."""
    rng = random.Random(f"lookup:{seed}")
    return [_lookup_drill(rng, "zh" if i % 2 == 0 else "en") for i in range(n_docs)]


def _recall_drill(rng: random.Random, names: list[str]) -> str:
    """``Oakview 2353. Redmoor 13126. Ashford 1802.\nRedmoor: 13126\nOakview: 2353``: find keys, copy values.

    Grounded answers are this lookup (town -> its document -> the value), and values of 4-5 digits
    are two number tokens (``131`` ``26``): the second token must come from the same place as the
    first, which the model gets wrong without practice (``13126`` -> ``13151``). Several queries
    per list (2-6): one query a drill left the lookup unlearnt after 2,200 steps (10 % right, chance
    level), while dense drills teach it in a few hundred (E8 in docs/14-universe.md)."""
    keys = rng.sample(names, rng.randint(2, 8))
    vals = [str(rng.randint(2, 10 ** rng.randint(2, 5) - 1)) for _ in keys]
    # distinct keys: a repeated query could be answered by copying the earlier answer line
    asked = rng.sample(range(len(keys)), rng.randint(2, min(6, len(keys))))
    if rng.random() < 0.5:
        listing = "，".join(f"{k} {v}" for k, v in zip(keys, vals)) + "。"
        return listing + "".join(f"\n{keys[i]}：{vals[i]}" for i in asked)
    listing = ". ".join(f"{k} {v}" for k, v in zip(keys, vals)) + "."
    return listing + "".join(f"\n{keys[i]}: {vals[i]}" for i in asked)


def _drill_towns(rng: random.Random, lang: str) -> tuple[list[str], list[dict[int, str]], int]:
    """2-4 training towns, their facts, and one attribute that 70 % of them state (a distractor)."""
    picked = rng.sample(towns(lang, "train"), rng.randint(2, 4))
    facts = [_town_facts(rng, t, lang) for t in picked]
    common = rng.randrange(len(ATTRS))
    for f in facts:
        if rng.random() < 0.7:
            f.setdefault(common, _attr_value(rng, common, lang))
    return picked, facts, common


def lookup_qa(
    rng: random.Random, lang: str, dress: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """2-4 sources as tinyrag numbers them and 1-6 distinct questions on them, each with its answer
    (value and citation) or the refusal: ``(sources [(location, text)], [(question, answer)])``.

    Most of the time (70 %) several sources state the same attribute, so the town decides; about a
    quarter of the questions ask for what the town's source does not say. Training towns and
    wordings only (``dress``: add training lead-ins and tails, see :func:`_dress`)."""
    picked, facts, common = _drill_towns(rng, lang)
    sources = _sources(rng, picked, facts, lang)
    asked: dict[tuple[int, int], tuple[str, str]] = {}
    for _ in range(rng.randint(3, 6)):
        k = rng.randrange(len(picked))
        missing = [i for i in range(len(ATTRS)) if i not in facts[k]]
        if missing and rng.random() < 0.35:  # a question its town's source cannot answer
            a = rng.choice(missing)
        else:
            a = common if rng.random() < 0.5 else rng.randrange(len(ATTRS))
        if (k, a) in asked:  # never the same question twice: the second could copy the first
            continue
        q = _rag_question(rng, picked[k], a, "train", lang, dress)
        asked[(k, a)] = (q, _rag_answer(picked[k], a, facts[k].get(a), k + 1, lang))
    return sources, list(asked.values())


def _lookup_drill(rng: random.Random, lang: str) -> str:
    """:func:`lookup_qa` as plain text: the sources, then every question and its answer -- the
    grounded-QA lookup, dense (one prompt, many answers), without the system prompt."""
    sources, qas = lookup_qa(rng, lang)
    parts = [sources_text(sources, lang)]
    parts += [question_line(q, lang) + "\n" + answer for q, answer in qas]
    return "\n\n".join(parts)


def lookup_conversations(n: int, seed: int = 0) -> list[dict]:
    """``n`` multi-turn grounded-QA conversations for SFT: tinyrag's prompt with the first question,
    then each further question on the same sources as a follow-up user turn (``问题：...`` /
    ``Question: ...``). Every answer is trained, so one prompt gives 1-6 lookups' worth of signal."""
    rng = random.Random(f"lookup-sft:{seed}")
    convs = []
    for i in range(n):
        lang = "zh" if i % 2 == 0 else "en"
        sources, qas = lookup_qa(rng, lang, dress=True)
        messages = rag_messages(qas[0][0], sources, lang)
        for j, (q, answer) in enumerate(qas):
            if j:
                messages.append({"role": "user", "content": question_line(q, lang)})
            messages.append({"role": "assistant", "content": answer})
        convs.append({"messages": messages, "task": "rag_multi", "lang": lang, "split": "train"})
    return convs


def _fact_sentence(town: str, attr_i: int, value: str, lang: str, form: int) -> str:
    """One fact written one of four ways, from the value right after the town to the sources' own
    prose: 0 ``population Gold Bay 63899``, 1 ``Gold Bay population 63899``, 2 ``Gold Bay's population
    is 63899`` (``丰源镇的人口是92279``), 3 the document sentence (``Gold Bay has a population of 63899``)."""
    zh = lang == "zh"
    if form == 3:
        return ATTRS[attr_i][4 if zh else 5].format(t=town, v=value)
    name = ATTRS[attr_i][0 if zh else 1]
    if form == 2:
        return f"{town}的{name}是{value}" if zh else f"{town}'s {name} is {value}"
    return f"{name} {town} {value}" if form == 0 else f"{town} {name} {value}"


def value_drill(rng: random.Random, lang: str) -> tuple[str, list[tuple[str, str]]]:
    """A lookup drill for :mod:`qwen_blog.lookup`: 2-4 numbered sources and up to six answer openings,
    each with the value that completes it -- ``(sources, [(opening, value)])``::

        [1] Gold Bay has a population of 63899. Gold Bay was founded in 1634.
        [2] White Wood has a population of 66925.
        The population of White Wood is | 66925

    Only the value is trained, so every gradient goes to the one skill grounded QA lacks: finding the
    value of *this* town's attribute when several sources state the same attribute (70 % of drills).
    All facts of a drill are written in one of four forms (:func:`_fact_sentence`). Training towns only."""
    picked, facts, _ = _drill_towns(rng, lang)
    form = rng.randrange(4)
    end = "" if form == 3 else "。" if lang == "zh" else "."  # the prose sentences end themselves
    sep = "" if lang == "zh" else " "
    lines = [
        f"[{n}] "
        + sep.join(_fact_sentence(t, a, v, lang, form) + end for a, v in sorted(f.items()))
        for n, (t, f) in enumerate(zip(picked, facts), 1)
    ]
    asked = [(k, a) for k, f in enumerate(facts) for a in f]
    rng.shuffle(asked)
    pairs = []
    for k, a in asked[:6]:
        answer = _rag_answer(picked[k], a, facts[k][a], k + 1, lang)  # "... is 63899 [2]."
        cut = answer.rindex(facts[k][a], 0, answer.rindex("["))
        pairs.append((answer[:cut].rstrip(" "), facts[k][a]))
    return "\n".join(lines), pairs


def _clock_drill(rng: random.Random) -> str:
    """A clock reading and what it says: time, date, weekday (in Chinese too), in a random order."""
    moment = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(3 * 365 * 86400)
    )
    zone = rng.choice(["UTC"] + [c[2] for c in CITIES])
    local, reading = _clock_reading(moment, zone)
    fields = [f"{local:%H:%M}", f"{local:%Y-%m-%d}", f"{local:%A}"]
    if rng.random() < 0.5:
        labels = ["时间", "日期", "星期"]
        fields[2] = f"{WEEKDAYS_ZH[local.weekday()]}（{local:%A}）"
    else:
        labels = ["time", "date", "weekday"]
    order = rng.sample(range(3), rng.randint(1, 3))
    return reading + "\n" + "; ".join(f"{labels[j]}: {fields[j]}" for j in order)


def drill_documents(convs: list[dict]) -> list[str]:
    """Each training conversation again as a short plain-text drill, without the long system prompt:
    ``question -> expression -> value``, ``question -> time zone``, ``sources -> question -> answer``.

    Why: copying a number or a name from the question into the call is learned in a few hundred
    steps when the two are close and little else is in view, but far more slowly behind the ~300
    tokens of tool schemas (docs/14-universe.md, E2/E3); the skill learned here transfers to the full
    prompts the conversations themselves use. Built from the training split only.
    """
    docs = []
    for c in convs:
        task = c["task"]
        if task.startswith("calc"):
            docs.append(f"{c['question']}\n{c['expression']}\n{c['value']}\n{c['answer']}")
        elif task.startswith("clock"):
            zone = c["arguments"].get("timezone_name", "UTC")
            docs.append(f"{c['question']}\n{zone}\n{c['observation']}\n{c['answer']}")
        elif task in ("rag", "refuse"):
            user = c["messages"][1]["content"]
            docs.append(f"{user}\n{c['answer']}")
    return docs


def write_universe_corpus(out_dir: str | Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    """Write ``train.jsonl`` and ``test.jsonl`` (atomically) into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {}
    for split, n in (("train", n_train), ("test", n_test)):
        convs = universe_conversations(split, n, seed)
        p = out / f"{split}.jsonl"
        atomic_write_text(p, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in convs))
        paths[split] = p
    return paths
