"""torchrun with 2 CPU processes (gloo) gives the same losses as 1 process with the same global batch.

Pretraining and LoRA SFT (padded batches) are both checked.

One process: micro-batch 4. Two processes: micro-batch 2 each; rank r takes blocks r, r+2, ... of every
global batch, DDP averages the gradients. Only the float summation order differs, so we require every
train loss, the val loss and every final weight to agree within 1e-5 absolute (measured: ~1e-7).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from training_fixtures import tokenizer, toy_config_file, toy_corpus  # noqa: F401

from qwen_blog import pretrain


def _log(run) -> list[dict]:
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def test_two_process_gloo_matches_one_process(tmp_path, toy_config_file, toy_corpus, tokenizer):  # noqa: F811
    common = ["--config", str(toy_config_file), "--max-steps", "4", "--save-every", "4", "--device", "cpu",
              "--no-progress"]  # fmt: skip
    one = tmp_path / "one"
    pretrain.main(
        [*common, "--data", str(toy_corpus), "--out", str(one), "--micro-batch-size", "4"]
    )

    two = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "qwen_blog", "pretrain", *common, "--data", str(one / "data"), "--out", str(two),
           "--micro-batch-size", "2"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world size 2" in proc.stderr

    a, b = _log(one), _log(two)
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert [r["tokens"] for r in a] == [r["tokens"] for r in b]  # same global batch size
    for ra, rb in zip(a, b):
        assert abs(ra["loss"] - rb["loss"]) <= 1e-5, (ra, rb)
    assert abs(a[-1]["val_loss"] - b[-1]["val_loss"]) <= 1e-5
    from safetensors.torch import load_file

    wa = load_file(one / "step-000004" / "model.safetensors")
    wb = load_file(two / "step-000004" / "model.safetensors")
    worst = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    assert worst <= 1e-5, worst
    state = torch.load(two / "step-000004" / "trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2  # every rank's RNG is saved


def test_two_process_lora_sft_matches_one_process(tmp_path, toy_config_file, toy_corpus):  # noqa: F811
    """SFT batches are right-padded and hold different numbers of target tokens per rank; normalising
    by the all-reduced global target count keeps the two-process loss equal to the one-process loss."""
    from qwen_blog import corpus, sft

    base = tmp_path / "base"
    pretrain.main(["--config", str(toy_config_file), "--data", str(toy_corpus), "--out", str(base),
                   "--max-steps", "2", "--device", "cpu", "--no-progress"])  # fmt: skip
    chats = corpus.write_sft_corpus(tmp_path / "chats.jsonl", n=48, seed=3)
    common = ["--base", str(base), "--data", str(chats), "--lora", "--lora-dropout", "0", "--max-steps", "3",
              "--eval-every", "3", "--device", "cpu", "--no-progress"]  # fmt: skip
    sft.main([*common, "--out", str(tmp_path / "one"), "--micro-batch-size", "4"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "qwen_blog", "sft", *common, "--out", str(tmp_path / "two"), "--micro-batch-size", "2"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _log(tmp_path / "one"), _log(tmp_path / "two")
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b):
        assert ra["tokens"] == rb["tokens"]
        assert abs(ra["loss"] - rb["loss"]) <= 1e-5, (ra, rb)
    assert abs(a[-1]["val_loss"] - b[-1]["val_loss"]) <= 1e-5
