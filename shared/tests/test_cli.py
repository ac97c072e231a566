"""The ``tinyqwen`` CLI: ``python -m tinyqwen`` in a subprocess for info / generate / verify / chat
with stdin closed (what users type), the rest through ``cli.main`` in-process (faster).

Outputs are checked against the library called directly in this process.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import types

import pytest
from conftest import make_hf_checkpoint

from tinyqwen import cli
from tinyqwen.llm import LLM
from tinyqwen.tiny_random import TINY_RANDOM_NOTICE, load_tiny_random

# one thread: the models are tiny and the test machine is shared
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}


def run(*args: str, stdin: str | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyqwen", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=ENV,
        timeout=300,
        **kw,
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-ckpt")
    tokenizer = load_tiny_random().tokenizer
    _, hf = make_hf_checkpoint(
        path, vocab_size=tokenizer.vocab_size, eos_token_id=tokenizer.eos_token_id
    )
    tokenizer.save_pretrained(path)
    return path, hf


def test_info_on_a_checkpoint(checkpoint):
    path, hf = checkpoint
    out = run("info", str(path))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"{hf.num_parameters():,}" in text  # counted from the safetensors headers
    assert "heads (q / kv) x dim" in text and "4 / 2 x 16" in text
    assert "F32" in text and "'<|im_end|>'" in text


def test_info_counts_sharded_checkpoints(checkpoint, tmp_path, capsys):
    _, hf = checkpoint
    hf.save_pretrained(tmp_path, max_shard_size="100KB")
    load_tiny_random().tokenizer.save_pretrained(tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) > 1
    assert cli.main(["info", str(tmp_path)]) == 0
    assert f"{hf.num_parameters():,}" in capsys.readouterr().out


def test_info_tiny_random_is_labelled(capsys):
    assert cli.main(["info", "tiny-random"]) == 0
    out = capsys.readouterr()
    n = sum(p.numel() for p in load_tiny_random().model.parameters())
    assert f"{n:,}" in out.out and TINY_RANDOM_NOTICE in out.err


def test_generate_tiny_random_matches_the_library():
    out = run("generate", "--model", "tiny-random", "你好", "--max-new-tokens", "12")
    assert out.returncode == 0, out.stderr
    assert out.stdout == load_tiny_random().complete("你好", max_new_tokens=12) + "\n"
    assert TINY_RANDOM_NOTICE in out.stderr


def test_generate_chat_stream_from_stdin_on_a_checkpoint(checkpoint, monkeypatch, capsys):
    path, _ = checkpoint
    # the CLI loads with the default dtype (bf16 on CPUs with native bf16): compare like with like
    llm = LLM.from_pretrained(path)
    expected = llm.chat([{"role": "user", "content": "讲个笑话"}], max_new_tokens=16)["content"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("讲个笑话"))
    argv = ["generate", "--model", str(path), "--chat", "--stream", "--max-new-tokens", "16", "-"]
    assert cli.main(argv) == 0
    out = capsys.readouterr()
    assert out.out == expected + "\n" and TINY_RANDOM_NOTICE not in out.err


def test_chat_session_with_reset_and_exit(monkeypatch, capsys):
    llm = load_tiny_random()
    first = llm.chat([{"role": "user", "content": "hi"}], max_new_tokens=8)["content"]
    # after /reset the history is empty again, so the second answer is a first-turn answer
    second = llm.chat([{"role": "user", "content": "你好"}], max_new_tokens=8)["content"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n/reset\n\n你好\n/exit\nnever sent\n"))
    assert cli.main(["chat", "--max-new-tokens", "8"]) == 0
    out = capsys.readouterr()
    assert out.out == f"{first}\n{second}\n"
    assert "(history cleared)" in out.err


def test_chat_with_stdin_closed_exits_cleanly():
    proc = subprocess.run(
        [sys.executable, "-m", "tinyqwen", "chat"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout == ""


def test_verify_agrees_on_a_transformers_checkpoint(checkpoint):
    path, _ = checkpoint
    out = run("verify", str(path), "--max-new-tokens", "8")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "-> OK" in out.stdout and "DIFFER" not in out.stdout
    diff = float(out.stdout.split("max |logit diff| = ")[1].split()[0])
    assert diff <= 1e-4
    assert re.search(
        r"on this CPU: dtype='auto' -> (float32|bfloat16) \(probe matvec fp32 [\d.]+ ms", out.stdout
    )


def test_verify_fails_when_the_model_is_changed(checkpoint, monkeypatch, capsys):
    from tinyqwen import model as model_module

    path, _ = checkpoint
    original = model_module.Qwen2RMSNorm.forward
    monkeypatch.setattr(  # a "modified model": the final norm is off by 5 %
        model_module.Qwen2RMSNorm, "forward", lambda self, x: original(self, x) * 1.05
    )
    assert cli.main(["verify", str(path), "--max-new-tokens", "4"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_bad_model_spec_is_a_usage_error(capsys):
    assert cli.main(["generate", "--model", "/no/such/model", "hi"]) == 2
    err = capsys.readouterr().err
    assert "'/no/such/model'" in err and "tiny-random" in err


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--temperature", "nan"], "temperature"),
        (["--top-p", "inf"], "top_p"),
        (["--repetition-penalty", "0"], "repetition_penalty"),
        (["--seed", str(2**64)], "seed"),
        (["--max-new-tokens", "-1"], "max_new_tokens"),
    ],
)
def test_bad_sampling_flag_is_a_one_line_error(flags, field, capsys):
    assert cli.main(["generate", "--model", "tiny-random", *flags, "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field} ") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["serve", "download"])
def test_serve_and_download_are_dispatched(command, monkeypatch):
    seen = []
    module = {"serve": "tinyqwen.serve", "download": "tinyqwen.download"}[command]
    fake = types.ModuleType(module)
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, module, fake)
    assert cli.main([command, "--model", "tiny-random", "--port", "0"]) == 0
    assert seen == [["--model", "tiny-random", "--port", "0"]]
