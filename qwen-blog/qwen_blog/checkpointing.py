"""Checkpoints of a training run: write one atomically, find the latest, restore it exactly.

    OUT/step-000120/            weights (HF layout or a PEFT adapter, written by ``save_weights``)
                   trainer_state.pt   optimizer, scheduler, every rank's RNG states, step, tokens
    OUT/latest                  "step-000120"

    >>> from qwen_blog.checkpointing import latest_checkpoint
    >>> latest_checkpoint("runs/none-here") is None
    True

A checkpoint directory is written under a temporary name and renamed into place, then ``latest`` is
replaced atomically, so a crash never leaves a half-written checkpoint behind ``latest``.
``restore_checkpoint`` loads the weights, optimizer, scheduler and this rank's RNG streams and refuses
a resume that could not replay the same data (another world size, global batch or sequence length).
A ``trainer_state.pt`` that cannot be read (truncated, not a torch file) is a ``UserError`` naming it.

Limits: ``keep_last`` prunes only checkpoints up to the one just written; optimizer state is saved
whole on rank 0 (no sharding).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from qwen_blog.distributed import DistInfo, all_gather_objects, barrier
from tinyqwen.atomic import atomic_write_text
from tinyqwen.errors import UserError

STATE_FILE = "trainer_state.pt"
LATEST = "latest"


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


def load_trainer_state(ckpt: Path) -> dict:
    """``ckpt/trainer_state.pt``, or a UserError naming the file when it cannot be read."""
    path = ckpt / STATE_FILE
    if not path.is_file():
        raise UserError(f"{path}: missing; is {ckpt} a checkpoint written by pretrain/sft?")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's zip reader raises RuntimeError, pickle others
        raise UserError(
            f"{path}: cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]})",
            hint="the file is truncated or not a checkpoint; resume from an earlier step-* "
            "directory (edit OUT/latest) or start over with --overwrite",
        ) from e
    missing = [k for k in ("step", "optimizer", "scheduler", "rng") if k not in state]
    if missing:
        raise UserError(f"{path}: not a trainer state (missing {missing})")
    return state


def restore_checkpoint(
    ckpt: Path,
    optimizer: torch.optim.Optimizer,
    scheduler,
    load_weights: Callable[[Path], None],
    args,
    info: DistInfo,
) -> tuple[int, float, int]:
    """Load weights + optimizer + scheduler + RNG from ``ckpt``; return (step, elapsed_s, tokens)."""
    state = load_trainer_state(ckpt)
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
    step = state["step"]
    if step >= args.max_steps:
        raise ValueError(
            f"{ckpt} is at step {step}; --max-steps {args.max_steps} leaves nothing to do"
        )
    return step, state["elapsed_s"], state["tokens"]


def model_weight_io(model, tokenizer) -> tuple[Callable[[Path], None], Callable[[Path], None]]:
    """``(save_weights, load_weights)`` for ``train``: a checkpoint directory holds the whole model in
    Hugging Face layout plus the tokenizer; loading copies the weights *in place*, because the
    optimizer already holds these parameter tensors."""

    def save_weights(d: Path) -> None:
        model.save_pretrained(d)
        tokenizer.save_pretrained(d)

    def load_weights(d: Path) -> None:
        from tinyqwen import AutoModelForCausalLM

        loaded = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict())

    return save_weights, load_weights


def prepare_fresh_run(out: Path, overwrite: bool, info: DistInfo) -> None:
    """Refuse to clobber an existing run in ``out`` unless ``overwrite`` (then delete its checkpoints)."""
    if not (out / LATEST).is_file():
        return
    if not overwrite:
        raise FileExistsError(
            f"{out} already holds a run ({out / LATEST}); pass --resume to continue "
            "it, --overwrite to start over, or choose another --out"
        )
    barrier(info)  # every rank has checked before rank 0 deletes
    if info.is_main:
        for p in out.glob("step-*"):
            shutil.rmtree(p)
        (out / LATEST).unlink()


def save_checkpoint(
    out: Path,
    step: int,
    tokens: int,
    elapsed: float,
    optimizer: torch.optim.Optimizer,
    scheduler,
    save_weights: Callable[[Path], None],
    args,
    info: DistInfo,
) -> None:
    """Gather every rank's RNG state; rank 0 writes ``out/step-XXXXXX`` (see write_checkpoint)."""
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
            "run": {k: v for k, v in args.extra.items() if isinstance(v, (int, float, str, bool))},
        }
        write_checkpoint(out, step, save_weights, state, args.keep_last)
    barrier(info)
