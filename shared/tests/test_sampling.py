"""``Sampling`` (checked once, errors name the field), the ``ChatModel`` contract both backends
share, and the text driver's ``Completion`` (text, ids, finish reason) against ``generate``."""

from __future__ import annotations

import inspect
import math

import pytest

from tinyqwen.chat_model import ChatModel
from tinyqwen.generation import generate
from tinyqwen.llm import LLM
from tinyqwen.openai_client import OpenAIChatModel
from tinyqwen.sampling import SEED_MAX, SEED_MIN, Sampling, SamplingError, resolve
from tinyqwen.text_generation import generate_text, stream_text
from tinyqwen.tiny_random import load_tiny_random


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", math.nan),
        ("temperature", math.inf),
        ("temperature", -0.1),
        ("top_p", math.nan),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_p", -math.inf),
        ("repetition_penalty", math.nan),
        ("repetition_penalty", math.inf),
        ("repetition_penalty", 0.0),
        ("top_k", -1),
        ("top_k", 2.5),
        ("max_new_tokens", -1),
        ("max_new_tokens", True),
        ("seed", SEED_MAX + 1),
        ("seed", SEED_MIN - 1),
        ("seed", "7"),
        ("stop", 3),
        ("stop", ["ok", None]),
    ],
)
def test_bad_values_name_their_field(field, value):
    with pytest.raises(SamplingError, match=field) as err:
        Sampling(**{field: value})
    assert err.value.field == field and isinstance(err.value, ValueError)


def test_values_are_normalised_and_frozen():
    s = Sampling(temperature=1, stop="\n", seed=SEED_MAX)
    assert s.temperature == 1.0 and isinstance(s.temperature, float)
    assert s.stop == ("\n",) and Sampling(stop=["", "x"]).stop == ("x",)
    assert Sampling().greedy and not s.greedy
    with pytest.raises(AttributeError):
        s.temperature = 0.5  # type: ignore[misc]
    assert Sampling(seed=SEED_MIN).seed == SEED_MIN


def test_resolve_is_the_one_place_keywords_become_sampling():
    base = Sampling(max_new_tokens=8, temperature=0.5)
    assert resolve() == Sampling()
    assert resolve(base) is base
    assert resolve(base, temperature=0.0) == Sampling(max_new_tokens=8)
    with pytest.raises(TypeError, match="max_tokens"):
        resolve(base, max_tokens=3)
    with pytest.raises(TypeError, match="Sampling"):
        resolve({"temperature": 0.0})  # type: ignore[arg-type]
    with pytest.raises(SamplingError, match="top_p"):
        resolve(base, top_p=float("nan"))


def test_both_backends_have_identical_signatures():
    for method in (
        "complete",
        "chat",
        "chat_batch",
        "stream_chat",
        "stream_complete",
        "loglikelihood",
        "count_tokens",
        "embed",
    ):
        ours, remote = getattr(LLM, method), getattr(OpenAIChatModel, method)
        assert inspect.signature(ours) == inspect.signature(remote), method
        proto = inspect.signature(getattr(ChatModel, method))
        assert list(proto.parameters) == list(inspect.signature(ours).parameters), method
    assert LLM.capabilities == {"stream", "loglikelihood", "embed", "rerank", "tokenizer"}
    assert OpenAIChatModel.capabilities == {"stream", "loglikelihood", "embed"}
    assert isinstance(load_tiny_random(), ChatModel)


def test_completion_ids_and_finish_reasons_match_generate():
    llm = load_tiny_random()
    prompts = [llm.encode(p) for p in ("你好，世界", "The quick brown fox", "1 2 3")]
    ids = generate(llm.model, prompts, max_new_tokens=12, stop_token_ids=llm.stop_token_ids)
    done = generate_text(llm.model, llm.tokenizer, prompts, Sampling(max_new_tokens=12))
    for c, row in zip(done, ids):
        assert c.token_ids == row and c.text == llm.tokenizer.decode(row)
        assert c.finish_reason == ("length" if len(row) == 12 else "stop")
    # a stop string cut keeps only the ids whose text starts before the cut
    text = done[1].text
    stop = text[len(text) // 2 :][:2]
    [cut] = generate_text(llm.model, llm.tokenizer, prompts[1:2], Sampling(12, stop=[stop]))
    assert cut.finish_reason == "stop" and cut.text == text[: text.index(stop)]
    assert llm.tokenizer.decode(cut.token_ids).startswith(cut.text)
    assert len(cut.token_ids) < len(done[1].token_ids)
    streamed = list(stream_text(llm.model, llm.tokenizer, prompts[1], Sampling(12, stop=[stop])))
    assert "".join(streamed) == cut.text and all(streamed)


def test_docstring_examples_run():
    import doctest

    import tinyqwen.sampling

    result = doctest.testmod(tinyqwen.sampling)
    assert result.attempted > 0 and result.failed == 0


def test_bad_sampling_fails_at_the_call_on_both_backends():
    remote = OpenAIChatModel("http://127.0.0.1:9/v1", "m")  # never contacted
    local = load_tiny_random()
    msgs = [{"role": "user", "content": "hi"}]
    for model in (local, remote):
        with pytest.raises(TypeError, match="max_tokens"):
            model.stream_chat(msgs, max_tokens=3)  # before any next(): nothing was sent
        with pytest.raises(SamplingError, match="temperature"):
            model.stream_complete("hi", temperature=float("inf"))
        with pytest.raises(SamplingError, match="seed"):
            model.chat_batch([msgs], seed=2**64)


def test_context_warning_points_at_the_callers_line():
    llm = load_tiny_random()
    with pytest.warns(UserWarning, match="lowered") as caught:
        llm.complete("hi", max_new_tokens=10_000)
    assert caught[0].filename == __file__  # not a line inside tinyqwen
