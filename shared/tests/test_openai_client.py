"""OpenAIChatModel: HTTP behaviour against a scripted server, then parity through the real server.

Part 1 scripts raw HTTP answers (429/503 with Retry-After, 400, dropped connections, slow answers,
SSE with comments and multi-byte text, legacy logprobs) on 127.0.0.1 to check retries, timeouts,
error messages, env configuration and parsing exactly.

Part 2 starts `tinyqwen serve` (uvicorn in a thread, a free loopback port) on tiny-random and on a
random checkpoint made by transformers, and checks that our client and the official `openai`
package get exactly what calling `LLM` directly gives with greedy decoding, streaming and not,
including 8 concurrent clients (which the server batches).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import numpy as np
import pytest

from tinyqwen.openai_client import OpenAIAPIError, OpenAIChatModel, approx_token_count


# ---------------------------------------------------------------------------------------- part 1
class Script:
    """Answers to send, in order, per path; each is (status, headers, body bytes | callable)."""

    def __init__(self) -> None:
        self.answers: dict[str, list] = {}
        self.seen: list[dict] = []  # requests received: path, headers, json body

    def add(self, path: str, status: int, body, headers: dict | None = None, delay: float = 0):
        self.answers.setdefault(path, []).append((status, headers or {}, body, delay))


def _handler(script: Script):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            script.seen.append(
                {"path": path, "headers": dict(self.headers), "json": json.loads(raw or b"null")}
            )
            queue = script.answers.get(path) or []
            if not queue:
                status, headers, body, delay = 404, {}, {"error": {"message": "no route"}}, 0
            else:
                status, headers, body, delay = queue.pop(0) if len(queue) > 1 else queue[0]
            time.sleep(delay)
            if body == "DROP":  # close the socket without answering
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left (test_dropped_connection_and_timeout...)

        do_GET = do_POST = _answer

    return Handler


@pytest.fixture
def scripted():
    script = Script()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield script
    server.shutdown()
    server.server_close()


def _chat_body(content="好的", tool_calls=None):
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]}


def test_retries_429_and_5xx_with_backoff_then_succeeds(scripted):
    scripted.add(
        "/v1/chat/completions", 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
    )
    scripted.add("/v1/chat/completions", 503, {"error": {"message": "overloaded"}})
    scripted.add("/v1/chat/completions", 200, _chat_body())
    m = OpenAIChatModel(scripted.url, "m", backoff=0.01)
    assert m.chat([{"role": "user", "content": "hi"}]) == {"role": "assistant", "content": "好的"}
    assert len(scripted.seen) == 3
    sent = scripted.seen[-1]["json"]
    assert sent["model"] == "m" and sent["temperature"] == 0.0 and sent["max_tokens"] == 256
    assert "top_k" not in sent and "repetition_penalty" not in sent  # non-OpenAI keys only if set


def test_gives_up_after_max_retries_with_the_server_message(scripted):
    scripted.add(
        "/v1/chat/completions", 500, {"error": {"message": "CUDA OOM", "type": "server_error"}}
    )
    m = OpenAIChatModel(scripted.url, "m", max_retries=2, backoff=0.01)
    with pytest.raises(OpenAIAPIError, match="CUDA OOM") as e:
        m.chat([{"role": "user", "content": "hi"}])
    assert e.value.status == 500 and len(scripted.seen) == 3  # 1 try + 2 retries


def test_4xx_is_not_retried(scripted):
    scripted.add(
        "/v1/chat/completions",
        400,
        {"error": {"message": "max_tokens too big", "param": "max_tokens"}},
    )
    m = OpenAIChatModel(scripted.url, "m", backoff=0.01)
    with pytest.raises(OpenAIAPIError, match="max_tokens too big") as e:
        m.chat([{"role": "user", "content": "hi"}])
    assert e.value.status == 400 and len(scripted.seen) == 1


def test_dropped_connection_and_timeout_are_retried(scripted):
    scripted.add("/v1/chat/completions", 200, "DROP")
    scripted.add("/v1/chat/completions", 200, _chat_body("late"), delay=1.0)  # > timeout
    scripted.add("/v1/chat/completions", 200, _chat_body("ok"))
    m = OpenAIChatModel(scripted.url, "m", timeout=0.3, backoff=0.01)
    assert m.chat([{"role": "user", "content": "hi"}])["content"] == "ok"
    assert len(scripted.seen) == 3


def test_unreachable_server_says_so():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = OpenAIChatModel(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff=0.01)
    with pytest.raises(OpenAIAPIError, match="cannot reach .* Is the server running"):
        m.complete("x")


def test_env_configuration_and_model_discovery(scripted, monkeypatch):
    scripted.add("/v1/models", 200, {"data": [{"id": "qwen-7b", "max_model_len": 32768}]})
    monkeypatch.setenv("OPENAI_BASE_URL", scripted.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    m = OpenAIChatModel()
    assert m.name == "qwen-7b" and m.context_length == 32768
    assert scripted.seen[0]["headers"]["Authorization"] == "Bearer sk-test"
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(ValueError, match="OPENAI_BASE_URL"):
        OpenAIChatModel(model="x")


def test_sse_stream_parsing(scripted):
    events = [
        ": keep-alive",
        'data: {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}',
        'data: {"choices": [{"index": 0, "delta": {"content": "你"}}]}',
        'data: {"choices": [{"index": 0, "delta": {"content": "好 ok"}}]}',
        'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_0", '
        '"type": "function", "function": {"name": "f", "arguments": "{\\"x\\": "}}]}}]}',
        'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, '
        '"function": {"arguments": "1}"}}]}, "finish_reason": "tool_calls"}]}',
        "data: [DONE]",
    ]
    body = "".join(e + "\n\n" for e in events).encode()
    scripted.add("/v1/chat/completions", 200, body, {"Content-Type": "text/event-stream"})
    m = OpenAIChatModel(scripted.url, "m")
    deltas = list(m.stream_chat([{"role": "user", "content": "hi"}], tools=[{"type": "function"}]))
    assert deltas[:2] == ["你", "好 ok"]
    # streamed tool-call pieces are re-joined into the raw <tool_call> text, as LLM streams it
    assert deltas[2] == '\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    assert scripted.seen[0]["json"]["stream"] is True


def test_reasoning_content_and_enable_thinking(scripted):
    from tinyqwen.chat_template_qwen3 import parse_reasoning

    body = _chat_body("42")
    body["choices"][0]["message"]["reasoning_content"] = "6 x 7"
    scripted.add("/v1/chat/completions", 200, body)
    m = OpenAIChatModel(scripted.url, "m")
    reply = m.chat([{"role": "user", "content": "?"}], enable_thinking=True)
    assert reply == {"role": "assistant", "content": "42", "reasoning_content": "6 x 7"}
    assert scripted.seen[-1]["json"]["chat_template_kwargs"] == {"enable_thinking": True}
    m.chat([{"role": "user", "content": "?"}])
    assert "chat_template_kwargs" not in scripted.seen[-1]["json"]
    # streamed reasoning deltas (vLLM's field names, old and new) come back as a <think> block
    events = [
        'data: {"choices": [{"index": 0, "delta": {"reasoning_content": "6 x"}}]}',
        'data: {"choices": [{"index": 0, "delta": {"reasoning": " 7"}}]}',
        'data: {"choices": [{"index": 0, "delta": {"content": "42"}}]}',
        "data: [DONE]",
    ]
    body = "".join(e + "\n\n" for e in events).encode()
    scripted.answers["/v1/chat/completions"] = []
    scripted.add("/v1/chat/completions", 200, body, {"Content-Type": "text/event-stream"})
    text = "".join(m.stream_chat([{"role": "user", "content": "?"}], enable_thinking=False))
    assert text == "<think>\n6 x 7\n</think>\n\n42"
    assert parse_reasoning(text) == ("6 x 7", "42")
    assert scripted.seen[-1]["json"]["chat_template_kwargs"] == {"enable_thinking": False}


def test_loglikelihood_from_legacy_logprobs(scripted):
    # prompt "The cat" + " sat": echoed tokens "The"," cat"," sat", then 1 generated token "."
    choice = {
        "index": 0,
        "text": "The cat sat.",
        "logprobs": {
            "tokens": ["The", " cat", " sat", "."],
            "token_logprobs": [None, -2.0, -0.5, -0.1],
            "top_logprobs": [None, {" dog": -1.0}, {" sat": -0.5}, {".": -0.1}],
            "text_offset": [0, 3, 7, 11],
        },
    }
    scripted.add("/v1/completions", 200, {"choices": [choice, choice | {"index": 1}]})
    m = OpenAIChatModel(scripted.url, "m")
    out = m.loglikelihood([("The cat", " sat"), ("The", " cat sat")])
    assert out == [(-0.5, True), (-2.5, False)]  # " cat" is not the argmax (" dog" is)
    sent = scripted.seen[0]["json"]
    assert sent["echo"] is True and sent["logprobs"] == 1 and sent["max_tokens"] == 1
    assert sent["prompt"] == ["The cat sat", "The cat sat"]


def test_loglikelihood_unsupported_backend(scripted):
    scripted.add("/v1/completions", 404, {"error": {"message": "not found"}})
    m = OpenAIChatModel(scripted.url, "m")
    with pytest.raises(NotImplementedError, match="not supported by this backend"):
        m.loglikelihood([("a", "b")])


def test_count_tokens_is_a_documented_approximation():
    assert approx_token_count("你好世界") == 4
    assert approx_token_count("hello world!") == 3  # 12 chars / 4
    assert approx_token_count("") == 0
    with pytest.raises(TypeError, match="unknown sampling"):
        OpenAIChatModel("http://127.0.0.1:9/v1", "m").chat([], max_tokens=3)


# ---------------------------------------------------------------------------------------- part 2
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")

import torch  # noqa: E402
from conftest import make_hf_checkpoint  # noqa: E402

import tinyqwen  # noqa: E402
from tinyqwen.sampling import Sampling  # noqa: E402
from tinyqwen.serve import serve_in_background  # noqa: E402
from tinyqwen.tiny_random import load_tiny_random  # noqa: E402

CONVERSATIONS = [
    [{"role": "user", "content": "你好，请介绍一下你自己。"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "The quick brown fox"},
    ],
    [
        {"role": "user", "content": "def add(a, b):"},
        {"role": "assistant", "content": "return a + b"},
        {"role": "user", "content": "再来一个 1 2 3"},
    ],
]
PROMPTS = ["你好，世界", "The quick brown fox", "def add(a, b):\n    return", "1 2 3 4 5 6 7 8"]
N_NEW = 24


@pytest.fixture(scope="module", params=["tiny-random", "hf-checkpoint"])
def served(request, tmp_path_factory):
    """(LLM, base URL) with the server running on a free loopback port."""
    tiny = load_tiny_random()
    if request.param == "tiny-random":
        llm = tiny
    else:  # a transformers-made random Qwen2 (context 256) with the tiny-random tokenizer
        path = tmp_path_factory.mktemp("hf-qwen2")
        make_hf_checkpoint(
            path,
            vocab_size=(tiny.tokenizer.vocab_size + 63) // 64 * 64,
            tie_word_embeddings=False,
            bos_token_id=None,
            eos_token_id=tiny.tokenizer.eos_token_id,
        )
        tiny.tokenizer.save_pretrained(path)
        # fp32: these tests compare served results with in-process ones to 1e-5 (bf16 batching differs)
        llm = tinyqwen.LLM.from_pretrained(str(path), dtype=torch.float32)
    with serve_in_background(llm) as url:
        yield llm, url


def _openai(url: str):
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


def test_greedy_chat_parity_both_clients_stream_and_not(served):
    llm, url = served
    ours = OpenAIChatModel(url)
    assert ours.name == llm.name and ours.context_length == llm.context_length
    client = _openai(url)
    for msgs in CONVERSATIONS:
        want = llm.chat(msgs, max_new_tokens=N_NEW)
        assert set(want) == {"role", "content"}  # a random model: no tool call expected
        assert ours.chat(msgs, max_new_tokens=N_NEW) == want
        assert "".join(ours.stream_chat(msgs, max_new_tokens=N_NEW)) == want["content"]
        r = client.chat.completions.create(
            model=llm.name, messages=msgs, max_tokens=N_NEW, temperature=0
        )
        assert r.choices[0].message.content == want["content"]
        assert r.usage.prompt_tokens == len(llm.encode_chat(msgs))
        stream = client.chat.completions.create(
            model=llm.name, messages=msgs, max_tokens=N_NEW, temperature=0, stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream) == want["content"]


def test_greedy_completions_and_stop_parity(served):
    llm, url = served
    ours = OpenAIChatModel(url)
    want = llm.complete(PROMPTS, max_new_tokens=N_NEW)
    assert ours.complete(PROMPTS, max_new_tokens=N_NEW) == want
    assert ours.complete(PROMPTS[1], max_new_tokens=N_NEW) == llm.complete(
        PROMPTS[1], max_new_tokens=N_NEW
    )
    r = _openai(url).completions.create(
        model=llm.name, prompt=PROMPTS, max_tokens=N_NEW, temperature=0
    )
    assert [c.text for c in sorted(r.choices, key=lambda c: c.index)] == want
    # a stop string taken from the middle of the greedy output cuts both the same way
    text = max(want, key=lambda t: len(set(t)))
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    prompt = PROMPTS[want.index(text)]
    cut = llm.complete(prompt, max_new_tokens=N_NEW, stop=[stop])
    assert stop not in cut and len(cut) < len(text)
    assert ours.complete(prompt, max_new_tokens=N_NEW, stop=[stop]) == cut
    # both backends stream raw completions with the same signature and the same joined text
    for model in (llm, ours):
        assert "stream" in model.capabilities
        assert "".join(model.stream_complete(prompt, max_new_tokens=N_NEW, stop=[stop])) == cut


def test_local_usage_and_finish_reason_are_token_exact(served):
    """A local model generates from the ids the server counted, so usage and finish_reason come
    from the generated ids (a random model's text re-tokenises to other counts)."""
    llm, url = served
    client = _openai(url)
    for msgs in CONVERSATIONS:
        ids = llm.encode_chat(msgs)
        (full,) = llm.generate_ids([ids], Sampling(max_new_tokens=N_NEW))
        stop = full.text[len(full.text) // 2 :][:2]  # a stop string in the middle of the output
        (want,) = llm.generate_ids([ids], Sampling(max_new_tokens=N_NEW, stop=(stop,)))
        assert want.finish_reason == "stop" and len(want.token_ids) < N_NEW
        r = client.chat.completions.create(
            model=llm.name, messages=msgs, max_tokens=N_NEW, temperature=0, stop=[stop]
        )
        assert r.choices[0].message.content == want.text
        assert r.usage.completion_tokens == len(want.token_ids)
        assert r.choices[0].finish_reason == "stop"
    # token-id prompts are fed as given, not decoded and re-encoded
    ids = llm.encode(PROMPTS[1])
    (want,) = llm.generate_ids([ids], Sampling(max_new_tokens=N_NEW))
    r = client.completions.create(model=llm.name, prompt=ids, max_tokens=N_NEW, temperature=0)
    assert r.choices[0].text == want.text and r.choices[0].finish_reason == want.finish_reason
    assert r.usage.completion_tokens == len(want.token_ids) and r.usage.prompt_tokens == len(ids)


def test_loglikelihood_and_echo_logprobs_parity(served):
    llm, url = served
    greedy = llm.complete("The quick brown", max_new_tokens=3)
    pairs = [
        ("The quick brown", " fox jumps"),
        ("The cat ", "sat on the mat"),  # lm-eval moves the trailing space to the continuation
        ("你好", "，世界"),  # byte-level tokens inside multi-byte characters
        ("The quick brown", greedy),
        ("1 2 3", " 4 5 6"),
    ]
    want = llm.loglikelihood(pairs)
    got = OpenAIChatModel(url).loglikelihood(pairs)
    for (lp_w, g_w), (lp_g, g_g) in zip(want, got):
        assert abs(lp_w - lp_g) <= 1e-4 and g_w == g_g
    # the official client sees the legacy logprobs layout, one entry per prompt token
    text = "".join(pairs[0])
    r = _openai(url).completions.create(
        model=llm.name, prompt=text, echo=True, logprobs=2, max_tokens=0, temperature=0
    )
    lp = r.choices[0].logprobs
    n = len(llm.encode(text))
    assert r.choices[0].text == text and len(lp.tokens) == len(lp.token_logprobs) == n
    assert lp.token_logprobs[0] is None and all(len(t) == 2 for t in lp.top_logprobs[1:])
    assert "".join(lp.tokens) == text and lp.text_offset[0] == 0


def test_completion_logprobs_are_token_exact(served):
    llm, url = served
    client = _openai(url)
    prompt = PROMPTS[1]
    n_prompt = len(llm.encode(prompt))
    # lm-evaluation-harness's request: echo, max_tokens=1, then token_logprobs[ctxlen:-1]
    r = client.completions.create(
        model=llm.name, prompt=prompt, echo=True, logprobs=1, max_tokens=1, temperature=0
    )
    lp = r.choices[0].logprobs
    assert len(lp.token_logprobs) == n_prompt + 1  # exactly one generated token
    assert r.choices[0].text == prompt + llm.complete(prompt, max_new_tokens=1)
    # without echo: the generated tokens only; greedy, so each is its position's argmax
    r = client.completions.create(
        model=llm.name, prompt=prompt, logprobs=3, max_tokens=6, temperature=0
    )
    choice = r.choices[0]
    assert choice.text == llm.complete(prompt, max_new_tokens=6)
    assert len(choice.logprobs.tokens) == r.usage.completion_tokens <= 6
    assert choice.logprobs.text_offset[0] == 0
    for value, top in zip(choice.logprobs.token_logprobs, choice.logprobs.top_logprobs):
        assert len(top) == 3 and abs(value - max(top.values())) < 1e-5
    # token-id prompts (what lm-eval sends when it tokenises itself) score the same ids
    ids = llm.encode(prompt)
    r2 = client.completions.create(
        model=llm.name, prompt=ids, echo=True, logprobs=1, max_tokens=0, temperature=0
    )
    assert r2.choices[0].logprobs.token_logprobs == lp.token_logprobs[:n_prompt]


def test_embeddings_parity(served):
    llm, url = served
    texts = ["你好", "The quick brown fox", "1 2 3"]
    for pooling in ("last", "mean"):
        want = llm.embed(texts, pooling=pooling)
        np.testing.assert_allclose(OpenAIChatModel(url).embed(texts, pooling), want, atol=1e-6)
    e = _openai(url).embeddings.create(model=llm.name, input=texts)  # base64 on the wire
    got = np.asarray([d.embedding for d in e.data], dtype=np.float32)
    np.testing.assert_allclose(got, llm.embed(texts), atol=1e-6)


def test_eight_concurrent_clients_match_sequential(served):
    import concurrent.futures

    import requests

    llm, url = served
    convs = [[{"role": "user", "content": f"第 {i} 个问题: {PROMPTS[i % 4]}"}] for i in range(8)]
    want = [llm.chat(c, max_new_tokens=N_NEW) for c in convs]  # one by one, no server

    def one_client(i: int):
        if i % 2:  # half our client, half the official one
            return OpenAIChatModel(url).chat(convs[i], max_new_tokens=N_NEW)
        r = _openai(url).chat.completions.create(
            model=llm.name, messages=convs[i], max_tokens=N_NEW, temperature=0
        )
        return {"role": "assistant", "content": r.choices[0].message.content}

    before = requests.get(url.removesuffix("/v1") + "/health", timeout=10).json()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one_client, range(8)))
    assert got == want
    after = requests.get(url.removesuffix("/v1") + "/health", timeout=10).json()
    # the 8 requests cost fewer model calls than 8 when the worker batched some of them
    assert after["model_calls"] - before["model_calls"] <= 8


def test_context_bounds_with_a_real_tokenizer(served):
    llm, url = served
    if llm.name == "tiny-random":
        pytest.skip("context 2048: filling it would take long; the checkpoint has 256")
    client = _openai(url)
    too_long = [{"role": "user", "content": "字" * (llm.context_length + 10)}]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=llm.name, messages=too_long, max_tokens=4)
    assert e.value.code == "context_length_exceeded"
    msgs = CONVERSATIONS[0]
    r = client.chat.completions.create(
        model=llm.name, messages=msgs, max_tokens=10**6, temperature=0
    )
    n_prompt = len(llm.encode_chat(msgs))
    assert r.usage.prompt_tokens == n_prompt
    # max_tokens was cut to the room left in the context: the same text as asking for exactly that
    room = llm.context_length - n_prompt
    assert r.choices[0].message.content == llm.chat(msgs, max_new_tokens=room)["content"]
