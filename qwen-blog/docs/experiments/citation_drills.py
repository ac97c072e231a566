"""E19-E21 of docs/14-universe.md: can the shipped ``tiny-universe`` learn the citation ``[n]``?

Three kinds of drills on tinyrag's numbered sources (training towns only), and a teacher-forced probe
on held-out towns::

    python docs/experiments/citation_drills.py train --kind key  --out runs/e19 --steps 600
    python docs/experiments/citation_drills.py train --kind mixed --out runs/e19b --steps 400
    python docs/experiments/citation_drills.py train --kind cite --out runs/e20 --steps 600 --lr 1e-3
    python docs/experiments/citation_drills.py train --kind cite --out runs/e21 --steps 400 --lr 1e-3 --name-paths
    python docs/experiments/citation_drills.py probe --model runs/e19/step-000200

- ``key``: sources, then 1-6 questions, each answered; the loss only on the three decisions grounded QA
  makes -- answer or refuse (the first two answer tokens, or the whole refusal), the value, the
  citation digit. Trained inside SFT (``qwen_blog sft``: 8 conversations + 16 drills a step).
- ``cite``: sources, then ``Raven Port [`` -> ``3``: the loss on the source number only, the town
  right before it. Trained alone (the lookup stage's runner, constant lr).
- ``mixed``: 8 key + 8 cite drills a step, inside SFT.
- ``--name-paths``: the sources' file names are the town names (``Raven Port.md``, ``柳门镇.md``)
  instead of ``raven-port.md`` / ``town_560.md``, so the number stands a few tokens before the name.

Limits: an experiment, not a recipe stage; it starts from a checkpoint directory (default: the shipped
model) and needs ``OUT/data/sft.jsonl`` of a universe run for the SFT kinds (``--data``).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

from qwen_blog import lookup, sft
from qwen_blog import universe_corpus as U
from qwen_blog.sft import IGNORE
from tinyqwen.tiny_universe import ASSET_DIR


def encode_key(tokenizer, sources: str, qas: list[tuple[str, str]], lang: str):
    """Ids and labels of one key drill: targets at the decision, value and citation tokens only."""
    ids, labels = [], []
    for j, (question, answer) in enumerate(qas):
        head = tokenizer.encode(
            (sources if j == 0 else "") + "\n\n" + U.question_line(question, lang) + "\n"
        )
        a = tokenizer.encode(answer)
        if "[" not in answer:  # the refusal: all of it
            lab = list(a)
        else:  # "The population of X is 1238 [3]." / "X的人口是13832 [1]。"
            cite = answer.rindex("[") + 1
            vend = len(answer[: cite - 1].rstrip(" "))
            vstart = answer.rfind(" is ") + 3 if lang == "en" else answer.rfind("是") + 1
            prefixes = [tokenizer.encode(answer[:c]) for c in (vstart, vend, cite, cite + 1)]
            # each prefix must tokenize as the start of the whole answer, or a cut is not a token edge
            if any(a[: len(p)] != p for p in prefixes):
                raise ValueError(f"answer {answer!r}: a cut falls inside a token")
            cuts = [len(p) for p in prefixes]
            keep = {0, 1} | set(range(cuts[0], cuts[1])) | set(range(cuts[2], cuts[3]))
            lab = [t if p in keep else IGNORE for p, t in enumerate(a)]
        ids += head + a
        labels += [IGNORE] * len(head) + lab
    return ids, labels


def encode_cite(tokenizer, sources: str, names: list[str], asked: list[int]):
    """Ids and labels of one cite drill: ``Town [`` then the source number (the only target)."""
    ids = tokenizer.encode(sources + "\n")
    labels = [IGNORE] * len(ids)
    for j, k in enumerate(asked):
        head = tokenizer.encode(("\n" if j else "") + names[k] + " [")
        digit = tokenizer.encode(str(k + 1))
        tail = tokenizer.encode("]")
        ids += head + digit + tail
        labels += [IGNORE] * len(head) + digit + [IGNORE] * len(tail)
    return ids, labels


def key_batch(tokenizer, seed: int, step: int, size: int):
    rng = random.Random(f"key-drill:{seed}:{step}")
    out = []
    for i in range(size):
        lang = "zh" if i % 2 == 0 else "en"
        sources, qas = U.lookup_qa(rng, lang)
        out.append(encode_key(tokenizer, U.sources_text(sources, lang), qas, lang))
    return out


def _cite_item(rng: random.Random, lang: str, n_asked: int | None = None):
    picked, facts, _ = U._drill_towns(rng, lang)
    sources = U._sources(rng, picked, facts, lang)
    asked = rng.sample(range(len(picked)), n_asked or rng.randint(1, len(picked)))
    return U.sources_text(sources, lang), picked, asked


def cite_batch(tokenizer, seed: int, step: int, size: int):
    rng = random.Random(f"cite-drill:{seed}:{step}")
    return [
        encode_cite(tokenizer, *_cite_item(rng, "zh" if i % 2 == 0 else "en")) for i in range(size)
    ]


def mixed_batch(tokenizer, seed: int, step: int, size: int):
    return key_batch(tokenizer, seed, step, size // 2) + cite_batch(
        tokenizer, seed, step, size // 2
    )


def use_name_paths() -> None:
    U.town_path = lambda town, lang: f"{town}.md"


def train(args: argparse.Namespace) -> None:
    batch = {"key": key_batch, "cite": cite_batch, "mixed": mixed_batch}[args.kind]
    # cite drills alone, on the lookup stage's runner (its val: the same drills, seed + 1)
    if args.kind == "cite":
        lookup.drill_batch = batch
        settings = {"micro_batch_size": 16, "lr": args.lr, "warmup_steps": 10, "max_steps": args.steps,
                    "eval_every": 50, "save_every": 100, "min_lr_ratio": 1.0}  # fmt: skip
        lookup.run_stage(Path(args.base), Path(args.out), settings, 0, "cpu", True, False)
        return
    lookup.answer_drill_batch = batch  # sft --answer-drills N draws its extra micro-batch from here
    argv = ["--base", str(args.base), "--data", str(args.data), "--out", str(args.out),
            "--max-len", "640", "--micro-batch-size", "8", "--lr", str(args.lr), "--warmup-steps", "20",
            "--max-steps", str(args.steps), "--eval-every", "100", "--save-every", "100",
            "--keep-last", "20", "--answer-drills", "16", "--micro-batch-tokens", "2048",
            "--precision", "fp32", "--device", "cpu"]  # fmt: skip
    sft.run(sft.build_parser().parse_args(argv))


@torch.no_grad()
def probe(args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """Teacher-forced accuracy per decision on drills built from ``--split`` towns."""
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    towns = U.towns
    U.towns = lambda lang, split: towns(lang, args.split)
    tokenizer = Tokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.float32, device="cpu"
    ).eval()

    def hits(ids: list[int], positions: list[int]) -> bool:
        pred = model(torch.tensor([ids]))[0].argmax(-1)
        return all(pred[p - 1].item() == ids[p] for p in positions)

    counts: dict[str, list[int]] = {}
    rng = random.Random("probe")
    for i in range(120):
        lang = "zh" if i % 2 == 0 else "en"
        sources, qas = U.lookup_qa(rng, lang)
        for qa in qas:
            ids, labels = encode_key(tokenizer, U.sources_text(sources, lang), [qa], lang)
            pos = [p for p, t in enumerate(labels) if t != IGNORE]
            kinds = ({"refuse": pos[:2]} if "[" not in qa[1]
                     else {"answer": pos[:2], "value": pos[2:-1], "cite": pos[-1:]})  # fmt: skip
            for name, ps in kinds.items():
                c = counts.setdefault(name, [0, 0])
                c[0] += hits(ids, ps)
                c[1] += 1
    rng = random.Random("probe-cite")
    for i in range(100):
        ids, labels = encode_cite(tokenizer, *_cite_item(rng, "zh" if i % 2 == 0 else "en", 1))
        c = counts.setdefault("cite_drill", [0, 0])
        c[0] += hits(ids, [p for p, t in enumerate(labels) if t != IGNORE])
        c[1] += 1
    U.towns = towns
    print(args.model, args.split, {k: f"{a}/{b}" for k, (a, b) in counts.items()})
    return {k: (a, b) for k, (a, b) in counts.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--kind", choices=["key", "cite", "mixed"], required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--base", default=str(ASSET_DIR))
    t.add_argument("--data", default="runs/universe/data/sft.jsonl")
    q = sub.add_parser("probe")
    q.add_argument("--model", default=str(ASSET_DIR))
    q.add_argument("--split", default="test", choices=["train", "test"])
    for s in (t, q):
        s.add_argument("--name-paths", action="store_true")
    args = p.parse_args(argv)
    if args.name_paths:
        use_name_paths()
    if args.cmd == "train":
        train(args)
    else:
        probe(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
