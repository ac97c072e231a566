"""``LLM`` on Qwen3 checkpoints: the template is picked from tokenizer_config.json, ``enable_thinking``
reaches the prompt, and replies separate ``reasoning_content`` from ``content``.

The checkpoint is a random ``transformers.Qwen3ForCausalLM`` with the tiny-random tokenizer saved next
to it; its tokenizer_config.json gets a chat template that mentions ``enable_thinking`` (what makes
tinyqwen recognise Qwen3's; the real template is tested byte for byte in test_chat_template_qwen3.py).
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_hf_checkpoint

from tinyqwen.chat_formats import detect_chat_format
from tinyqwen.chat_template import render_chat
from tinyqwen.chat_template_qwen3 import ReasoningStream, render_qwen3_chat
from tinyqwen.llm import LLM
from tinyqwen.tiny_random import load_tiny_random

QWEN3_LIKE_TEMPLATE = (
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好"}]


def _with_template(path, template: str | None) -> None:
    config_file = path / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("chat_template", None)
    if template is not None:
        config["chat_template"] = template
    config_file.write_text(json.dumps(config))
    (path / "chat_template.jinja").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tiny = load_tiny_random()
    path = tmp_path_factory.mktemp("hf-qwen3")
    _, hf = make_hf_checkpoint(
        path,
        model_type="qwen3",
        vocab_size=(tiny.tokenizer.vocab_size + 63) // 64 * 64,
        head_dim=32,
        eos_token_id=tiny.tokenizer.eos_token_id,
    )
    tiny.tokenizer.save_pretrained(path)
    _with_template(path, QWEN3_LIKE_TEMPLATE)
    return path, hf


@pytest.fixture(scope="module")
def llm(checkpoint) -> LLM:
    return LLM.from_pretrained(checkpoint[0], dtype=torch.float32)


def test_the_qwen3_template_is_picked_from_tokenizer_config(llm):
    assert llm.chat_format == "qwen3"
    assert llm.model.config.model_type == "qwen3"


def test_template_choice_follows_the_checkpoint(tmp_path):
    tiny = load_tiny_random()
    tiny.tokenizer.save_pretrained(tmp_path)
    make_hf_checkpoint(tmp_path, vocab_size=(tiny.tokenizer.vocab_size + 63) // 64 * 64)
    for template, want in [
        (None, "qwen2.5"),
        (
            "{{ 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}<|im_start|>",
            "qwen2.5",
        ),
        ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}{% endfor %}", "chatml"),
        (QWEN3_LIKE_TEMPLATE, "qwen3"),
    ]:
        _with_template(tmp_path, template)
        llm = LLM.from_pretrained(tmp_path, dtype=torch.float32)
        assert llm.chat_format == want == detect_chat_format(template)
    chatml = LLM(llm.model, llm.tokenizer, chat_format="chatml")
    ids = chatml.encode_chat([{"role": "user", "content": "hi"}])
    assert chatml.tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(ValueError, match="no tool support"):
        chatml.encode_chat([{"role": "user", "content": "hi"}], tools=[{"name": "f"}])


@pytest.mark.parametrize("thinking", [None, True, False])
def test_enable_thinking_reaches_the_prompt(llm, thinking):
    ids = llm.encode_chat(MESSAGES, enable_thinking=thinking)
    text = render_qwen3_chat(MESSAGES, enable_thinking=thinking)
    assert ids == llm.tokenizer.encode(text, allowed_special="all")
    assert text.endswith("</think>\n\n") == (thinking is False)
    assert "You are Qwen" not in text  # Qwen3 has no default system prompt


def test_greedy_chat_equals_transformers_generate(llm, checkpoint):
    _, hf = checkpoint
    prompt = llm.encode_chat(MESSAGES, enable_thinking=False)
    out = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, pad_token_id=0)
    want = llm.tokenizer.decode(out[0, len(prompt) :].tolist())
    reply = llm.chat(MESSAGES, enable_thinking=False, max_new_tokens=12, temperature=0)
    assert reply["content"] == want.lstrip("\n") and "reasoning_content" not in reply
    streamed = "".join(
        llm.stream_chat(MESSAGES, enable_thinking=False, max_new_tokens=12, temperature=0)
    )
    assert streamed == want


def test_reply_separates_reasoning_from_content_and_tool_calls(llm, monkeypatch):
    raw = '<think>\n先查天气\n</think>\n\n好的。\n<tool_call>\n{"name": "w", "arguments": {"c": 1}}\n</tool_call>'
    from tinyqwen.text_generation import Completion

    monkeypatch.setattr(llm, "generate_ids", lambda *a, **k: [Completion(raw, [], "stop")])
    reply = llm.chat(MESSAGES, max_new_tokens=5)
    assert reply["reasoning_content"] == "先查天气"
    assert reply["content"] == "好的。"
    assert reply["tool_calls"][0]["function"] == {"name": "w", "arguments": '{"c": 1}'}
    # thinking switched off: a literal "<think>" the model writes is content
    assert llm.chat(MESSAGES, enable_thinking=False, max_new_tokens=5)["content"].startswith(
        "<think>"
    )
    # the reply goes back into the history: the next prompt drops that (earlier-turn) thought
    history = [*MESSAGES, reply, {"role": "user", "content": "谢谢"}]
    assert "先查天气" not in render_qwen3_chat(history)
    # streaming: ReasoningStream splits the raw deltas the same way
    stream = ReasoningStream()
    parts = [p for ch in raw for p in stream.push(ch)] + stream.finish()
    assert "".join(t for k, t in parts if k == "reasoning") == "先查天气"


def test_qwen25_checkpoints_are_unchanged():
    tiny = load_tiny_random()
    assert tiny.chat_format == "qwen2.5"
    msgs = [{"role": "user", "content": "hi"}]
    assert tiny.encode_chat(msgs) == tiny.tokenizer.encode(render_chat(msgs), allowed_special="all")


def test_cli_chat_thinking_off(checkpoint, monkeypatch, capsys):
    import io
    import sys

    from tinyqwen import cli

    path, _ = checkpoint
    llm = LLM.from_pretrained(path)  # the CLI's own loading (default dtype)
    want = "".join(
        llm.stream_chat(
            [{"role": "user", "content": "hi"}], enable_thinking=False, max_new_tokens=6
        )
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n/exit\n"))
    assert (
        cli.main(["chat", "--model", str(path), "--thinking", "off", "--max-new-tokens", "6"]) == 0
    )
    assert capsys.readouterr().out == want + "\n"


RAW = "<think>\n先想\n一想\n</think>\n\n答案是 42"


@pytest.fixture
def served(checkpoint, monkeypatch):
    """The real server in front of a Qwen3 LLM whose generation is scripted to RAW (a random model
    never writes <think>); prompts still go through the real template and tokenizer."""
    pytest.importorskip("fastapi")
    from tinyqwen.serve import serve_in_background
    from tinyqwen.text_generation import Completion

    llm = LLM.from_pretrained(checkpoint[0], dtype=torch.float32)
    seen: list[list[int]] = []

    def generate_ids(prompts, sampling, what="prompt"):
        seen.extend(prompts)
        return [Completion(RAW, [], "stop") for _ in prompts]

    def stream_ids(prompt, sampling, what):
        seen.append(prompt)
        return iter([RAW[i : i + 3] for i in range(0, len(RAW), 3)])  # tags cut across deltas

    monkeypatch.setattr(llm, "generate_ids", generate_ids)
    monkeypatch.setattr(llm, "_stream_ids", stream_ids)
    with serve_in_background(llm) as url:
        yield llm, url, seen


def test_server_separates_reasoning_and_passes_enable_thinking(served):
    import requests

    from tinyqwen.openai_client import OpenAIChatModel

    llm, url, seen = served
    user = [{"role": "user", "content": "6 x 7?"}]
    body = {"model": llm.name, "messages": user, "chat_template_kwargs": {"enable_thinking": True}}
    r = requests.post(f"{url}/chat/completions", json=body, timeout=30).json()
    assert "choices" in r, r
    msg = r["choices"][0]["message"]
    assert (msg["reasoning_content"], msg["content"]) == ("先想\n一想", "答案是 42")
    assert seen[-1] == llm.encode_chat(user, enable_thinking=True)
    # streaming: reasoning deltas, then content deltas, as vLLM streams them
    events = []
    with requests.post(
        f"{url}/chat/completions", json=body | {"stream": True}, stream=True, timeout=30
    ) as s:
        for line in s.iter_lines():
            if line.startswith(b"data: {"):
                events.append(json.loads(line[6:])["choices"])
    deltas = [c[0]["delta"] for c in events if c]
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert (reasoning, content) == ("先想\n一想", "答案是 42")
    kinds = [k for d in deltas for k in ("reasoning_content", "content") if d.get(k)]
    assert kinds == sorted(kinds, key=lambda k: k == "content")  # all reasoning first
    # the client: enable_thinking travels as chat_template_kwargs; replies keep the split
    client = OpenAIChatModel(url, llm.name)
    reply = client.chat(user, enable_thinking=False, max_new_tokens=8)
    assert seen[-1] == llm.encode_chat(user, enable_thinking=False)
    assert reply["content"] == RAW  # thinking off: a literal <think> the model wrote is content
    streamed = "".join(client.stream_chat(user, max_new_tokens=8))
    assert streamed == "<think>\n先想\n一想\n</think>\n\n答案是 42"
    # reasoning_content of an earlier turn is accepted (and dropped by the template)
    history = [*user, {"role": "assistant", "content": "42", "reasoning_content": "想"}, *user]
    client.chat(history)
    assert seen[-1] == llm.encode_chat(history)


@pytest.mark.parametrize(
    "kwargs, needle",
    [("yes", "must be an object"), ({"enable_thinking": "no"}, "must be a boolean"),
     ({"tools_in_system": True}, "not supported")],
)  # fmt: skip
def test_bad_chat_template_kwargs_are_400(served, kwargs, needle):
    import requests

    llm, url, _ = served
    body = {"model": llm.name, "messages": MESSAGES, "chat_template_kwargs": kwargs}
    r = requests.post(f"{url}/chat/completions", json=body, timeout=30)
    assert r.status_code == 400 and needle in r.json()["error"]["message"]
