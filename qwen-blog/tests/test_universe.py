"""tiny-universe: the generated corpus (formats = what tinyagent/tinyrag send, split by template AND
entity), the ReAct loss mask, and a smoke ``universe`` run whose checkpoint loads and is evaluated."""

import importlib.util
import json
import random
import re
from pathlib import Path

import pytest
import torch

from qwen_blog import universe_corpus as uc
from qwen_blog.sft import IGNORE, build_example

TOOL_TASKS = ("calc_qwen", "calc_react", "clock_qwen", "clock_react")


def _convs(split, n=400):
    return uc.universe_conversations(split, n, seed=0)


def _question(c):
    if c.get("question"):
        return c["question"]
    return re.split(r"\n\n(?:问题：|Question: )", c["messages"][-2]["content"])[-1]


def _skeleton(q: str) -> str:
    """The question with its entities blanked: what is left is the template."""
    q = uc.TOWN_RE.sub("@", q)
    names = [n for c in uc.CITIES for n in c[:2]]
    names += [w for u in uc.UNITS for w in u[:4]] + [w for ws in uc.OPS.values() for w in ws]
    for name in sorted(names, key=len, reverse=True):
        q = q.replace(name, "@")
    return re.sub(r"\d+", "#", re.sub(r" [-+*] ", " ~ ", q))


def test_corpus_is_seeded_and_covers_every_task_in_both_languages():
    a, b = _convs("train", 60), _convs("train", 60)
    assert a == b
    assert uc.universe_conversations("train", 60, seed=1) != a
    tasks = {(c["task"], c["lang"]) for c in _convs("train")}
    assert {t for t, _ in tasks} == set(uc.TASKS)
    assert {lang for _, lang in tasks} == {"zh", "en"}
    with pytest.raises(ValueError, match="split"):
        uc.universe_conversations("dev", 3)


@pytest.mark.parametrize("family", [("calc_qwen", "calc_react"), ("clock_qwen", "clock_react"),
                                    ("rag", "refuse")])  # fmt: skip
def test_test_split_shares_no_template_with_train(family):
    train = {_skeleton(_question(c)) for c in _convs("train", 1500) if c["task"] in family}
    test = {_skeleton(_question(c)) for c in _convs("test", 400) if c["task"] in family}
    assert train and test
    assert not train & test, train & test


def test_test_split_shares_no_entity_with_train():
    train, test = _convs("train", 1500), _convs("test", 400)

    def operands(convs):
        return {tuple(map(int, re.findall(r"\d+", c["expression"]))) for c in convs
                if c["task"].startswith("calc")}  # fmt: skip

    names = sorted((n for c in uc.CITIES for n in c[:2]), key=len, reverse=True)
    city_re = re.compile("|".join(map(re.escape, names)))  # longest first: 都柏林 is not 柏林

    def cities(convs):
        return {m.group(0) for c in convs if c["task"].startswith("clock") and c["arguments"]
                for m in city_re.finditer(c["question"])}  # fmt: skip

    def towns(convs):
        return {m.group(0) for c in convs if c["task"] in ("rag", "refuse")
                for m in uc.TOWN_RE.finditer(c["messages"][1]["content"])}  # fmt: skip

    for fn in (operands, cities, towns):
        a, b = fn(train), fn(test)
        assert a and b and not a & b, fn.__name__


def test_answers_are_consistent_with_the_tool_results_and_sources():
    for c in _convs("test"):
        if c["task"].startswith("calc"):
            assert str(eval(c["expression"])) == c["value"]  # noqa: S307 -- our own expressions
            assert c["value"] in c["answer"]
        elif c["task"] == "rag":
            n = c["citation"]
            src = c["messages"][1]["content"].split(f"[{n}] (")[1].split("\n\n")[0]
            assert c["value"] in src and f"[{n}]" in c["answer"]
        elif c["task"] == "refuse":
            assert c["answer"] == uc.REFUSAL[c["lang"]]


