"""The shipped ``tiny-universe`` checkpoint: small, loadable by connect/CLI/transformers, and it does its
job on a few held-out conversations (greedy, fp32 -- the way its metrics were measured)."""

import json
import subprocess
import sys

import pytest
import torch

import tinyqwen
from tinyqwen.tiny_universe import ASSET_DIR, NAME

pytestmark = pytest.mark.skipif(
    not (ASSET_DIR / "model.safetensors").is_file(),
    reason=f"no tiny-universe weights at {ASSET_DIR} (installed without assets)",
)


def _heldout() -> list[dict]:
    lines = (ASSET_DIR / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def test_shipped_files_are_small_fp16_and_described():
    weights = ASSET_DIR / "model.safetensors"
    assert weights.stat().st_size <= 10 * 2**20  # the budget: ~10 MB
    cfg = json.loads((ASSET_DIR / "config.json").read_text(encoding="utf-8"))
    assert cfg["torch_dtype"] == "float16" and cfg["model_type"] == "qwen2"
    recipe = json.loads((ASSET_DIR / "recipe.json").read_text(encoding="utf-8"))
    assert recipe["preset"]["model"]["hidden_size"] == cfg["hidden_size"]
    metrics = json.loads((ASSET_DIR / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["metrics"]) >= {"format_valid", "agent_success", "qa_exact", "refusal_acc"}


def test_connect_loads_it_in_fp32_with_its_name():
    llm = tinyqwen.connect(NAME)
    assert llm.name == NAME and llm.model.dtype == torch.float32
    assert llm is tinyqwen.connect(NAME)  # loaded once per process


def test_logits_equal_transformers_on_the_shipped_checkpoint():
    transformers = pytest.importorskip("transformers")
    llm = tinyqwen.connect(NAME)
    ids = torch.tensor([llm.tokenizer.encode("青石镇的人口是5234。What is 12 plus 5?")])
    ref = transformers.AutoModelForCausalLM.from_pretrained(ASSET_DIR, torch_dtype=torch.float32)
    with torch.no_grad():
        ours = llm.model(ids)
        ours = ours if isinstance(ours, torch.Tensor) else ours.logits
        theirs = ref(ids).logits
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)


def _recorded() -> list[dict]:
    return json.loads((ASSET_DIR / "metrics.json").read_text(encoding="utf-8"))["items"]


def test_calculator_calls_reproduce_the_recorded_ones():
    """Greedy, the first 10 qwen-protocol calculator questions of the held-out split, sent straight
    through ``LLM.chat(tools=...)`` (the prompt tinyagent's qwen protocol sends): whether each call
    is right is exactly what metrics.json recorded for it, and the model is far from random (a
    random model writes no right expression)."""
    llm = tinyqwen.connect(NAME)
    held, rec = _heldout(), _recorded()
    idx = [i for i, c in enumerate(held) if c["task"] == "calc_qwen"][:10]
    right = []
    for i in idx:
        c = held[i]
        reply = llm.chat(c["messages"][:1], tools=c["tools"], max_new_tokens=96)
        calls = reply.get("tool_calls") or []
        ok = False
        if calls and calls[0]["function"]["name"] == "calculator":
            expr = str(json.loads(calls[0]["function"]["arguments"]).get("expression", ""))
            ok = expr.replace(" ", "") == c["expression"].replace(" ", "")
        right.append(ok)
        assert ok == rec[i]["call_correct"] or not ok and rec[i]["call_correct"] is None, c[
            "question"
        ]
    assert sum(right) >= 2, right


def test_grounded_answers_reproduce_the_recorded_ones():
    """The first 10 rag/refuse items, tinyrag's prompt as is: the reply is the recorded one."""
    llm = tinyqwen.connect(NAME)
    held, rec = _heldout(), _recorded()
    idx = [i for i, c in enumerate(held) if c["task"] in ("rag", "refuse")][:10]
    for i in idx:
        reply = llm.chat(held[i]["messages"][:-1], max_new_tokens=96)
        assert (reply.get("content") or "") == rec[i]["answer"], held[i]["messages"][1]["content"]


def test_cli_info_and_generate_accept_the_spec():
    r = subprocess.run([sys.executable, "-m", "tinyqwen", "info", NAME],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "float16" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tinyqwen", "generate", "--model", NAME,
                        "--max-new-tokens", "24", "你好"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and "gibberish" not in r.stderr
