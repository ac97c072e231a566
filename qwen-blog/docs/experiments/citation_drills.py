"""E19-E30 of docs/14-universe.md: can the shipped ``tiny-universe`` learn the citation ``[n]``?

Eight kinds of drills on tinyrag's numbered sources (training towns only), a teacher-forced probe
on held-out towns, a linear probe of the residual stream, and a random initialisation to train from::

    python docs/experiments/citation_drills.py train --kind key  --out runs/e19 --steps 600
    python docs/experiments/citation_drills.py train --kind mixed --out runs/e19b --steps 400
    python docs/experiments/citation_drills.py train --kind cite --out runs/e20 --steps 600 --lr 1e-3
    python docs/experiments/citation_drills.py train --kind cite --out runs/e21 --steps 400 --lr 1e-3 --name-paths
    python docs/experiments/citation_drills.py train --kind blockid --out runs/e22 --steps 600 --lr 1e-3
    python docs/experiments/citation_drills.py train --kind blockid-key --out runs/e23 --steps 500 \
        --lr 1e-3 --base runs/e22/step-000600
    python docs/experiments/citation_drills.py train --kind blockid --out runs/e25 --steps 400 --lr 1e-3 \
        --base runs/e24/model   # E24: the full recipe with a 6-layer model (chapter 14)
    python docs/experiments/citation_drills.py init --out runs/init   # the shipped shape, random weights
    python docs/experiments/citation_drills.py train --kind cite --base runs/init --out runs/e26 \
        --steps 1000 --lr 1e-3
    python docs/experiments/citation_drills.py train --kind valcite-tagged --base runs/init \
        --out runs/e27 --steps 600 --lr 1e-3
    python docs/experiments/citation_drills.py train --kind valcite-tagged --out runs/e28 --steps 400 \
        --lr 1e-3
    python docs/experiments/citation_drills.py probe --model runs/e28/step-000400 --tagged
    python docs/experiments/citation_drills.py fuse-init --out runs/fused   # spare rows = digits
    python docs/experiments/citation_drills.py train --kind valcite-fused --base runs/fused \
        --out runs/e29 --steps 300 --lr 1e-3
    python docs/experiments/citation_drills.py probe --model runs/e29/step-000300 --tagged --fused
    python docs/experiments/citation_drills.py train --kind valcite-fused --base runs/e29c/step-000300 \
        --out runs/e30 --steps 900 --lr 1e-3 --seed 1 --min-lr-ratio 0.1   # fresh drills, lr decayed
    python docs/experiments/citation_drills.py probe --model runs/e19/step-000200
    python docs/experiments/citation_drills.py linear-probe --model runs/e22/step-000200

- ``key``: sources, then 1-6 questions, each answered; the loss only on the three decisions grounded QA
  makes -- answer or refuse (the first two answer tokens, or the whole refusal), the value, the
  citation digit. Trained inside SFT (``qwen_blog sft``: 8 conversations + 16 drills a step).
- ``cite``: sources, then ``Raven Port [`` -> ``3``: the loss on the source number only, the town
  right before it. Trained alone (the lookup stage's runner, constant lr).
- ``mixed``: 8 key + 8 cite drills a step, inside SFT.
- ``blockid``: 8 block-id drills + 8 cite drills a step (lookup runner). A block-id drill is the
  sources with each sentence prefixed by its block's ``[k]`` half of the time; the loss is on every
  marker digit, so predicting a repeated one needs "which block am I in".
- ``blockid-key``: 8 block-id drills + 8 key drills a step (lookup runner).
- ``valcite``: sources and 1-6 answered questions, the loss on the citation digits only (the value is
  given, so the citation can follow it). ``valcite-tagged``: the same with every sentence of source k
  ending in `` [k]`` before its full stop (``... of 2074 [1].``), the form the answer cites in; ``probe
  --tagged`` shows the sources that way. ``valcite-fused``: valcite-tagged with every `` [k`` one
  token (a spare row of the padded vocab, :func:`fused_id`; ``fuse-init`` starts those rows as the
  digits' rows), so the citation is the token right after the value; ``probe --fused`` likewise.
  All three on the lookup runner.
- ``--name-paths``: the sources' file names are the town names (``Raven Port.md``, ``柳门镇.md``)
  instead of ``raven-port.md`` / ``town_560.md``, so the number stands a few tokens before the name.

``linear-probe`` asks whether "which block am I in" is linearly readable from each layer's residual
stream at the tokens of the sources' text (softmax regression trained on 200 training-town source
sets, scored on 100 held-out ones; a position-only probe beside it).

Limits: an experiment, not a recipe stage; it starts from a checkpoint directory (default: the shipped
model) and needs ``OUT/data/sft.jsonl`` of a universe run for the SFT kinds (``--data``).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def encode_blockid(tokenizer, rng: random.Random, lang: str):
    """Ids and labels of one block-id drill: training towns' sources, each sentence prefixed by its
    block's ``[k] `` half of the time; the targets are every marker digit (the headers' too)."""
    picked, facts, _ = U._drill_towns(rng, lang)
    sep = "" if lang == "zh" else " "
    blocks = []
    for k, (town, f) in enumerate(zip(picked, facts), 1):
        sentences = [
            U.ATTRS[i][4 if lang == "zh" else 5].format(t=town, v=v) for i, v in sorted(f.items())
        ]
        text = sep.join((f"[{k}] " if rng.random() < 0.5 else "") + x for x in sentences)
        path = f"{rng.choice(U.DIRS)}/{U.town_path(town, lang)}"
        blocks.append((f"{path}, chars 0-{len(text)}", text))
    ids = tokenizer.encode(U.sources_text(blocks, lang))
    digits = {tokenizer.encode(str(k))[0] for k in range(1, len(picked) + 1)}
    labels = [
        t if t in digits and tokenizer.decode([ids[p - 1]]).endswith("[") else IGNORE
        for p, t in enumerate(ids)
    ]
    return ids, labels


def blockid_batch(tokenizer, seed: int, step: int, size: int, second=None):
    """Half block-id drills, half ``second`` drills (cite drills unless given)."""
    rng = random.Random(f"blockid-drill:{seed}:{step}")
    half = [encode_blockid(tokenizer, rng, "zh" if i % 2 == 0 else "en") for i in range(size // 2)]
    return half + (second or cite_batch)(tokenizer, seed, step, size - size // 2)


def blockid_key_batch(tokenizer, seed: int, step: int, size: int):
    return blockid_batch(tokenizer, seed, step, size, key_batch)


def tag_sentences(sources: list[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    """Each sentence of source k ends with `` [k]`` before its full stop (``...of 2074 [1].``), the
    form the answer's citation takes. The location's ``chars 0-N`` is left as it was."""
    out = []
    for k, (loc, text) in enumerate(sources, 1):
        if lang == "zh":
            text = "".join(f"{s} [{k}]。" for s in text.split("。") if s)
        else:
            text = " ".join(f"{s.rstrip('.')} [{k}]." for s in text.split(". ") if s)
        out.append((loc, text))
    return out


def valcite_batch(tokenizer, seed: int, step: int, size: int, tagged: bool = False):
    """Sources and 1-6 answered questions (:func:`~qwen_blog.universe_corpus.lookup_qa`); the loss
    on the citation digits only -- the value is given, so the citation can follow the value."""
    rng = random.Random(f"valcite-drill:{seed}:{step}")
    out = []
    for i in range(size):
        lang = "zh" if i % 2 == 0 else "en"
        sources, qas = U.lookup_qa(rng, lang)
        if tagged:
            sources = tag_sentences(sources, lang)
        ids, labels = encode_key(tokenizer, U.sources_text(sources, lang), qas, lang)
        # keep the digit after an answer's "[": the citation (refusals have none)
        labels = [
            t if t != IGNORE and tokenizer.decode([ids[p - 1]]).endswith("[") else IGNORE
            for p, t in enumerate(labels)
        ]  # fmt: skip
        out.append((ids, labels))
    return out


def valcite_tagged_batch(tokenizer, seed: int, step: int, size: int):
    return valcite_batch(tokenizer, seed, step, size, tagged=True)


def fused_id(tokenizer, k: int) -> int:
    """The id that stands for `` [k`` (k = 1-9) in fused drills: a spare row of the model's vocab
    (the shipped model pads 3,731 tokens to 3,776 rows), after the tokenizer's last id."""
    return tokenizer.vocab_size + k


def fuse_markers(tokenizer, ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
    """`` [`` followed by a digit k becomes the single id :func:`fused_id` (a label on the digit
    moves to it); a header's ``[k]`` at a line start (``[`` without the space) is left as it is."""
    bracket = tokenizer.encode(" [")[0]
    digits = {tokenizer.encode(str(k))[0]: k for k in range(1, 10)}
    out_ids: list[int] = []
    out_labels: list[int] = []
    p = 0
    while p < len(ids):
        if ids[p] == bracket and p + 1 < len(ids) and ids[p + 1] in digits:
            new = fused_id(tokenizer, digits[ids[p + 1]])
            out_ids.append(new)
            out_labels.append(new if labels[p + 1] != IGNORE else IGNORE)
            p += 2
        else:
            out_ids.append(ids[p])
            out_labels.append(labels[p])
            p += 1
    return out_ids, out_labels


def valcite_fused_batch(tokenizer, seed: int, step: int, size: int):
    """valcite-tagged drills with every `` [k`` one token: in the sources and in the answer the
    citation is then the token right after the value (``207`` ``4`` `` [1`` ``].``)."""
    return [
        fuse_markers(tokenizer, ids, labels)
        for ids, labels in valcite_batch(tokenizer, seed, step, size, tagged=True)
    ]


def fuse_init(base: Path, out: Path) -> None:
    """``base`` with the rows of the fused ids set to the rows of the digits they stand for
    (embedding and tied lm_head), saved to ``out``: the ``--base`` of valcite-fused training."""
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    tokenizer = Tokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, device="cpu")
    rows = model.model.embed_tokens.weight
    if fused_id(tokenizer, 9) >= rows.shape[0]:
        raise ValueError(
            f"{base}: no spare vocab rows for the fused markers ({rows.shape[0]} rows)"
        )
    with torch.no_grad():
        for k in range(1, 10):
            rows[fused_id(tokenizer, k)] = rows[tokenizer.encode(str(k))[0]]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def use_name_paths() -> None:
    U.town_path = lambda town, lang: f"{town}.md"


KINDS = {"key": key_batch, "cite": cite_batch, "mixed": mixed_batch, "blockid": blockid_batch,
         "blockid-key": blockid_key_batch, "valcite": valcite_batch,
         "valcite-tagged": valcite_tagged_batch, "valcite-fused": valcite_fused_batch}  # fmt: skip
SFT_KINDS = ("key", "mixed")  # trained inside SFT; the others alone on the lookup stage's runner


def train(args: argparse.Namespace) -> None:
    batch = KINDS[args.kind]
    # drills alone, on the lookup stage's runner (its val: the same drills, seed + 1)
    if args.kind not in SFT_KINDS:
        lookup.drill_batch = batch
        floor = 1.0 if args.min_lr_ratio is None else args.min_lr_ratio  # constant lr by default
        settings = {"micro_batch_size": 16, "lr": args.lr, "warmup_steps": 10, "max_steps": args.steps,
                    "eval_every": 50, "save_every": 100, "min_lr_ratio": floor}  # fmt: skip
        lookup.run_stage(Path(args.base), Path(args.out), settings, args.seed, "cpu", True, False)
        return
    lookup.answer_drill_batch = batch  # sft --answer-drills N draws its extra micro-batch from here
    argv = ["--base", str(args.base), "--data", str(args.data), "--out", str(args.out),
            "--max-len", "640", "--micro-batch-size", "8", "--lr", str(args.lr), "--warmup-steps", "20",
            "--max-steps", str(args.steps), "--eval-every", "100", "--save-every", "100",
            "--keep-last", "20", "--answer-drills", "16", "--micro-batch-tokens", "2048",
            "--precision", "fp32", "--device", "cpu", "--seed", str(args.seed)]  # fmt: skip
    if args.min_lr_ratio is not None:
        argv += ["--min-lr-ratio", str(args.min_lr_ratio)]
    sft.run(sft.build_parser().parse_args(argv))


@contextmanager
def towns_from(split: str) -> Iterator[None]:
    """Draw every drill's towns from ``split`` (``universe_corpus`` always draws training towns)."""
    towns = U.towns
    U.towns = lambda lang, _: towns(lang, split)
    try:
        yield
    finally:
        U.towns = towns


@torch.no_grad()
def probe(args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """Teacher-forced accuracy per decision on drills built from ``--split`` towns."""
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    tokenizer = Tokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.float32, device="cpu"
    ).eval()

    def hits(ids: list[int], positions: list[int]) -> bool:
        pred = model(torch.tensor([ids]))[0].argmax(-1)
        return all(pred[p - 1].item() == ids[p] for p in positions)

    with towns_from(args.split):
        counts: dict[str, list[int]] = {}
        rng = random.Random("probe")
        for i in range(120):
            lang = "zh" if i % 2 == 0 else "en"
            sources, qas = U.lookup_qa(rng, lang)
            if args.tagged:
                sources = tag_sentences(sources, lang)
            for qa in qas:
                ids, labels = encode_key(tokenizer, U.sources_text(sources, lang), [qa], lang)
                if args.fused:
                    ids, labels = fuse_markers(tokenizer, ids, labels)
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
            if args.fused:
                ids, labels = fuse_markers(tokenizer, ids, labels)
            c = counts.setdefault("cite_drill", [0, 0])
            c[0] += hits(ids, [p for p, t in enumerate(labels) if t != IGNORE])
            c[1] += 1
    print(args.model, args.split, {k: f"{a}/{b}" for k, (a, b) in counts.items()})
    return {k: (a, b) for k, (a, b) in counts.items()}


def _block_spans(tokenizer, text: str, n_blocks: int, ids: list[int]) -> list[tuple[int, int]]:
    """Token ranges of each block's text (after its header line; the last token of a block left out,
    it may merge with the separator)."""
    spans, start = [], 0
    for k in range(1, n_blocks + 1):
        t0 = text.index("\n", text.index(f"[{k}] (", start)) + 1
        end = text.index(f"\n\n[{k + 1}] (", t0) if k < n_blocks else len(text)
        prefix = tokenizer.encode(text[:end])
        a, z = len(tokenizer.encode(text[:t0])), len(prefix)
        while ids[:z] != prefix[:z]:
            z -= 1
        spans.append((a, z - 1))
        start = end
    return spans


def _softmax_probe(x_train, y_train, x_test, y_test, steps: int = 600) -> float:
    """Held-out accuracy of an L2-regularised softmax regression on standardised features."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-5
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    w = torch.zeros(x_train.shape[1], 4, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    with torch.enable_grad():  # the caller collects features under no_grad
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(x_train @ w + b, y_train) + 1e-3 * (w**2).sum()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return ((x_test @ w + b).argmax(-1) == y_test).float().mean().item()


@torch.no_grad()
def linear_probe(args: argparse.Namespace) -> dict[str, float]:
    """Accuracy of reading the block number (1-4) from each layer's residual stream at the tokens of
    the sources' text; ``position`` = the token position alone (one-hot, 8-token bins)."""
    from tinyqwen import AutoModelForCausalLM, Tokenizer, trace

    tokenizer = Tokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.float32, device="cpu"
    ).eval()

    def collect(split: str, n: int):
        rng = random.Random(f"linear-probe:{split}")
        feats, blocks, positions = [], [], []
        for i in range(n):
            lang = "zh" if i % 2 == 0 else "en"
            picked, facts, _ = U._drill_towns(rng, lang)
            text = U.sources_text(U._sources(rng, picked, facts, lang), lang)
            ids = tokenizer.encode(text)
            with trace.capture() as rec:
                model(torch.tensor([ids]))
            residual = [t[0] for name, t in rec if name == "embed" or name.endswith(".residual")]
            hidden = torch.stack(residual)  # [L + 1, T, H]
            for k, (a, z) in enumerate(_block_spans(tokenizer, text, len(picked), ids)):
                feats.append(hidden[:, a:z])
                blocks += [k] * (z - a)
                positions += range(a, z)
        pos = torch.tensor(positions) // 8
        return (
            torch.cat(feats, 1),
            torch.tensor(blocks),
            torch.nn.functional.one_hot(pos.clamp(max=63), 64).float(),
        )

    with towns_from("train"):
        x_train, y_train, p_train = collect("train", 200)
    with towns_from("test"):
        x_test, y_test, p_test = collect("test", 100)
    result = {"position": _softmax_probe(p_train, y_train, p_test, y_test)}
    for layer in range(x_train.shape[0]):
        result[f"layer {layer}"] = _softmax_probe(x_train[layer], y_train, x_test[layer], y_test)
    print(args.model, {k: round(v, 3) for k, v in result.items()})
    return result