def test_prompts_equal_what_tinyagent_sends():
    pytest.importorskip("tinyagent")
    from tinyagent.qwen_tools import QwenProtocol
    from tinyagent.react import ReActProtocol, parse_react
    from tinyagent.tools.calculator import calculator
    from tinyagent.tools.clock import current_time

    assert uc.CALCULATOR_SCHEMA == calculator.schema
    assert uc.CLOCK_SCHEMA == current_time.schema
    by_name = {"calculator": calculator, "current_time": current_time}
    seen = set()
    for c in _convs("train", 200):
        if c["task"].endswith("_qwen"):
            tools = [by_name[s["function"]["name"]] for s in c["tools"]]
            proto = QwenProtocol(tools)
            proto.start(c["question"])
            assert proto.messages == c["messages"][:1] and proto.schemas == c["tools"]
        elif c["task"].endswith("_react"):
            system = c["messages"][0]["content"]
            tools = [t for n, t in by_name.items() if f"\n{n}: " in system]
            proto = ReActProtocol(tools)
            proto.start(c["question"])
            content = c["messages"][2]["content"]
            # replay the model's first turn through the real parser and record the observation
            step = content[len("Thought:") : content.index("\nObservation:")]
            turn = parse_react(step, proto.tools)
            proto.record(turn, [c["observation"]])
            assert proto.messages == c["messages"][:2]
            assert content.startswith(proto.scratchpad)
            assert parse_react(content[len(proto.scratchpad) :]).final_answer == c["answer"]
        seen.add(c["task"])
    assert {"calc_qwen", "calc_react", "clock_qwen", "clock_react"} <= seen


def test_react_scratchpad_replays_exactly():
    pytest.importorskip("tinyagent")
    from tinyagent.react import ReActProtocol, parse_react
    from tinyagent.tools.calculator import calculator
    from tinyagent.tools.clock import current_time

    c = next(c for c in _convs("test") if c["task"] == "calc_react")
    system = c["messages"][0]["content"]
    tools = [t for t in (calculator, current_time) if f"\n{t.name}: " in system]
    proto = ReActProtocol(tools)
    proto.start(c["question"])
    content = c["messages"][2]["content"]
    turn = parse_react(content[len("Thought:") : content.index("\nObservation:")], proto.tools)
    assert turn.calls[0].arguments == {"expression": c["expression"]}
    proto.record(turn, [calculator(c["expression"])])
    assert content.startswith(
        proto.scratchpad
    )  # the prompt at step 2 is a prefix of the training text
    final = parse_react(content[len(proto.scratchpad) :], proto.tools)
    assert final.final_answer == c["answer"]


def test_prompt_equals_what_tinyrag_sends():
    pytest.importorskip("tinyrag")
    from tinyrag.answer import build_messages
    from tinyrag.retriever import Hit

    for c in _convs("test", 100):
        if c["task"] not in ("rag", "refuse"):
            continue
        user = c["messages"][1]["content"]
        blocks = re.findall(r"\[\d+\] \((\S+), chars (\d+)-(\d+)\)\n([^\n]+)", user)
        hits = [Hit(i, 1.0, {"text": t, "source": s, "start": int(a), "end": int(b)})
                for i, (s, a, b, t) in enumerate(blocks)]  # fmt: skip
        assert build_messages(_question(c), hits) == c["messages"][:2]


def test_react_observation_is_not_trained():
    from qwen_blog.pretrain import load_tokenizer

    tok = load_tokenizer("tiny-random")
    c = next(c for c in _convs("train") if c["task"] == "calc_react")
    ids, labels = build_example(tok, c["messages"], None, None, c["untrained"])
    trained = tok.decode([t for t, y in zip(ids, labels) if y != IGNORE])
    assert '"expression": ' in trained and "Final Answer: " in trained
    # the scratchpad's "Thought:" openers and the observation are written by the agent loop
    assert c["value"] + "\n" not in trained and "Thought:" not in trained
    assert trained.endswith("<|im_end|>")
    # without the mask the observation would be a target
    ids2, labels2 = build_example(tok, c["messages"])
    assert f"Observation: {c['value']}" in tok.decode(
        [t for t, y in zip(ids2, labels2) if y != IGNORE]
    )


