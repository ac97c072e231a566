"""The training loop shared by ``pretrain`` and ``sft``: one optimizer step at a time, resumable exactly.

One optimizer step::

    batches = step_batches(step)                 # this rank's micro-batches (pure function of step)
    n = all-ranks count of target tokens          # labels != -100
    for each micro-batch:                         # gradient accumulation; DDP syncs only on the last
        loss_sum = CE(model(x), y, reduction="sum")
        (loss_sum / (n / world)).backward()       # DDP averages over ranks -> exact global token mean
    clip_grad_norm_(params, grad_clip); AdamW.step(); LR schedule step

so the gradient is the mean over every target token of the global batch, whatever the split into ranks
and micro-batches (up to float summation order). A micro-batch may carry ``"weight": w`` (default 1):
its targets then count ``w`` times, in the sum and in ``n`` -- a weighted token mean, used to give a
few drill tokens a fixed share of a pretraining step (``pretrain --lookup-drills``).
AdamW has two parameter groups: matrices (and embeddings) get weight decay, biases and norm gains
do not. The learning rate warms up linearly for ``warmup_steps`` and follows a cosine down to
``min_lr_ratio * lr`` at ``max_steps``.

Checkpoints and ``--resume`` live in ``qwen_blog.checkpointing`` (``OUT/step-000120/`` = weights +
``trainer_state.pt``, written atomically; ``OUT/latest`` names the newest). Because data order is a
function of the step (``qwen_blog.data.BlockSampler``), ``--resume`` replays the identical loss
sequence. The loop below reads like nanoGPT's: build the optimizer, maybe restore, then
``train_step`` / evaluate / log / checkpoint until ``max_steps``.

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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from qwen_blog.checkpointing import prepare_fresh_run, restore_checkpoint, save_checkpoint
from qwen_blog.distributed import DistInfo, all_reduce_sum, unwrap
from tinyqwen.atomic import atomic_path, atomic_write_text

Batch = (
    dict  # {"input_ids": [B,T], "targets": [B,T] (-100 = ignore), "attention_mask": [B,T] | None,
    #        "weight": float (optional, default 1: how many times each target token counts)}
)
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
# logs


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


def make_optimizer(raw: nn.Module, args: TrainArgs, device: torch.device):
    """AdamW (two parameter groups) and its warmup + cosine LR schedule."""
    optimizer = torch.optim.AdamW(
        param_groups(raw, args.weight_decay),
        lr=args.lr,
        betas=(args.beta1, args.beta2),
        eps=1e-8,
        fused=device.type == "cuda",
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(args.warmup_steps, args.max_steps, args.min_lr_ratio)
    )
    return optimizer, scheduler


def train_step(
    model, batches: list[Batch], optimizer, scheduler, params, args, info, autocast, step: int
):
    """Optimizer step ``step`` over this rank's micro-batches (see the module docstring).

    Returns (mean target-token loss over the global batch, grad norm, lr used, target tokens,
    mean MoE aux loss or None).
    """
    weights = [float(b.get("weight", 1.0)) for b in batches]
    n_local = [int((b["targets"] != -100).sum()) for b in batches]
    counts = torch.tensor(
        [sum(w * n for w, n in zip(weights, n_local)), sum(n_local)], dtype=torch.float64
    )
    n_global, n_tokens = all_reduce_sum(counts.to(info.device), info).tolist()
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
            objective = s * weights[i]  # x * 1.0 == x exactly: unweighted steps are unchanged
            if aux is not None:  # MoE: keep the routers balanced (module docstring)
                objective = objective + unwrap(model).config.router_aux_loss_coef * aux * n_b
                acc[1:] += torch.stack([aux.detach().double(), acc.new_ones(())])
            (objective / denom).backward()
        acc[0] += s.detach().double() * weights[i]
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
    return loss, grad_norm, lr, int(n_tokens), aux_loss


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
    optimizer, scheduler = make_optimizer(raw, args, info.device)
    params = [p for p in raw.parameters() if p.requires_grad]

    step, elapsed0, tokens0 = 0, 0.0, 0
    if resume is not None:
        step, elapsed0, tokens0 = restore_checkpoint(
            Path(resume), optimizer, scheduler, load_weights, args, info
        )
    else:
        prepare_fresh_run(out, args.overwrite, info)
    log = None
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "run.json", json.dumps(asdict(args), indent=2, default=str) + "\n")
        log = RunLog(out, step if resume is not None else None)
    cached_val = val_batches() if val_batches is not None else None

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
        loss, grad_norm, lr, n, aux_loss = train_step(
            model, batches, optimizer, scheduler, params, args, info, autocast, step
        )
        step += 1
        tokens += n
        elapsed = elapsed0 + time.perf_counter() - t0

        val_loss = None
        # every rank evaluates (even with no val batch of its own): the sums are all-reduced
        if cached_val is not None and (step % args.eval_every == 0 or step == args.max_steps):
            val_loss = evaluate(model, cached_val, info, autocast)
        if info.is_main:
            record = dict(step=step, loss=loss, val_loss=val_loss, lr=lr, grad_norm=grad_norm)
            log.add(
                record | {"tokens": tokens, "elapsed_s": round(elapsed, 3), "aux_loss": aux_loss}
            )
            post = {"loss": f"{loss:.3f}", "lr": f"{lr:.2e}"}
            if val_loss is not None:
                post["val"] = f"{val_loss:.3f}"
                log.plot(title)
            bar.set_postfix(post, refresh=False)
            bar.update(1)
        if step % args.save_every == 0 or step == args.max_steps:
            save_checkpoint(
                out, step, tokens, elapsed, optimizer, scheduler, save_weights, args, info
            )
    bar.close()
    if info.is_main:
        log.plot(title)
        return log.records
    return []
