"""The command line: render, demo, ground-truth eval, and the no-terminal interactive exit."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tinyagent import Agent
from tinyagent.cli import build_tools, demo_live, main
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools import sandbox
from tinyagent.tools.sandbox import probe
from tinyqwen.tiny_universe import ASSET_DIR


def test_render_prints_the_exact_first_prompt(capsys):
    assert (
        main(
            [
                "render",
                "--tools",
                "calculator,clock",
                "--protocol",
                "react",
                "--question",
                "几点了？",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    expected = Agent(None, build_tools("calculator,clock"), "react").render("几点了？")
    assert out == expected + "\n"
    assert "Action: the action to take, should be one of [calculator, current_time]" in out
    assert main(["render", "--tools", "calculator", "--protocol", "qwen"]) == 0
    out = capsys.readouterr().out
    assert '<tools>\n{"type": "function", "function": {"name": "calculator"' in out


@pytest.mark.skipif(
    not probe().ok, reason=f"no kernel sandbox for the python tool: {probe().reason}"
)
def test_demo_runs_without_a_model(capsys):
    assert main(["demo", "--scripted-only"]) == 0
    out = capsys.readouterr().out
    assert "  <- 289\n" in out and "  <- 1060\n" in out
    assert out.rstrip().endswith("[answer] 花园面积是 289 平方米；1 到 100 的质数之和是 1060。")


def test_demo_live_checks_the_call_and_the_number(capsys):
    """The real-loop part's check line, on scripted replies: right in qwen, wrong number in react."""
    script = [
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "23 * 47"}}\n</tool_call>',
        "23 * 47 = 1081，答案是 1081。",
        'Thought: I should use the calculator tool.\nAction: calculator\nAction Input: {"expression": '
        '"64 * 35"}\nObservation:',
        " I now know the final answer\nFinal Answer: 64 * 35 = 22400, so the answer is 22400.",
    ]
    demo_live(ScriptedChatModel(script), "scripted")
    out = capsys.readouterr().out
    assert "  -> calculator(" in out and "  <- 1081\n" in out and "  <- 2240\n" in out
    assert "check: called the calculator: yes; final answer contains 1081 (= 23 * 47): yes" in out
    assert "check: called the calculator: yes; final answer contains 2240 (= 64 * 35): no" in out


@pytest.mark.skipif(
    not (ASSET_DIR / "model.safetensors").is_file(),
    reason=f"no tiny-universe weights in {ASSET_DIR}",
)
def test_demo_and_run_use_the_real_loop_on_tiny_universe(capsys):
    """The shipped tiny-universe (greedy, deterministic) gets both demo questions right through the
    real loop -- qwen and react protocols -- and the plain CLI run calls the calculator."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("=== the real loop: tiny-universe, ") == 2
    checks = re.findall(
        r"^check: called the calculator: (yes|no); final answer .*: (yes|no)$", out, re.M
    )
    assert checks == [("yes", "yes"), ("yes", "yes")], checks
    code = main(["23乘以47等于多少？", "--model", "tiny-universe", "--tools", "calculator,clock",
                 "--max-steps", "3", "--max-new-tokens", "64"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and 'calculator({"expression": "23 * 47"})' in out
    assert re.search(r"\[answer\] .*1081", out) and "[stopped] " not in out


def test_eval_ground_truth_self_test(capsys, acebench_dir):
    code = main(
        [
            "eval",
            "--data",
            str(acebench_dir),
            "--categories",
            "normal_single_turn_parallel_function",
            "--ground-truth",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("ground truth as predictions: 100/100 valid")


def test_unknown_tool_and_bad_category(capsys):
    with pytest.raises(SystemExit, match="unknown tool 'shell'"):
        main(["render", "--tools", "shell"])
    assert main(["eval", "--categories", "agent_multi_step", "--ground-truth"]) == 2
    assert "unsupported category" in capsys.readouterr().err


def test_interactive_without_a_terminal_exits_clearly():
    r = subprocess.run(
        [sys.executable, "-m", "tinyagent", "--model", "tiny-random"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "stdin is not a terminal" in r.stderr and 'python -m tinyagent "' in r.stderr


def test_bad_model_spec_says_how_to_get_one(capsys):
    with pytest.raises(SystemExit) as e:
        main(["2+2?", "--model", "/no/such/dir", "--tools", "calculator"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "cannot use --model '/no/such/dir'" in err
    assert (
        "tinyqwen download Qwen/Qwen2.5-0.5B-Instruct" in err and "http://127.0.0.1:8000/v1" in err
    )


def test_sandbox_command_reports_and_fails_closed(capsys, monkeypatch):
    ok = probe().ok
    assert main(["sandbox"]) == (0 if ok else 1)
    out = capsys.readouterr().out
    assert f"sandbox: {ok}" in out and ("pid_namespace: True" in out or not ok)
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    sandbox.probe.cache_clear()
    try:
        assert main(["sandbox"]) == 1
        captured = capsys.readouterr()
        assert "sandbox: False" in captured.out
        assert "error: the python tool will refuse to run code" in captured.err
        unsafe = build_tools("python", unsafe_python=True)[0]
        assert unsafe.fn(code="print(2 + 2)") == "4"
        assert "WITHOUT isolation" in capsys.readouterr().err
    finally:
        sandbox.probe.cache_clear()


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for sub in ("render", "demo", "eval", "bfcl", "sop", "sandbox"):
        assert f"\n  {sub} " in out


def test_eval_prints_the_backend_error_cause(tmp_path, capsys):
    # one generated ACEBench example whose prompt is longer than tiny-random's context
    cat = "normal_single_turn_single_function"
    func = {
        "name": "f",
        "description": "word " * 3000,
        "parameters": {
            "type": "object",
            "properties": {"x": {"type": "string"}},
            "required": ["x"],
        },
    }
    (tmp_path / "possible_answer").mkdir()
    q = {"id": f"{cat}_0", "question": "user: 调用 f", "function": [func]}
    (tmp_path / f"data_{cat}.json").write_text(json.dumps(q) + "\n")
    gt = {"id": f"{cat}_0", "ground_truth": {"f": {"x": "a"}}}
    (tmp_path / "possible_answer" / f"data_{cat}.json").write_text(json.dumps(gt) + "\n")
    rc = main(["eval", "--data", str(tmp_path), "--categories", cat, "--max-new-tokens", "4"])
    out = capsys.readouterr().out
    assert rc == 0 and "'backend_error': 1" in out
    assert "first backend_error: ValueError: conversation 0 has" in out and "context" in out