def init(args: argparse.Namespace) -> None:
    """A randomly initialised model of the given shape with the shipped tokenizer: a ``--base`` for
    training drills from scratch."""
    from tinyqwen import Qwen2Config, Qwen2ForCausalLM, Tokenizer

    shipped = Qwen2Config.from_pretrained(ASSET_DIR)
    config = Qwen2Config.from_dict({
        **shipped.to_dict(), "num_hidden_layers": args.layers, "hidden_size": args.hidden,
        "intermediate_size": 3 * args.hidden, "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads, "torch_dtype": "float32"})  # fmt: skip
    torch.manual_seed(args.seed)
    Qwen2ForCausalLM(config).save_pretrained(args.out)
    Tokenizer.from_pretrained(ASSET_DIR).save_pretrained(args.out)
    print(f"{args.out}: {args.layers} layers x {args.hidden}, {args.heads}/{args.kv_heads} heads")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--kind", choices=list(KINDS), required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--base", default=str(ASSET_DIR))
    t.add_argument("--data", default="runs/universe/data/sft.jsonl")
    t.add_argument("--seed", type=int, default=0, help="another seed: other drills")
    t.add_argument(
        "--min-lr-ratio",
        type=float,
        default=None,
        help="cosine decay to lr x this (default: constant lr for drills alone, sft's own default for key/mixed)",
    )
    q = sub.add_parser("probe")
    q.add_argument("--model", default=str(ASSET_DIR))
    q.add_argument("--split", default="test", choices=["train", "test"])
    q.add_argument(
        "--tagged", action="store_true", help="sources as valcite-tagged drills show them"
    )
    q.add_argument("--fused", action="store_true", help="every ' [k' one token, as valcite-fused")
    lp = sub.add_parser("linear-probe")
    lp.add_argument("--model", default=str(ASSET_DIR))
    fi = sub.add_parser("fuse-init")
    fi.add_argument("--base", default=str(ASSET_DIR))
    fi.add_argument("--out", required=True)
    i = sub.add_parser("init")
    i.add_argument("--out", required=True)
    i.add_argument("--layers", type=int, default=4)
    i.add_argument("--hidden", type=int, default=256)
    i.add_argument("--heads", type=int, default=4)
    i.add_argument("--kv-heads", type=int, default=2)
    i.add_argument("--seed", type=int, default=0)
    for s in (t, q, lp, i, fi):
        s.add_argument("--name-paths", action="store_true")
    args = p.parse_args(argv)
    if args.name_paths:
        use_name_paths()
    if args.cmd == "train":
        train(args)
    elif args.cmd == "init":
        init(args)
    elif args.cmd == "fuse-init":
        fuse_init(Path(args.base), Path(args.out))
    elif args.cmd == "probe":
        probe(args)
    else:
        linear_probe(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