def test_smoke_universe_run_loads_and_is_evaluated(tmp_path):
    pytest.importorskip("tinyagent")
    import torch

    from qwen_blog.cli import main
    from tinyqwen import LLM, render_chat

    out = tmp_path / "u"
    argv = ["universe", "--out", str(out), "--preset", "smoke", "--no-progress", "--precision", "auto"]  # fmt: skip
    assert main(argv) == 0
    model_dir = out / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json"} <= names  # fmt: skip
    assert "chat_template" in json.loads((model_dir / "tokenizer_config.json").read_text())
    llm = LLM.from_pretrained(model_dir, dtype=torch.float32, device="cpu")
    assert llm.context_length >= 1024  # the ReAct prompts are ~750 tokens
    recipe = json.loads((model_dir / "recipe.json").read_text())
    assert recipe["preset"]["model"]["hidden_size"] == 32 and set(recipe["stage_seconds"]) == {
        "data", "precision", "pretrain", "lookup", "sft", "eval"}  # fmt: skip
    # --precision auto on a CPU is measured, kept for --resume, recorded, and what the stages ran
    chosen = recipe["precision"]
    assert chosen["requested"] == "auto" and chosen["precision"] in ("fp32", "bf16")
    assert chosen["fp32_s"] > 0 and chosen["bf16_s"] > 0
    assert chosen == json.loads((out / "precision.json").read_text())
    pre_run = json.loads((out / "pretrain" / "run.json").read_text())
    assert pre_run["precision"] == chosen["precision"]
    assert pre_run["extra"]["lookup_drills"] == 1 and pre_run["extra"]["drill_weight"] == 5.0
    sft_run = json.loads((out / "sft" / "run.json").read_text())
    assert sft_run["extra"]["base"].startswith(str(out / "lookup"))  # SFT starts from the drills
    assert sft_run["extra"]["lookup_drills"] == 1  # and mixes value drills into its steps (E14)
    assert sft_run["extra"]["answer_drills"] == 1  # and answer drills (E15)
    assert sft_run["extra"]["micro_batch_tokens"] == 1024  # steps split by length (less padding)
    assert sft_run["precision"] == chosen["precision"]
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert sum(metrics["counts"].values()) == 14  # the whole held-out split, written beside it
    assert (model_dir / "heldout.jsonl").read_text() == (out / "data" / "test.jsonl").read_text()
    # a second run finds every stage finished and leaves the model alone
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert main(argv) == 0
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before

    report = tmp_path / "report.json"
    assert main(["universe-eval", "--model", str(model_dir), "--n", "7", "--max-new-tokens", "8",
                 "--no-progress", "--report", str(report), "--device", "cpu"]) == 0  # fmt: skip
    r = json.loads(report.read_text())
    assert r["counts"] == {t: 1 for t in uc.TASKS}
    for key in ("format_valid", "agent_success", "qa_exact", "refusal_acc"):
        assert 0.0 <= r["metrics"][key] <= 1.0

    transformers = pytest.importorskip("transformers")
    pytest.importorskip("jinja2")
    hf = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    ids = torch.tensor([llm.encode("12 + 30 = 42")])
    with torch.no_grad():
        ref = hf(ids).logits
        mine = llm.model(ids)
        mine = mine.logits if hasattr(mine, "logits") else mine
    torch.testing.assert_close(mine, ref, atol=1e-4, rtol=1e-4)
    hf_tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    # the universe tokenizer cuts numbers into <= 3 digits; that regex is in tokenizer.json, which
    # PreTrainedTokenizerFast reads as is (transformers 5's AutoTokenizer builds Qwen2Tokenizer for
    # model_type qwen2, and that class hard-codes Qwen2's one-digit regex: a documented limitation)
    text = "把53小时换算成分钟：53 * 60 = 3180。What is 347 * 89? 30883"
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    assert fast(text, add_special_tokens=False)["input_ids"] == llm.tokenizer.encode(text)
    assert len(llm.tokenizer.encode("347")) < 3  # one token per digit would give 3
    han = re.compile("[\u4e00-\u9fff]")
    pieces = [llm.tokenizer.decode([i]) for i in llm.tokenizer.encode("把53小时换算成分钟，青石镇")]
    assert all(len(han.findall(p)) <= 1 for p in pieces), pieces  # han_per_token: no merges
    for c in _convs("test", 14):
        msgs = [dict(m) for m in c["messages"]]
        for m in msgs:  # transformers' template takes arguments as an object
            for tc in m.get("tool_calls") or []:
                tc["function"]["arguments"] = json.loads(tc["function"]["arguments"])
        for gen in (False, True):
            ours = render_chat(
                msgs[:-1] if gen else msgs, c.get("tools"), add_generation_prompt=gen
            )
            theirs = hf_tok.apply_chat_template(
                msgs[:-1] if gen else msgs,
                tools=c.get("tools"),
                tokenize=False,
                add_generation_prompt=gen,
            )
            assert theirs == ours, c["task"]


