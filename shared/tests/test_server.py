"""tinyqwen serve, protocol level: a scripted ChatModel behind the real FastAPI/uvicorn server.

The scripted model's answers are pure functions of the request, so every field the server adds
(ids, finish_reason, usage, SSE chunks, tool_calls, error bodies) and the batching worker can be
checked exactly, and a tool call can be produced on demand (a random model cannot be made to).
Parity with the real model (tiny-random, a random HF checkpoint) is in test_openai_client.py.
"""

from __future__ import annotations

import concurrent.futures
import json

import numpy as np
import pytest
import requests

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from scripted_chat_model import TOOL_TEXT, WEATHER_TOOL, ScriptedChatModel  # noqa: E402

from tinyqwen.openai_client import OpenAIAPIError, OpenAIChatModel  # noqa: E402
from tinyqwen.serve import serve_in_background  # noqa: E402


@pytest.fixture(scope="module")
def scripted():
    model = ScriptedChatModel()
    with serve_in_background(model) as url:
        yield model, url


@pytest.fixture
def openai_client(scripted):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=scripted[1], api_key="unused", max_retries=0)


USER = [{"role": "user", "content": "今天 天气"}]


def test_models_endpoint(scripted):
    _, url = scripted
    body = requests.get(f"{url}/models", timeout=10).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["scripted"]
    assert body["data"][0]["max_model_len"] == 120
    client = OpenAIChatModel(url)  # no model given: the first id of /v1/models
    assert client.name == "scripted" and client.context_length == 120


def test_chat_non_stream_both_clients(scripted, openai_client):
    model, url = scripted
    expected = model.raw_reply(USER, None, max_new_tokens=4)  # "回答 今天 天气 user"
    ours = OpenAIChatModel(url, "scripted").chat(USER, max_new_tokens=4)
    assert ours == {"role": "assistant", "content": expected}
    r = openai_client.chat.completions.create(
        model="scripted", messages=USER, max_tokens=4, temperature=0
    )
    assert r.choices[0].message.content == expected
    assert r.choices[0].finish_reason == "length"  # 4 words == max_tokens
    assert r.usage.completion_tokens == 4
    assert r.usage.prompt_tokens == model.count_tokens(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\n今天 天气<|im_end|>\n<|im_start|>assistant\n"
    )
    r = openai_client.chat.completions.create(model="scripted", messages=USER, max_tokens=50)
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == "回答 今天 天气 user 好的 ok"


