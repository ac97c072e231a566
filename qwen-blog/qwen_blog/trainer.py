"""The training loop shared by ``pretrain`` and ``sft``: one optimizer step at a time, resumable exactly.

One optimizer step::

    batches = step_batches(step)                 # this rank's micro-batches (pure function of step)
    n = all-ranks count of target tokens          # labels != -100
    for each micro-batch:                         # gradient accumulation; DDP syncs only on the last
        loss_sum = CE(model(x), y, reduction="sum")
        (loss_sum / (n / world)).backward()       # DDP averages over ranks -> exact global token mean
    clip_grad_norm_(params, grad_clip); AdamW.step(); LR schedule step

so the gradient is the mean over every target token of the global batch, whatever the split into ranks
and micro-batches (up to float summation order). AdamW has two parameter groups: matrices (and
embeddings) get weight decay, biases and norm gains do not. The learning rate warms up linearly for
``warmup_steps`` and follows a cosine down to ``min_lr_ratio * lr`` at ``max_steps``.

A checkpoint is a directory ``OUT/step-000120/`` holding the weights (HF layout or a PEFT adapter, written
by the caller's ``save_weights``) plus ``trainer_state.pt`` (optimizer, scheduler, every rank's RNG
states, step). It is written under a temporary name and renamed into place, then ``OUT/latest`` is
updated atomically, so a crash never leaves a half-written checkpoint behind ``latest``. Because data
order is a function of the step (``qwen_blog.data.BlockSampler``), ``--resume`` replays the identical
loss sequence.

MoE models (Qwen2-MoE / Qwen3-MoE configs) also train their routers' load balance: each micro-batch
adds ``router_aux_loss_coef * aux * n_tokens`` to its loss sum (``tinyqwen.moe.load_balancing_loss``,
transformers' ``output_router_logits`` objective), and ``aux_loss`` is logged beside ``loss`` (which
stays the plain cross-entropy, comparable with dense runs).

Logs (rank 0): ``OUT/log.jsonl`` and ``OUT/log.csv`` (step, loss, val_loss, lr, grad_norm, tokens,
elapsed_s, aux_loss) and ``OUT/loss.png``.

Limits: bf16 autocast keeps fp32 master weights (no fp16 loss scaling); one optimizer (AdamW).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qwen_blog.distributed import DistInfo, all_gather_objects, all_reduce_sum, barrier, unwrap
from tinyqwen.atomic import atomic_path, atomic_write_text

Batch = (
    dict  # {"input_ids": [B,T], "targets": [B,T] (-100 = ignore), "attention_mask": [B,T] | None}
)
STATE_FILE = "trainer_state.pt"
LATEST = "latest"
LOG_FIELDS = ["step", "loss", "val_loss", "lr", "grad_norm", "tokens", "elapsed_s", "aux_loss"]


@dataclass
class TrainArgs:
    out: str
    max_steps: int = 300
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    grad_accum: int = 1
    eval_every: int = 50
    save_every: int = 100
    keep_last: int = 2
    precision: str = "auto"  # auto | fp32 | bf16
    seed: int = 0
    show_progress: bool = True
    overwrite: bool = False  # allow a fresh (non-resumed) run in a directory that has checkpoints
    extra: dict = field(default_factory=dict)  # caller's run description, stored in run.json

    @classmethod
    def from_cli(cls, args: object, **overrides: object) -> TrainArgs:
        """Take every field from the same-named command-line option (``--no-progress`` turns
        ``show_progress`` off); ``overrides`` win. Options the command lacks keep their defaults."""
        names = {f.name for f in fields(cls)} - {"show_progress", "extra"}
        values = {n: getattr(args, n) for n in names if hasattr(args, n)}
        values["show_progress"] = not getattr(args, "no_progress", False)
        return cls(**(values | overrides))


# ---------------------------------------------------------------------------------------------------
# optimizer, schedule, precision


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay every trainable matrix (dim >= 2: linear weights, embeddings); not biases or norm gains."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():  # named_parameters() yields a tied weight once
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def lr_lambda(warmup_steps: int, max_steps: int, min_lr_ratio: float) -> Callable[[int], float]:
    """Multiplier of the peak LR for optimizer step ``s`` (0-based): linear warmup, then cosine."""

    def f(s: int) -> float:
        if s < warmup_steps:
            return (s + 1) / warmup_steps
        progress = min(1.0, (s - warmup_steps) / max(1, max_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def autocast_context(precision: str, device: torch.device):
    """bf16 autocast when asked (or ``auto`` on a bf16-capable GPU); otherwise plain fp32."""
    if precision == "auto":
        ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
        precision = "bf16" if ok else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext
    if precision == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise ValueError(f"--precision must be auto, fp32 or bf16, got {precision!r}")


def loss_sum(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int, torch.Tensor | None]:
    """Summed next-token cross-entropy over target positions, how many there are, and (an MoE model
    in training mode only) the router load-balancing loss of this micro-batch, else None."""
    config = unwrap(model).config
    moe = bool(getattr(config, "is_moe", False)) and model.training
    mask = batch.get("attention_mask")
    out = model(batch["input_ids"], attention_mask=mask, output_router_logits=moe)
    logits, router_logits = out if moe else (out, None)  # [B, T, V] fp32
    targets = batch["targets"]  # [B, T]
    loss = F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum"
    )
    aux = None
    if moe:
        from tinyqwen.moe import load_balancing_loss

        k = config.num_experts_per_tok
        aux = load_balancing_loss(router_logits, config.num_experts, k, mask)
    return loss, int((targets != -100).sum()), aux


# ---------------------------------------------------------------------------------------------------
# RNG, checkpoints, logs


def rng_state() -> dict:
    """This process's RNG states as plain Python values (bytes, ints), so they pickle anywhere and load
    with ``torch.load(weights_only=True)``."""
    np_name, np_keys, np_pos, np_gauss, np_cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state().numpy().tobytes(),
        "cuda": [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
        if torch.cuda.is_available()
        else [],
        "numpy": [np_name, np_keys.tobytes(), int(np_pos), int(np_gauss), float(np_cached)],
        "python": [py_version, list(py_state), py_gauss],
    }


def _byte_tensor(b: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(b), dtype=torch.uint8)


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(_byte_tensor(s["torch"]))
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_byte_tensor(b) for b in s["cuda"]])
    name, keys, pos, gauss, cached = s["numpy"]
    np.random.set_state((name, np.frombuffer(keys, dtype=np.uint32).copy(), pos, gauss, cached))
    version, state, py_gauss = s["python"]
    random.setstate((version, tuple(state), py_gauss))


def latest_checkpoint(out: str | Path) -> Path | None:
    f = Path(out) / LATEST
    if not f.is_file():
        return None
    d = Path(out) / f.read_text(encoding="utf-8").strip()
    if not (d / STATE_FILE).is_file():
        raise FileNotFoundError(f"{f} points to {d}, which has no {STATE_FILE}")
    return d


def write_checkpoint(
    out: Path, step: int, save_weights: Callable[[Path], None], state: dict, keep_last: int
) -> Path:
    """Write ``out/step-XXXXXX`` atomically (tmp dir + rename), point ``out/latest`` at it, prune."""
    name = f"step-{step:06d}"
    final = out / name
    tmp = out / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(tmp)
    torch.save(state, tmp / STATE_FILE)
    if final.exists():  # re-saving the same step (e.g. after resume): swap, then drop the old one
        old = out / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    atomic_write_text(out / LATEST, name + "\n")
    if keep_last > 0:
        # only checkpoints up to this step compete; later ones (left by a run we resumed before its end)
        # are overwritten when this run reaches them
        steps = sorted(p for p in out.glob("step-*") if p.is_dir() and p.name <= name)
        for p in steps[:-keep_last]:
            shutil.rmtree(p)
    return final


class RunLog:
    """``log.jsonl`` + ``log.csv`` + ``loss.png`` in the run directory (rank 0 only)."""

    def __init__(self, out: Path, resume_step: int | None) -> None:
        self.jsonl, self.csv, self.png = out / "log.jsonl", out / "log.csv", out / "loss.png"
        self.records: list[dict] = []
        if resume_step is not None and self.jsonl.is_file():
            for line in self.jsonl.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                if r["step"] <= resume_step:
                    self.records.append(r)
        # rewrite both files (drops entries past the resume point from an interrupted run)
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.records))
        with atomic_path(self.csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, LOG_FIELDS)
            w.writeheader()
            w.writerows(self.records)

    def add(self, record: dict) -> None:
        self.records.append(record)
        with open(self.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        with open(self.csv, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(record)

    def plot(self, title: str) -> None:
        plot_loss_curve(self.records, self.png, title)


def plot_loss_curve(records: list[dict], path: Path, title: str) -> None:
    """Train loss (raw and EMA-smoothed) and val loss vs step, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not records:
        return
    steps = [r["step"] for r in records]
    loss = [r["loss"] for r in records]
    ema, smooth = loss[0], []
    for v in loss:
        ema = 0.9 * ema + 0.1 * v
        smooth.append(ema)
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.plot(steps, loss, color="tab:blue", alpha=0.3, lw=1, label="train loss")
    ax.plot(steps, smooth, color="tab:blue", lw=2, label="train loss (EMA 0.9)")
    if val:
        ax.plot(*zip(*val), "o-", color="tab:orange", lw=2, ms=4, label="val loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------------------
# the loop


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[Batch], info: DistInfo, autocast) -> float | None:
    """Mean target-token loss over every rank's ``batches`` (None when there is none at all)."""
    model = unwrap(
        model
    )  # no DDP collectives here: ranks may hold different numbers of val batches
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=info.device)
    for b in batches:
        with autocast():
            s, n, _ = loss_sum(model, b)
        total += torch.tensor([s.item(), n], dtype=torch.float64, device=info.device)
    all_reduce_sum(total, info)
    model.train(was_training)
    return (total[0] / total[1]).item() if total[1] > 0 else None