def test_bad_input_is_one_error_line(tmp_path, capsys):
    from qwen_blog.cli import main

    assert main(["universe", "--out", str(tmp_path / "u"), "--preset", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("error: --preset 'nosuch'")
    bad = tmp_path / "p.json"
    bad.write_text('{"model": {}}')
    assert main(["universe", "--out", str(tmp_path / "u"), "--preset", str(bad)]) == 2
    assert "missing section(s) ['data', 'pretrain', 'sft']" in capsys.readouterr().err
    preset = {k: {} for k in ("model", "data", "pretrain", "sft")} | {"lookup": {"lr": 1e-3}}
    bad.write_text(json.dumps(preset))
    assert main(["universe", "--out", str(tmp_path / "u"), "--preset", str(bad)]) == 2
    assert "p.json: section 'lookup' lacks ['eval_every', 'max_steps'," in capsys.readouterr().err
    args = ["universe-eval", "--model", str(tmp_path), "--data", str(tmp_path / "no.jsonl")]
    assert main(args) == 2
    err = capsys.readouterr().err
    if importlib.util.find_spec("tinyagent") is None:  # qwen-blog copied out alone
        assert err.startswith("error: universe-eval runs tinyagent's agent loop")
    else:
        assert "no.jsonl: no such file" in err


def test_clock_readings_are_what_tinyagents_clock_returns():
    from datetime import datetime, timedelta, timezone

    clock = pytest.importorskip("tinyagent.tools.clock")
    start = datetime(2024, 3, 31, 0, 30, tzinfo=timezone.utc)  # around a DST change
    for hours, (_, _, zone) in enumerate(uc.CITIES + [("", "", "UTC")]):
        moment = start + timedelta(hours=hours)
        assert uc._clock_reading(moment, zone)[1] == clock.now_text(zone, moment), zone


def test_copy_documents_drill_lookup_and_clock_reading_without_held_out_towns():
    docs = uc.copy_documents(600, seed=0)
    recall = [d for d in docs if re.fullmatch(r"[^\n]+(?:\n[^\n:：]+(?:: |：)\d+){2,6}", d)]
    clock = [d for d in docs if re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ", d)]
    assert len(recall) > 60 and len(clock) > 60
    for d in recall:  # every asked key's value is the one the list gives it; no key asked twice
        listing, *queries = d.split("\n")
        keys = []
        for query in queries:
            key, value = re.split(r": |：", query)
            assert re.search(re.escape(key) + " " + value + r"(?:[，.。]|$)", listing), d
            keys.append(key)
        assert len(set(keys)) == len(keys), d
    for d in clock:
        reading, answer = d.split("\n")
        date, time_ = reading.split(" ")[:2]
        weekday = reading.rsplit(", ", 1)[1]
        for field in answer.split("; "):
            label, value = field.split(": ")
            expected = {"time": time_[:5], "时间": time_[:5], "date": date, "日期": date,
                        "weekday": weekday}.get(label)  # fmt: skip
            assert value == expected if expected else value.endswith(f"（{weekday}）"), d
    assert not {m.group(0) for d in docs for m in uc.TOWN_RE.finditer(d)} & uc.TEST_TOWNS


def _as_drill(conv: dict) -> str:
    """A multi-turn lookup conversation written the way a lookup drill is (same checks apply)."""
    system, first, *turns = conv["messages"]
    assert system == {"role": "system", "content": uc.RAG_SYSTEM[conv["lang"]]}
    assert [m["role"] for m in turns] == ["assistant", "user"] * (len(turns) // 2) + ["assistant"]
    text = first["content"] + "\n" + turns[0]["content"]
    for user, reply in zip(turns[1::2], turns[2::2]):
        text += "\n\n" + user["content"] + "\n" + reply["content"]
    return text


@pytest.mark.parametrize("kind", ["pretraining drills", "SFT conversations", "SFT answer drills"])
def test_lookup_drills_answer_from_the_towns_own_source_or_refuse(kind):
    if kind == "pretraining drills":
        docs = uc.lookup_documents(300, seed=0)
        assert docs == uc.lookup_documents(300, seed=0) != uc.lookup_documents(300, seed=1)
    elif kind == "SFT conversations":
        convs = uc.lookup_conversations(300, seed=0)
        assert convs == uc.lookup_conversations(300, seed=0) != uc.lookup_conversations(300, 1)
        docs = [_as_drill(c) for c in convs]
    else:  # as tokens: the drill's text, and exactly the answers trained
        from qwen_blog.lookup import answer_drill_batch
        from tinyqwen import Tokenizer

        tok = Tokenizer.from_pretrained(_shipped())
        batches = [answer_drill_batch(tok, 0, step, 10) for step in range(30)]
        assert batches[0] == answer_drill_batch(tok, 0, 0, 10) != answer_drill_batch(tok, 1, 0, 10)
        docs = []
        for ids, labels in (d for b in batches for d in b):
            text = tok.decode(ids)
            sep = "\n\n问题：" if text.startswith("资料:") else "\n\nQuestion: "
            answers = [qa.split("\n")[1] for qa in text.split(sep)[1:]]
            assert tok.decode([t for t in labels if t != IGNORE]) == "".join(answers)
            docs.append(text)
    # the attribute a question asks for, by a word every wording of it contains
    asks = {"zh": ["人口", "建立", "特产", "海拔"],
            "en": ["population", "found", "local product", "altitude|sea level"]}  # fmt: skip
    held_out = [re.compile(re.escape(f).replace(r"\{t\}", f"(?:{uc.TOWN_RE.pattern})")
                           .replace(r"\{attr\}", r"[\w ]+"))
                for f in (uc.RAG_Q_ZH[-1], uc.RAG_Q_EN[-1])]  # fmt: skip
    n_answered = n_refused = 0
    for d in docs:
        lang = "zh" if d.startswith("资料:") else "en"
        head, *qas = d.split("\n\n问题：" if lang == "zh" else "\n\nQuestion: ")
        sources = dict(re.findall(r"\[(\d+)\] \([a-z]+/[\w-]+\.md, chars 0-\d+\)\n([^\n]+)", head))
        assert 2 <= len(sources) <= 4 and 1 <= len(qas) <= 6 and len(set(qas)) == len(qas), d
        for qa in qas:
            q, answer = qa.split("\n")
            assert not any(p.fullmatch(q) for p in held_out), q
            town = uc.TOWN_RE.search(q).group(0)
            assert town not in uc.TEST_TOWNS
            # Chinese names are all three characters: one cannot sit inside another
            mentions = re.compile(re.escape(town) if lang == "zh" else rf"\b{town}\b")
            ((n, text),) = [(n, t) for n, t in sources.items() if mentions.search(t)]
            (a,) = [i for i, w in enumerate(asks[lang]) if re.search(w, q)]
            sentence = re.escape(uc.ATTRS[a][4 if lang == "zh" else 5]).replace(r"\{t\}", town)
            stated = re.search(sentence.replace(r"\{v\}", "(.+?)"), text)
            if answer == uc.REFUSAL[lang]:
                assert stated is None, (q, text)
                n_refused += 1
            else:
                name = uc.ATTRS[a][0 if lang == "zh" else 1]
                assert answer == uc.RAG_ANSWER[lang].format(
                    t=town, attr=name, v=stated.group(1), n=n
                )
                n_answered += 1
    assert n_refused > 200 and n_answered > 2 * n_refused


def test_town_names_are_two_parts_and_the_splits_share_parts_not_names():
    assert len(uc.TOWNS_EN) > 900 and len(uc.TOWNS_ZH) > 1500
    for lang in ("zh", "en"):
        train, test = set(uc.towns(lang, "train")), set(uc.towns(lang, "test"))
        assert not train & test and len(test) > 100
        assert all(uc.TOWN_RE.fullmatch(t) for t in train | test)
        # every part of a held-out name is also a part of some training name
        parts = (lambda t: t.split(" ")) if lang == "en" else (lambda t: list(t))
        seen = {p for t in train for p in parts(t)}
        assert all(set(parts(t)) <= seen for t in test)


def test_drill_documents_are_short_and_from_the_training_split_only():
    train = _convs("train", 300)
    drills = uc.drill_documents(train)
    assert len(drills) == sum(c["task"] != "chat" for c in train)
    calc = next(c for c in train if c["task"].startswith("calc"))
    assert f"{calc['question']}\n{calc['expression']}\n{calc['value']}\n{calc['answer']}" in drills
    assert not {m.group(0) for d in drills for m in uc.TOWN_RE.finditer(d)} & uc.TEST_TOWNS


def test_value_drills_ask_each_towns_own_value_and_train_only_the_value():
    from qwen_blog.lookup import drill_batch, encode_drill
    from tinyqwen import Tokenizer

    rng = random.Random(0)
    forms = set()
    for i in range(300):
        lang = "zh" if i % 2 else "en"
        sources, pairs = uc.value_drill(rng, lang)
        lines = sources.split("\n")
        assert 2 <= len(lines) <= 4 and 1 <= len(pairs) <= 6 and len(set(pairs)) == len(pairs)
        assert not {m.group(0) for m in uc.TOWN_RE.finditer(sources)} & uc.TEST_TOWNS
        forms.add(("of " in sources or "的" in sources, "'s " in sources or "是" in sources))
        for opening, value in pairs:
            town = uc.TOWN_RE.search(opening).group(0)
            mine = re.compile(re.escape(town) if lang == "zh" else rf"\b{town}\b")
            (line,) = [x for x in lines if mine.search(x)]  # one source per town
            n = int(line[1 : line.index("]")])
            sep = " " if lang == "en" else ""
            answers = [uc.RAG_ANSWER[lang].format(t=town, attr=a[0 if lang == "zh" else 1], v=value,
                                                  n=n) for a in uc.ATTRS]  # fmt: skip
            assert f"{opening}{sep}{value} [{n}]" in [a[: a.rindex("]") + 1] for a in answers]
            assert value in line  # stated in this town's own source
    assert len(forms) > 1  # several ways of writing the facts
    tok = Tokenizer.from_pretrained(_shipped())
    rng = random.Random(3)
    for lang in ["en", "zh"] * 10:
        sources, pairs = uc.value_drill(rng, lang)
        ids, labels = encode_drill(tok, sources, pairs, lang)
        sep = " " if lang == "en" else ""
        assert ids == tok.encode(sources + "".join(f"\n{o}{sep}{v}" for o, v in pairs))
        # exactly the values are trained (with the space before an English value)
        assert tok.decode([t for t in labels if t != IGNORE]) == "".join(sep + v for _, v in pairs)
    assert drill_batch(tok, 0, 5, 4) == drill_batch(tok, 0, 5, 4) != drill_batch(tok, 0, 6, 4)


def _shipped():
    from tinyqwen.tiny_universe import ASSET_DIR

    if not (ASSET_DIR / "recipe.json").is_file():
        pytest.skip(f"no shipped tiny-universe at {ASSET_DIR}")
    return ASSET_DIR


def test_shipped_tokenizer_spells_every_town_from_its_parts():
    """Held-out towns are made of the same tokens as training towns: " Maple Ridge" is " Maple" +
    " Ridge", 红枫镇 is 红 + 枫 + 镇 -- never a token that only some names have."""
    from tinyqwen import Tokenizer

    tok = Tokenizer.from_pretrained(_shipped())
    for t in uc.TOWNS_EN:
        first, second = t.split(" ")
        assert tok.encode(f" {t}") == tok.encode(f" {first}") + tok.encode(f" {second}"), t
    for t in uc.TOWNS_ZH:
        assert tok.encode(t) == [i for ch in t for i in tok.encode(ch)], t


def test_shipped_tiny_universe_is_this_recipe(tmp_path):
    """The weights in tinyqwen were made by ``universe`` with today's ``full`` preset and today's
    data generator: same preset, and the regenerated corpus has the recorded sha256."""
    from qwen_blog.universe import PRESETS, _sha256, write_sft_data

    recipe = json.loads((_shipped() / "recipe.json").read_text())
    assert recipe["preset"] == PRESETS["full"] and recipe["seed"] == 0
    data = recipe["preset"]["data"]
    uc.write_universe_corpus(tmp_path, data["n_train"], data["n_test"], recipe["seed"])
    paths = {"train": tmp_path / "train.jsonl", "sft": tmp_path / "sft.jsonl"}
    write_sft_data(paths, recipe["preset"], recipe["seed"])
    for name in ("train.jsonl", "test.jsonl", "sft.jsonl"):
        assert _sha256(tmp_path / name) == recipe["data_sha256"][name], name
    assert recipe["total_minutes"] <= 60


def test_shipped_metrics_reproduce_item_by_item():
    """Re-run the held-out evaluation on the shipped files (first 21 items, greedy, fp32): every
    answer is the one recorded in metrics.json, so the published numbers are this model's."""
    pytest.importorskip("tinyagent")
    import tinyqwen
    from qwen_blog import universe_eval

    asset = _shipped()
    recorded = json.loads((asset / "metrics.json").read_text())
    convs = [json.loads(x) for x in (asset / "heldout.jsonl").read_text().splitlines()]
    # the clock tool reads the real clock, so answers after a clock call change from run to run:
    # compare the items whose recorded run never called it
    calls_clock = [
        any(c[0] == "current_time" for c in it.get("calls") or []) for it in recorded["items"]
    ]
    keep = [
        i for i, c in enumerate(convs) if not c["task"].startswith("clock") and not calls_clock[i]
    ][:21]
    llm = tinyqwen.connect("tiny-universe")
    result = universe_eval.evaluate(llm, [convs[i] for i in keep], show_progress=False)
    for got, i in zip(result["items"], keep):
        want = recorded["items"][i]
        for key in ("answer", "format_valid", "success", "exact", "refused"):
            assert got.get(key) == want.get(key), (key, got["question"])


def test_shipped_model_keeps_its_tool_use_in_int4():
    """Trained weights through the group-wise int4 quantiser (tinyqwen.int4), on 40 held-out calculator
    items: every call stays well formed and the agent solves about as many as in fp32 (300 items:
    97.4 % fp32, 97.9 % int4; allowed here: at most 3 of 40 fewer)."""
    pytest.importorskip("tinyagent")
    import tinyqwen
    from qwen_blog import universe_eval

    asset = _shipped()
    convs = [json.loads(x) for x in (asset / "heldout.jsonl").read_text().splitlines()]
    calc = [c for c in convs if c["task"].startswith("calc")][:40]
    fp32 = universe_eval.evaluate(tinyqwen.connect("tiny-universe"), calc, show_progress=False)
    int4 = universe_eval.evaluate(
        tinyqwen.connect("tiny-universe", quantize="int4"), calc, show_progress=False
    )
    assert int4["metrics"]["format_valid"] == 1.0
    solved = [sum(bool(it.get("success")) for it in r["items"]) for r in (fp32, int4)]
    assert solved[1] >= solved[0] - 3, solved


def _citation_drills():
    """docs/experiments/citation_drills.py (E19-E23), loaded as a module."""
    path = Path(__file__).resolve().parents[1] / "docs/experiments/citation_drills.py"
    spec = importlib.util.spec_from_file_location("citation_drills", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_citation_experiment_drills_train_only_the_decisions():
    """E19's key drills: targets = the answer's first two tokens, the value, the citation digit
    (or the whole refusal); E20's cite drills: targets = the source numbers of the asked towns."""
    from tinyqwen import Tokenizer

    cd = _citation_drills()
    tok = Tokenizer.from_pretrained(_shipped())
    for lang, sources, qas, want in [
        ("en", "Sources:\n\n[1] (docs/a.md)\nRaven Port has a population of 24146.",
         [("What is the population of Raven Port?", "The population of Raven Port is 24146 [1]."),
          ("What is the altitude of Raven Port?", "The documents do not say.")],
         ["The", " population", " ", "241", "46", "1", "The documents do not say."]),
        ("zh", "资料:\n\n[1] (docs/b.md)\n[2] (docs/c.md)\n明水镇的特产是瓷器。",
         [("明水镇的特产是什么？", "明水镇的特产是瓷器 [2]。")],
         ["明", "水", "瓷", "器", "2"]),
    ]:  # fmt: skip
        ids, labels = cd.encode_key(tok, sources, qas, lang)
        assert len(ids) == len(labels)
        targets = [t for t in labels if t != -100]
        got = [tok.decode([t]) for t in targets]
        if lang == "en":  # the refusal's tokens decode together
            got = got[:6] + ["".join(got[6:])]
        assert got == want
        assert tok.decode(ids).endswith(qas[-1][1])
    rng = random.Random(0)
    for _ in range(20):
        sources, names, asked = cd._cite_item(rng, "en")
        ids, labels = cd.encode_cite(tok, sources, names, asked)
        assert [tok.decode([t]) for t in labels if t != -100] == [str(k + 1) for k in asked]
        assert tok.decode(ids).endswith(f"{names[asked[-1]]} [{asked[-1] + 1}]")


def test_citation_experiment_blockid_drills_and_block_spans():
    """E22's block-id drills: the targets are exactly the marker digits, each its own block's number;
    the linear probe's spans cover each block's text and nothing of its header."""
    from tinyqwen import Tokenizer

    cd = _citation_drills()
    tok = Tokenizer.from_pretrained(_shipped())
    rng = random.Random(0)
    for i in range(20):
        ids, labels = cd.encode_blockid(tok, rng, "zh" if i % 2 else "en")
        text = tok.decode(ids)
        blocks = text.split("\n\n")[1:]  # after "Sources:"
        want = [str(k) for k, b in enumerate(blocks, 1) for _ in range(b.count(f"[{k}]"))]
        assert [tok.decode([t]) for t in labels if t != -100] == want
        assert all(b.count("[") == b.count(f"[{k}]") for k, b in enumerate(blocks, 1))
        spans = cd._block_spans(tok, text, len(blocks), ids)
        for k, (a, z) in enumerate(spans):
            body = blocks[k].split("\n", 1)[1]
            assert (
                z > a and tok.decode(ids[a:z]) in body and body.startswith(tok.decode(ids[a:z])[:4])
            )


def test_citation_experiment_valcite_drills_and_init(tmp_path):
    """E26-E29: valcite drills train exactly the answers' citation digits; the tagged kind ends every
    sentence of source k with ``[k]`` and changes nothing else; the fused kind is the tagged one with
    each `` [k`` one id; ``init`` writes a loadable model of the asked shape with the shipped
    tokenizer, ``fuse-init`` copies the digits' rows to the fused ids."""
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    cd = _citation_drills()
    tok = Tokenizer.from_pretrained(_shipped())
    plain = cd.valcite_batch(tok, 0, 3, 6)
    tagged = cd.valcite_tagged_batch(tok, 0, 3, 6)
    for (ids, labels), (tids, tlabels) in zip(plain, tagged):
        text, ttext = tok.decode(ids), tok.decode(tids)
        answers = [a for a in text.split("\n") if re.search(r"\[\d\][.。]$", a)]
        want = [re.search(r"\[(\d)\]", a).group(1) for a in answers]
        assert answers and [tok.decode([t]) for t in labels if t != -100] == want
        assert [tok.decode([t]) for t in tlabels if t != -100] == want
        cut = re.compile(r"\n\n(?=问题：|Question: )")
        sources, qas = cut.split(text, maxsplit=1)
        tsources, tqas = cut.split(ttext, maxsplit=1)
        assert tqas == qas and re.sub(r" \[\d\](?=[.。])", "", tsources) == sources
        for k, b in enumerate(tsources.split("\n\n")[1:], 1):
            sentences = re.split(r"(?<=[.。]) ?", b.split("\n", 1)[1])
            assert all(s.endswith((f" [{k}].", f" [{k}]。")) for s in sentences if s)
    # fused: every " [k" one id (a spare vocab row), the labels moved onto it, headers untouched
    for (ids, labels), (fids, flabels) in zip(tagged, cd.valcite_fused_batch(tok, 0, 3, 6)):
        fused = {cd.fused_id(tok, k): str(k) for k in range(1, 10)}
        assert len(ids) - len(fids) == sum(i in fused for i in fids) > 0
        back = "".join(" [" + fused[i] if i in fused else tok.decode([i]) for i in fids)
        assert back == tok.decode(ids)
        assert [fused[t] for t in flabels if t != -100] == [
            tok.decode([t]) for t in labels if t != -100
        ]
    cd.main(["init", "--out", str(tmp_path / "m"), "--layers", "2", "--hidden", "64"])
    m = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert (m.config.num_hidden_layers, m.config.hidden_size) == (2, 64)
    assert Tokenizer.from_pretrained(tmp_path / "m").encode("Raven Port [1]") == tok.encode(
        "Raven Port [1]"
    )
    cd.main(["fuse-init", "--base", str(tmp_path / "m"), "--out", str(tmp_path / "f")])
    rows = AutoModelForCausalLM.from_pretrained(tmp_path / "f").model.embed_tokens.weight
    assert all(
        torch.equal(rows[cd.fused_id(tok, k)], rows[tok.encode(str(k))[0]]) for k in range(1, 10)
    )


def test_citation_experiment_train_passes_seed_and_lr_floor(monkeypatch):
    """``train --seed / --min-lr-ratio`` (E30) reach the runner: drills alone get the seed and a
    constant lr unless a floor is given (0.0 included); SFT kinds keep sft's default floor."""
    cd = _citation_drills()
    seen = {}
    monkeypatch.setattr(
        cd.lookup,
        "run_stage",
        lambda base, out, settings, seed, *a: seen.update(s=settings, seed=seed),
    )
    monkeypatch.setattr(cd.sft, "run", lambda args: seen.update(sft=args))
    cd.main(["train", "--kind", "valcite-fused", "--out", "x"])
    assert (seen["seed"], seen["s"]["min_lr_ratio"]) == (0, 1.0)
    cd.main(
        ["train", "--kind", "valcite-fused", "--out", "x", "--seed", "3", "--min-lr-ratio", "0"]
    )
    assert (seen["seed"], seen["s"]["min_lr_ratio"]) == (3, 0.0)
    cd.main(["train", "--kind", "key", "--out", "x", "--seed", "2"])
    assert (seen["sft"].seed, seen["sft"].min_lr_ratio) == (2, 0.1)
    cd.main(["train", "--kind", "key", "--out", "x", "--min-lr-ratio", "0.5"])
    assert (seen["sft"].seed, seen["sft"].min_lr_ratio) == (0, 0.5)
