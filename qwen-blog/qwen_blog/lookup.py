"""The lookup stage of ``tiny-universe``: between pretraining and SFT, train one skill -- reading the value
of *this* town's attribute out of numbered sources -- with the loss on the values only.

    python -m qwen_blog universe ...        # runs it as stage 3 of 4 (``OUT/lookup/``)

Each step draws ``micro_batch_size`` fresh drills (:func:`~qwen_blog.universe_corpus.value_drill`, from a
seed and the step number, so ``--resume`` replays the same data): the sources, then up to six answer
openings, each followed by its value::

    [1] Gold Bay has a population of 63899. Gold Bay was founded in 1634.
    [2] White Wood has a population of 66925.
    The population of White Wood is 66925          <- only ``66925`` is a target
    The founding year of Gold Bay is 1634

Why a stage of its own (docs/14-universe.md, E9 and E11): grounded answers fail at *binding* -- the
model picks the right attribute of the wrong town. In pretraining these drills are a few percent of the
tokens and the random facts themselves (unpredictable) dominate their loss; in chat-format SFT the
lookup is one token among long prompts. 1,000 value-only steps from the pretraining checkpoint took the
teacher-forced value on held-out grounded-QA items from 7/51 to 26/51.

The same drills also ride along in SFT (``qwen_blog sft --lookup-drills N``, E14), with a second kind
beside them (``--answer-drills N``, :func:`answer_drill_batch`, E15): tinyrag's numbered sources and
whole answers, so the refusal and the citation ``[n]`` are trained too, not only the value.

Limits: the towns, attributes and sentence forms of :mod:`qwen_blog.universe_corpus` only; one process
(no DDP); the schedule is the shared trainer's (warm-up, cosine).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from qwen_blog.sft import IGNORE, collate
from qwen_blog.trainer import TrainArgs, train
from qwen_blog.universe_corpus import lookup_qa, question_line, sources_text, value_drill

# the preset's "lookup" section: these keys, plus optional "min_lr_ratio" (0.1), "weight_decay" (0.0)
REQUIRED_SETTINGS = (
    "micro_batch_size",
    "lr",
    "warmup_steps",
    "max_steps",
    "eval_every",
    "save_every",
)


def encode_drill(
    tokenizer, sources: str, pairs: list[tuple[str, str]], lang: str
) -> tuple[list[int], list[int]]:
    """Token ids of one drill and its labels (the ids at value tokens, ``IGNORE`` elsewhere).

    The pieces are encoded apart; that equals encoding the whole drill because every split falls where
    the pre-tokenizer splits anyway (before ``" 63899"`` / ``"92279"``, before a newline that follows a
    value). The sources go with the first opening: ``".\\n"`` is one pre-token."""
    ids, labels = [], []
    for j, (opening, value) in enumerate(pairs):
        head = tokenizer.encode((sources if j == 0 else "") + "\n" + opening)
        tail = tokenizer.encode(value if lang == "zh" else " " + value)
        ids += head + tail
        labels += [IGNORE] * len(head) + tail
    return ids, labels


def drill_batch(tokenizer, seed: int, step: int, size: int) -> list[tuple[list[int], list[int]]]:
    """The ``size`` drills of ``step`` (half Chinese, half English): a pure function of the step."""
    rng = random.Random(f"value-drill:{seed}:{step}")
    out = []
    for i in range(size):
        lang = "zh" if i % 2 == 0 else "en"
        sources, pairs = value_drill(rng, lang)
        out.append(encode_drill(tokenizer, sources, pairs, lang))
    return out


def encode_answer_drill(
    tokenizer, sources: str, qas: list[tuple[str, str]], lang: str
) -> tuple[list[int], list[int]]:
    """Token ids of one answer drill and its labels: tinyrag's numbered sources, then each question
    line and its whole answer -- the cited sentence, or the refusal when the town's source is silent.
    Only the answers are targets, so the drill trains the three decisions grounded QA makes: refuse or
    answer (the first answer token), the value, and the citation ``[n]``."""
    ids, labels = [], []
    for j, (question, answer) in enumerate(qas):
        head = tokenizer.encode(
            (sources if j == 0 else "") + "\n\n" + question_line(question, lang) + "\n"
        )
        tail = tokenizer.encode(answer)
        ids += head + tail
        labels += [IGNORE] * len(head) + tail
    return ids, labels


def answer_drill_batch(
    tokenizer, seed: int, step: int, size: int
) -> list[tuple[list[int], list[int]]]:
    """The ``size`` answer drills of ``step`` (half Chinese, half English), e.g.::

        Sources:
        [1] (wiki/gold_bay.md)
        Gold Bay has a population of 63899. ...
        [2] (notes/white_wood.md)
        White Wood has a population of 66925.

        Question: Tell me the population of White Wood.
        The population of White Wood is 66925 [2].        <- trained
        Question: What is the altitude of Gold Bay?
        The documents do not say.                          <- trained

    A pure function of the step; training towns and wordings only (:func:`~qwen_blog.universe_corpus.lookup_qa`)."""
    rng = random.Random(f"answer-drill:{seed}:{step}")
    out = []
    for i in range(size):
        lang = "zh" if i % 2 == 0 else "en"
        sources, qas = lookup_qa(rng, lang)
        out.append(encode_answer_drill(tokenizer, sources_text(sources, lang), qas, lang))
    return out


def run_stage(
    base: Path, out: Path, settings: dict, seed: int, device: str, show_progress: bool, resume: bool
) -> None:
    """Train ``base`` (a checkpoint directory) for ``settings["max_steps"]`` steps into ``out``."""
    from qwen_blog.checkpointing import latest_checkpoint, model_weight_io
    from qwen_blog.distributed import init_distributed
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    info = init_distributed(device)
    tokenizer = Tokenizer.from_pretrained(base)
    pad_id = tokenizer.special_tokens.get("<|endoftext|>", 0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, device=info.device)
    model.train()
    size = settings["micro_batch_size"]
    val = [
        collate(drill_batch(tokenizer, seed + 1, s, size), pad_id, info.device) for s in range(4)
    ]

    save_weights, load_weights = model_weight_io(model, tokenizer)
    args = TrainArgs(
        out=str(out),
        max_steps=settings["max_steps"],
        lr=settings["lr"],
        warmup_steps=settings["warmup_steps"],
        min_lr_ratio=settings.get("min_lr_ratio", 0.1),
        weight_decay=settings.get("weight_decay", 0.0),
        eval_every=settings["eval_every"],
        save_every=settings["save_every"],
        seed=seed,
        show_progress=show_progress,
        extra={"command": "lookup", "base": str(base), "micro_batch_size": size},
    )
    train(
        model,
        lambda step: [collate(drill_batch(tokenizer, seed, step, size), pad_id, info.device)],
        lambda: val,
        save_weights,
        load_weights,
        args,
        info,
        resume=latest_checkpoint(out) if resume else None,
        title="lookup drills (value tokens only)",
    )