def train(
    model: nn.Module,
    step_batches: Callable[[int], list[Batch]],
    val_batches: Callable[[], list[Batch]] | None,
    save_weights: Callable[[Path], None],
    load_weights: Callable[[Path], None],
    args: TrainArgs,
    info: DistInfo,
    resume: str | Path | None = None,
    title: str = "training loss",
) -> list[dict]:
    """Run ``args.max_steps`` optimizer steps (continuing from ``resume`` if given); returns the log.

    ``model`` is the DDP-wrapped model (or the plain one); ``save_weights(dir)`` / ``load_weights(dir)``
    write/read the trainable weights of ``unwrap(model)`` in a checkpoint directory.
    """
    from tqdm import tqdm

    out = Path(args.out)
    raw = unwrap(model)
    autocast = autocast_context(args.precision, info.device)
    use_fused = info.device.type == "cuda"
    optimizer = torch.optim.AdamW(
        param_groups(raw, args.weight_decay),
        lr=args.lr,
        betas=(args.beta1, args.beta2),
        eps=1e-8,
        fused=use_fused,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(args.warmup_steps, args.max_steps, args.min_lr_ratio)
    )
    params = [p for p in raw.parameters() if p.requires_grad]

    step, elapsed0, tokens0 = 0, 0.0, 0
    if resume is not None:
        ckpt = Path(resume)
        state = torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
        load_weights(ckpt)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if len(state["rng"]) != info.world_size:
            raise ValueError(
                f"{ckpt}: saved by {len(state['rng'])} ranks, resuming with "
                f"{info.world_size}; RNG streams cannot be restored exactly"
            )
        set_rng_state(state["rng"][info.rank])
        # data order is a function of (step, global batch): changing these would replay other data
        for key in ("global_batch", "seq_len", "max_len"):
            saved, now = state.get("run", {}).get(key), args.extra.get(key)
            if saved is not None and saved != now:
                raise ValueError(
                    f"{ckpt}: saved with {key}={saved}, resuming with {key}={now}; "
                    "keep it unchanged to resume exactly"
                )
        step, elapsed0, tokens0 = state["step"], state["elapsed_s"], state["tokens"]
        if step >= args.max_steps:
            raise ValueError(
                f"{ckpt} is at step {step}; --max-steps {args.max_steps} leaves nothing to do"
            )

    if resume is None and (out / LATEST).is_file():
        if not args.overwrite:
            raise FileExistsError(
                f"{out} already holds a run ({out / LATEST}); pass --resume to continue "
                "it, --overwrite to start over, or choose another --out"
            )
        barrier(info)  # every rank has checked before rank 0 deletes
        if info.is_main:
            for p in out.glob("step-*"):
                shutil.rmtree(p)
            (out / LATEST).unlink()
    log = None
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "run.json", json.dumps(asdict(args), indent=2, default=str) + "\n")
        log = RunLog(out, step if resume is not None else None)
    cached_val = val_batches() if val_batches is not None else None

    def checkpoint(step: int, tokens: int, elapsed: float) -> None:
        rngs = all_gather_objects(rng_state(), info)
        if info.is_main:
            state = {
                "step": step,
                "tokens": tokens,
                "elapsed_s": elapsed,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rngs,
                "world_size": info.world_size,
                "run": {
                    k: v for k, v in args.extra.items() if isinstance(v, (int, float, str, bool))
                },
            }
            write_checkpoint(out, step, save_weights, state, args.keep_last)
        barrier(info)

    model.train()
    tokens, t0 = tokens0, time.perf_counter()
    bar = tqdm(
        total=args.max_steps,
        initial=step,
        desc="train",
        disable=not (info.is_main and args.show_progress),
        dynamic_ncols=True,
    )
    while step < args.max_steps:
        batches = step_batches(step)
        counts = torch.tensor(
            [sum(int((b["targets"] != -100).sum()) for b in batches)], dtype=torch.float64
        )
        n_global = all_reduce_sum(counts.to(info.device), info).item()
        if n_global == 0:
            raise ValueError(f"step {step}: the batch has no target tokens (all labels are -100)")
        denom = n_global / info.world_size  # DDP's gradient average divides by world_size again
        acc = torch.zeros(3, dtype=torch.float64, device=info.device)  # CE sum, aux sum, aux count
        for i, b in enumerate(batches):
            last = i == len(batches) - 1
            sync = contextlib.nullcontext() if (last or not info.enabled) else model.no_sync()
            with sync:
                with autocast():
                    s, n_b, aux = loss_sum(model, b)
                objective = s
                if aux is not None:  # MoE: keep the routers balanced (module docstring)
                    objective = s + unwrap(model).config.router_aux_loss_coef * aux * n_b
                    acc[1:] += torch.stack([aux.detach().double(), acc.new_ones(())])
                (objective / denom).backward()
            acc[0] += s.detach().double()
        all_reduce_sum(acc, info)
        loss = acc[0].item() / n_global
        aux_loss = (acc[1] / acc[2]).item() if acc[2] > 0 else None
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"step {step}: loss is {loss}; try a lower --lr or --precision fp32"
            )
        grad_norm = torch.nn.utils.clip_grad_norm_(params, args.grad_clip).item()
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens += int(n_global)
        elapsed = elapsed0 + time.perf_counter() - t0

        val_loss = None
        # every rank evaluates (even with no val batch of its own): the sums are all-reduced
        if cached_val is not None and (step % args.eval_every == 0 or step == args.max_steps):
            val_loss = evaluate(model, cached_val, info, autocast)
        if info.is_main:
            log.add(
                {
                    "step": step,
                    "loss": loss,
                    "val_loss": val_loss,
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "tokens": tokens,
                    "elapsed_s": round(elapsed, 3),
                    "aux_loss": aux_loss,
                }
            )
            post = {"loss": f"{loss:.3f}", "lr": f"{lr:.2e}"}
            if val_loss is not None:
                post["val"] = f"{val_loss:.3f}"
                log.plot(title)
            bar.set_postfix(post, refresh=False)
            bar.update(1)
        if step % args.save_every == 0 or step == args.max_steps:
            checkpoint(step, tokens, elapsed)
    bar.close()
    if info.is_main:
        log.plot(title)
        return log.records
    return []