def test_chat_stream_both_clients(scripted, openai_client):
    model, url = scripted
    expected = model.raw_reply(USER, None)
    deltas = list(OpenAIChatModel(url, "scripted").stream_chat(USER))
    assert len(deltas) > 1 and "".join(deltas) == expected
    stream = openai_client.chat.completions.create(
        model="scripted",
        messages=USER,
        stream=True,
        temperature=0,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens == len(expected.split())


def test_stop_and_sampling_reach_the_model(scripted):
    model, url = scripted
    client = OpenAIChatModel(url, "scripted")
    out = client.chat(USER, stop=["天气"], temperature=0.7, top_p=0.9, top_k=5, seed=3)
    assert out["content"] == "回答 今天 "
    sampling = model.calls[-1][2]
    assert sampling["stop"] == ["天气"] and sampling["temperature"] == 0.7
    assert sampling["top_p"] == 0.9 and sampling["top_k"] == 5 and sampling["seed"] == 3


def test_max_tokens_clamped_to_context(scripted, openai_client):
    model, _ = scripted
    openai_client.chat.completions.create(model="scripted", messages=USER, max_tokens=10_000)
    prompt_tokens = 17  # the rendered prompt above, in words
    assert model.calls[-1][2]["max_new_tokens"] == model.context_length - prompt_tokens


def test_tool_call_round_trip(scripted, openai_client):
    _, url = scripted
    ask = [{"role": "user", "content": "weather in Paris?"}]
    r = openai_client.chat.completions.create(
        model="scripted", messages=ask, tools=[WEATHER_TOOL], temperature=0
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "巴黎"}
    # send the call and its result back: the server must accept the round-tripped messages
    follow = ask + [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    r2 = openai_client.chat.completions.create(
        model="scripted", messages=follow, tools=[WEATHER_TOOL], temperature=0
    )
    assert r2.choices[0].finish_reason == "stop"
    assert r2.choices[0].message.content.startswith('回答 {"temp": 21} tool')

    ours = OpenAIChatModel(url, "scripted")
    msg = ours.chat(ask, tools=[WEATHER_TOOL])
    assert msg["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "巴黎"}',
    }
    # streamed: content never shows the <tool_call> markup; the calls arrive as a delta
    stream = openai_client.chat.completions.create(
        model="scripted", messages=ask, tools=[WEATHER_TOOL], stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ""
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # our client's stream re-joins to the raw model text, as the ChatModel contract says
    assert "".join(ours.stream_chat(ask, tools=[WEATHER_TOOL])) == TOOL_TEXT


def _post(url: str, path: str, data: bytes | dict) -> requests.Response:
    if isinstance(data, dict):
        return requests.post(f"{url}{path}", json=data, timeout=10)
    headers = {"Content-Type": "application/json"}
    return requests.post(f"{url}{path}", data=data, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "path, data, status, param, code",
    [
        ("/chat/completions", b'{"model": "scripted", "messages": [', 400, None, "invalid_json"),
        (
            "/chat/completions",
            {"model": "gpt-9", "messages": USER},
            404,
            "model",
            "model_not_found",
        ),
        ("/chat/completions", {"messages": USER, "max_tokens": -1}, 400, "max_tokens", None),
        ("/chat/completions", {"messages": USER, "max_tokens": "8"}, 400, "max_tokens", None),
        ("/chat/completions", {"messages": USER, "n": 2}, 400, "n", None),
        ("/chat/completions", {"messages": USER, "temperature": 3}, 400, "temperature", None),
        ("/chat/completions", {"messages": []}, 400, "messages", None),
        (
            "/chat/completions",
            {"messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages[0]",
            None,
        ),
        (
            "/chat/completions",
            {"messages": [{"role": "user", "content": "w " * 200}]},
            400,
            "messages",
            "context_length_exceeded",
        ),
        ("/completions", {"prompt": 5}, 400, "prompt", None),
        ("/completions", {"prompt": "a b", "max_tokens": -3}, 400, "max_tokens", None),
        ("/embeddings", {"input": []}, 400, "input", None),
        ("/nope", {}, 404, None, "not_found"),
    ],
)
def test_bad_requests_get_openai_error_bodies(scripted, path, data, status, param, code):
    _, url = scripted
    r = _post(url, path, data)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"] and err["param"] == param and err["code"] == code


def test_openai_client_raises_on_4xx(scripted, openai_client):
    openai = pytest.importorskip("openai")
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="gpt-9", messages=USER)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        openai_client.chat.completions.create(model="scripted", messages=USER, max_tokens=-1)


def test_completions_and_embeddings(scripted, openai_client):
    model, url = scripted
    r = openai_client.completions.create(model="scripted", prompt=["a b c", "x y"], max_tokens=2)
    assert [c.text for c in sorted(r.choices, key=lambda c: c.index)] == [" c b", " y x"]
    assert r.usage.prompt_tokens == 5
    r = openai_client.completions.create(model="scripted", prompt="a b c", echo=True, max_tokens=5)
    assert r.choices[0].text == "a b c c b a" and r.choices[0].finish_reason == "stop"
    ours = OpenAIChatModel(url, "scripted")
    assert ours.complete("p q", max_new_tokens=1) == " q"
    assert ours.complete(["p q", "r s t"]) == [" q p", " t s r"]
    # logprobs need a local model with a tokenizer: the scripted one says so clearly
    with pytest.raises(NotImplementedError, match="not supported by this backend"):
        ours.loglikelihood([("a", " b")])

    texts = ["苹果", "banana", "cherry"]
    want = model.embed(texts)
    # unasked, the openai package requests base64 and decodes it itself
    for kwargs in ({}, {"encoding_format": "float"}):
        e = openai_client.embeddings.create(model="scripted", input=texts, **kwargs)
        got = np.asarray([d.embedding for d in e.data], dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    assert e.usage.prompt_tokens == 3
    np.testing.assert_allclose(ours.embed(texts), want, rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        ours.embed(texts, pooling="mean"), model.embed(texts, pooling="mean"), atol=1e-7
    )


def test_completions_stream_as_generated(scripted, openai_client):
    model, url = scripted
    want = model.complete("a b c", max_new_tokens=5)  # " c b a"
    stream = openai_client.completions.create(
        model="scripted",
        prompt="a b c",
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert "".join(texts) == want and len([t for t in texts if t]) > 1  # several deltas
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens == 3 and chunks[-1].usage.prompt_tokens == 3
    ours = OpenAIChatModel(url, "scripted")
    assert "".join(ours.stream_complete("a b c", max_new_tokens=2)) == " c b"
    # echo puts the prompt first; several prompts still come back, in one event
    r = requests.post(
        f"{url}/completions",
        json={"prompt": "a b", "echo": True, "stream": True, "max_tokens": 4},
        timeout=10,
    )
    events = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
    assert "".join(e["choices"][0]["text"] for e in events) == "a b b a"
    r = requests.post(
        f"{url}/completions", json={"prompt": ["a b", "c d"], "stream": True}, timeout=10
    )
    events = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
    assert [c["text"] for c in events[0]["choices"]] == [" b a", " d c"]
    assert r.text.endswith("data: [DONE]\n\n")


def test_concurrent_requests_are_batched_and_correct():
    model = ScriptedChatModel(delay=0.3)  # slow model: requests queue while it works
    convs = [[{"role": "user", "content": f"问题 {i}"}] for i in range(8)]
    expected = [model.raw_reply(c, None, max_new_tokens=8) for c in convs]
    with serve_in_background(model) as url:
        client = OpenAIChatModel(url, "scripted")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda c: client.chat(c, max_new_tokens=8)["content"], convs))
        assert got == expected
        assert client.chat_batch(convs, max_new_tokens=8) == [
            {"role": "assistant", "content": e} for e in expected
        ]
        batched = [n for method, n, _ in model.calls if method == "chat_batch"]
        assert batched and max(batched) > 1, model.calls
        assert sum(n for _, n, _ in model.calls) == 16  # every request ran exactly once

        # different sampling parameters never share a batch
        model.calls.clear()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            temps = [0.0, 0.5, 0.0, 0.5]
            list(pool.map(lambda t: client.chat(convs[0], temperature=t), temps))
        for _, _, sampling in model.calls:
            assert sampling["temperature"] in (0.0, 0.5)
        assert sum(n for _, n, _ in model.calls) == 4


def test_api_key_required_when_configured():
    model = ScriptedChatModel()
    with serve_in_background(model, api_key="sekret") as url:
        r = requests.get(f"{url}/models", timeout=10)
        assert r.status_code == 401
        r = _post(url, "/chat/completions", {"messages": USER})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert OpenAIChatModel(url, "scripted", api_key="sekret").chat(USER)["content"]


def test_main_warns_on_public_bind(monkeypatch, capsys):
    import tinyqwen
    import tinyqwen.serve as server

    ran = {}
    monkeypatch.setattr(
        tinyqwen, "connect", lambda spec, adapter=None: ScriptedChatModel(), raising=False
    )
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, log_level: ran.update(host=host))
    assert server.main(["--model", "x", "--host", "0.0.0.0", "--port", "9"]) == 0
    assert ran == {"host": "0.0.0.0"}
    assert "WARNING" in capsys.readouterr().err
    assert server.main(["--model", "x"]) == 0
    assert ran == {"host": "127.0.0.1"}
    assert "WARNING" not in capsys.readouterr().err


def test_model_errors_reach_the_right_client_only():
    model = ScriptedChatModel(delay=0.2)
    with serve_in_background(model) as url:
        client = OpenAIChatModel(url, "scripted")
        boom = [{"role": "user", "content": "boom"}]
        # streaming: the error arrives as an SSE error event, the stream does not hang
        with pytest.raises(OpenAIAPIError, match="refuses 'boom'"):
            list(client.stream_chat(boom))
        # batched with good requests: only the bad one fails
        convs = [[{"role": "user", "content": f"q{i}"}] for i in range(5)] + [boom]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(client.chat, c, max_new_tokens=3) for c in convs]
        for c, f in zip(convs, futures):
            if c is boom:
                with pytest.raises(OpenAIAPIError, match="refuses 'boom'") as e:
                    f.result()
                assert e.value.status == 400
            else:
                assert f.result()["content"] == model.raw_reply(c, None, max_new_tokens=3)


def test_missing_serve_extra_is_explained(monkeypatch, capsys):
    import sys

    import tinyqwen.serve as server

    monkeypatch.setitem(
        sys.modules, "fastapi", None
    )  # as if `pip install tinyqwen` without [serve]
    assert server.main(["--model", "x"]) == 2
    assert "pip install 'tinyqwen[serve]'" in capsys.readouterr().err


def test_dict_tool_arguments_are_sent_as_json_strings(scripted):
    model, url = scripted
    history = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "巴黎"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "晴"},
    ]
    out = OpenAIChatModel(url, "scripted").chat(history, tools=[WEATHER_TOOL])
    assert out["content"].startswith("回答 晴 tool")
    sent = model.last_messages[1]["tool_calls"][0]["function"]["arguments"]
    assert sent == '{"city": "巴黎"}'  # a JSON string on the wire, as the OpenAI API requires
