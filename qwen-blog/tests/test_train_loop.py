"""The training loop: it learns, it resumes exactly, it accumulates exactly, and transformers loads the result.

Stated margins/tolerances (fp32, CPU):
- fixed batch, 30 AdamW steps: loss falls from ~ln(V) to below 40% of its first value;
- stop-and-resume: the resumed loss sequence equals the uninterrupted one within 1e-6 (exact in practice);
- micro-batch 4 x accum 1 vs micro-batch 2 x accum 2: losses within 1e-5; gradient checkpointing: 1e-6;
- transformers on our checkpoint: logits within 1e-5 of tinyqwen's (measured 0.0 on CPU).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from training_fixtures import TOY_MODEL, tokenizer, toy_config_file, toy_corpus  # noqa: F401

from qwen_blog import corpus, pretrain, sft
from qwen_blog.distributed import DistInfo
from qwen_blog.trainer import TrainArgs, train


def _losses(run_dir) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_loss_falls_on_a_fixed_batch(tmp_path, tokenizer):  # noqa: F811
    from tinyqwen import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config.from_dict(
        {**TOY_MODEL, "vocab_size": tokenizer.vocab_size, "max_position_embeddings": 64}
    )
    model = Qwen2ForCausalLM(cfg).train()
    ids = torch.tensor(
        tokenizer.encode("小明有3个苹果。妈妈又给了小明5个，现在小明一共有8个苹果。" * 4)[: 4 * 33]
    )
    blocks = ids.view(4, 33)
    batch = {"input_ids": blocks[:, :-1], "targets": blocks[:, 1:]}
    args = TrainArgs(out=str(tmp_path), max_steps=30, lr=3e-3, warmup_steps=5, eval_every=1000,
                     save_every=1000, show_progress=False)  # fmt: skip
    log = train(model, lambda step: [batch], None, lambda d: None, lambda d: None, args, DistInfo())
    first, last = log[0]["loss"], log[-1]["loss"]
    assert first == pytest.approx(torch.log(torch.tensor(float(cfg.vocab_size))).item(), abs=0.3)
    assert last < 0.4 * first, (first, last)
    assert (tmp_path / "loss.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, toy_config_file, toy_corpus, tokenizer):  # noqa: F811
    out = tmp_path_factory.mktemp("runs") / "a"
    pretrain.main(["--config", str(toy_config_file), "--data", str(toy_corpus), "--out", str(out),
                   "--keep-last", "0", "--device", "cpu", "--no-progress"])  # fmt: skip
    return out


def test_run_writes_hf_checkpoints_logs_and_plot(run_a):
    assert (run_a / "latest").read_text().strip() == "step-000008"
    for step in (4, 8):
        d = run_a / f"step-{step:06d}"
        for f in (
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "trainer_state.pt",
        ):
            assert (d / f).is_file(), d / f
    assert not list(run_a.glob(".*tmp*"))  # no leftovers from atomic writes
    header = (run_a / "log.csv").read_text().splitlines()[0]
    assert header == "step,loss,val_loss,lr,grad_norm,tokens,elapsed_s,aux_loss"
    recs = [json.loads(x) for x in (run_a / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(1, 9))
    assert [r["step"] for r in recs if r["val_loss"] is not None] == [4, 8]
    assert recs[0]["lr"] == pytest.approx(3e-3 / 2)  # warmup 2 steps
    assert (run_a / "loss.png").stat().st_size > 10_000


def test_resume_replays_the_identical_loss_sequence(run_a, tmp_path):
    # Simulate a crash after step 6 whose last checkpoint was step 4: copy the run, drop step 8, point
    # `latest` at step 4 and keep log lines up to step 6 (they must be discarded and recomputed).
    run_c = tmp_path / "c"
    shutil.copytree(run_a, run_c)
    shutil.rmtree(run_c / "step-000008")
    (run_c / "latest").write_text("step-000004\n")
    lines = (run_c / "log.jsonl").read_text().splitlines()[:6]
    (run_c / "log.jsonl").write_text("\n".join(lines) + "\n")
    cfg = json.loads((run_a / "run.json").read_text())["extra"]["config"]
    pretrain.main(["--config", cfg, "--data", str(run_a / "data"), "--out", str(run_c), "--resume",
                   "--keep-last", "0", "--device", "cpu", "--no-progress", "--seed", "0"])  # fmt: skip
    a, c = _losses(run_a), _losses(run_c)
    assert len(c) == 8
    assert max(abs(x - y) for x, y in zip(a, c)) <= 1e-6, (a, c)
    va = [json.loads(x)["val_loss"] for x in (run_a / "log.jsonl").read_text().splitlines()]
    vc = [json.loads(x)["val_loss"] for x in (run_c / "log.jsonl").read_text().splitlines()]
    assert va == vc
    from safetensors.torch import load_file

    wa = load_file(run_a / "step-000008" / "model.safetensors")
    wc = load_file(run_c / "step-000008" / "model.safetensors")
    assert all(torch.equal(wa[k], wc[k]) for k in wa)


def test_grad_accumulation_and_checkpointing_match_the_plain_step(run_a, tmp_path, toy_config_file):  # noqa: F811
    common = ["--config", str(toy_config_file), "--data", str(run_a / "data"), "--max-steps", "3",
              "--device", "cpu", "--no-progress"]  # fmt: skip
    pretrain.main(
        [*common, "--out", str(tmp_path / "m4"), "--micro-batch-size", "4", "--grad-accum", "1"]
    )
    pretrain.main(
        [*common, "--out", str(tmp_path / "m2"), "--micro-batch-size", "2", "--grad-accum", "2"]
    )
    a, b = _losses(tmp_path / "m4"), _losses(tmp_path / "m2")
    assert max(abs(x - y) for x, y in zip(a, b)) <= 1e-5, (a, b)
    # gradient checkpointing recomputes the same activations: same losses
    pretrain.main(
        [
            *common,
            "--out",
            str(tmp_path / "gc"),
            "--micro-batch-size",
            "4",
            "--gradient-checkpointing",
        ]
    )
    c = _losses(tmp_path / "gc")
    assert max(abs(x - y) for x, y in zip(a, c)) <= 1e-6, (a, c)


def test_transformers_loads_our_checkpoint(run_a):
    transformers = pytest.importorskip("transformers")
    from tinyqwen import Qwen2ForCausalLM, Tokenizer

    ckpt = run_a / "step-000008"
    ours = Qwen2ForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
    hf = transformers.AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
    tok = Tokenizer.from_pretrained(ckpt)
    text = "小明有3个苹果。A friend gives Tom 5 more."
    ids = tok.encode(text)
    hf_tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    assert hf_tok(text)["input_ids"] == ids
    x = torch.tensor([ids])
    with torch.no_grad():
        diff = (hf(x).logits - ours(x)).abs().max().item()
    assert diff < 1e-5, diff


def test_lora_sft_resume_restores_adapter_optimizer_and_dropout_rng(run_a, tmp_path):
    chats = corpus.write_sft_corpus(tmp_path / "chats.jsonl", n=48, seed=3)
    args = ["--base", str(run_a / "step-000008"), "--data", str(chats), "--lora", "--lora-dropout", "0.2",
            "--max-steps", "4", "--save-every", "2", "--eval-every", "2", "--micro-batch-size", "4",
            "--keep-last", "0", "--device", "cpu", "--no-progress"]  # fmt: skip
    sft.main([*args, "--out", str(tmp_path / "full")])
    resumed = tmp_path / "resumed"
    # A run that stops after step 2: its LR is still in warmup (20 steps), which does not depend on
    # --max-steps, so this is exactly a 4-step run interrupted after its step-2 checkpoint.
    sft.main([*args, "--out", str(resumed), "--max-steps", "2"])
    sft.main([*args, "--out", str(resumed), "--resume"])
    a, b = _losses(tmp_path / "full"), _losses(resumed)
    assert len(b) == 4 and max(abs(x - y) for x, y in zip(a, b)) <= 1e-6, (a, b)
    assert (resumed / "step-000004" / "adapter_config.json").is_file()


def test_a_fresh_run_refuses_to_clobber_existing_checkpoints(run_a, toy_config_file):  # noqa: F811
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain.main(["--config", str(toy_config_file), "--data", str(run_a / "data"), "--out", str(run_a),
                       "--device", "cpu", "--no-progress"])  # fmt: skip
    assert (run_a / "step-000008" / "model.safetensors").is_file()


def test_train_a_new_tokenizer_on_the_corpus(tmp_path, toy_config_file, toy_corpus, tokenizer):  # noqa: F811
    from tinyqwen import Tokenizer

    out = tmp_path / "bpe"
    pretrain.main(["--config", str(toy_config_file), "--data", str(toy_corpus), "--tokenizer", "train:600",
                   "--max-steps", "1", "--out", str(out), "--device", "cpu", "--no-progress"])  # fmt: skip
    tok = Tokenizer.from_pretrained(out / "step-000001")
    assert tok.vocab_size == 600
    assert list(tok.special_tokens) == list(tokenizer.special_tokens)  # same specials, same order
    assert tok.special_tokens["<|im_end|>"] == 600 - len(tokenizer.special_tokens) + 2
    text = "小明有3个苹果。"
    assert tok.decode(tok.encode(text)) == text and len(tok.encode(text)) < len(
        text.encode("utf-8")
    )


def test_truncated_trainer_state_on_resume_names_the_file(run_a, tmp_path, capsys):
    from qwen_blog.cli import main as cli_main

    run_d = tmp_path / "d"
    shutil.copytree(run_a, run_d)
    state = run_d / "step-000008" / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:1000])  # a copy cut short (disk full, killed rsync)
    (run_d / "latest").write_text("step-000008\n")
    cfg = json.loads((run_a / "run.json").read_text())["extra"]["config"]
    code = cli_main(["pretrain", "--config", cfg, "--data", str(run_a / "data"), "--out", str(run_d),
                     "--resume", "--max-steps", "9", "--device", "cpu", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert (
        err.splitlines()[-1].startswith(f"error: {state}: cannot be read") and "--overwrite" in err
    )


def test_a_config_typo_is_an_error_not_the_default_model(tmp_path, capsys):
    from qwen_blog.cli import main as cli_main

    cfg = tmp_path / "typo.json"
    cfg.write_text(json.dumps({"dim": 64}))
    assert cli_main(["pretrain", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "unknown model field(s) ['dim']" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_weighted_micro_batch_counts_as_its_copies(tokenizer):  # noqa: F811
    """``"weight": 3`` on a micro-batch is the step with that micro-batch three times: the same loss
    and the same update (SGD, no clipping), while the logged token count stays the real one."""
    import contextlib
    from types import SimpleNamespace

    from qwen_blog.trainer import train_step
    from tinyqwen import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**TOY_MODEL, vocab_size=tokenizer.vocab_size, max_position_embeddings=64)
    ids = tokenizer.encode("小明有3个苹果，小红有5个。一共有8个苹果。Gold Bay has 63899 people.")
    a = {"input_ids": torch.tensor([ids[:-1]]), "targets": torch.tensor([ids[1:]])}
    t = torch.full_like(a["targets"], -100)
    t[0, -4:] = a["targets"][0, -4:]  # a drill: a few target tokens only
    b = {"input_ids": a["input_ids"], "targets": t}

    def one_step(batches):
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(config).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        params = list(model.parameters())
        loss, _, _, n, _ = train_step(
            model, batches, opt, sched, params, SimpleNamespace(grad_clip=1e9), DistInfo(),
            contextlib.nullcontext, 0,
        )  # fmt: skip
        return loss, n, [p.detach().clone() for p in params]

    weighted, copies, plain = (
        one_step([a, b | {"weight": 3.0}]),
        one_step([a, b, b, b]),
        one_step([a, b]),
    )
    assert abs(weighted[0] - copies[0]) <= 1e-6 * abs(copies[0])
    assert weighted[1] == plain[1] == len(ids) - 1 + 4 and copies[1] == len(ids) - 1 + 12
    for p1, p2 in zip(weighted[2], copies[2]):
        torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-7)
    assert any(not torch.allclose(p1, p0) for p1, p0 in zip(weighted[2], plain[2]))
