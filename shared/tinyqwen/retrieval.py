"""Qwen3-Embedding and Qwen3-Reranker: the prompts and scoring their model cards document.

Both are ordinary Qwen3 checkpoints used in a special way, so they load like any other model
(``LLM.from_pretrained``) and these functions add the recipe:

**Embedding** (Qwen3-Embedding-0.6B/4B/8B). A query is written as
``"Instruct: {task}\\nQuery:{query}"`` (documents as they are); the tokenizer appends
``<|endoftext|>``; the embedding is the final-norm hidden state of that last token, read from a
left-padded batch, L2-normalised. The models are trained with Matryoshka learning, so the first
``dimensions`` components, re-normalised, are a smaller embedding (``truncate_embeddings``).

    >>> embedding_query("Given a web search query, retrieve relevant passages", "什么是 RoPE？")
    'Instruct: Given a web search query, retrieve relevant passages\\nQuery:什么是 RoPE？'

**Reranking** (Qwen3-Reranker). Each (query, document) pair becomes one chat prompt that asks
whether the document meets the query, with thinking pre-filled as empty; the score is
``P(yes) = softmax([logit_no, logit_yes])[1]`` at the last position (``rerank_prompt``, ``rerank``).

    >>> print(rerank_prompt("q?", "a doc")[-60:])
    <Document>: a doc<|im_end|>
    <|im_start|>assistant
    <think>
    <BLANKLINE>
    </think>
    <BLANKLINE>

Limits: long inputs are cut to the context on the right (embedding) or the document is cut
(reranking) with a warning; the ``yes``/``no`` tokens must exist in the vocabulary as whole tokens
(they do in every Qwen tokenizer).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tokenizer import Tokenizer

DEFAULT_RERANK_INSTRUCTION = (
    "Given a web search query, retrieve relevant passages that answer the query"
)
RERANK_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and "
    'the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def embedding_query(instruction: str, query: str) -> str:
    """Qwen3-Embedding's query format (documents get no instruction)."""
    return f"Instruct: {instruction}\nQuery:{query}"


def truncate_embeddings(embeddings: np.ndarray, dimensions: int | None) -> np.ndarray:
    """Keep the first ``dimensions`` components of each row and L2-normalise again (MRL)."""
    if dimensions is None:
        return embeddings
    if not 0 < dimensions <= embeddings.shape[1]:
        raise ValueError(f"dimensions must be in 1..{embeddings.shape[1]}, got {dimensions}")
    cut = embeddings[:, :dimensions]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return (cut / np.maximum(norms, 1e-12)).astype(np.float32)


def appended_special_tokens(directory: str | Path) -> list[str]:
    """Special tokens the checkpoint's tokenizer appends to a single text (its ``post_processor``
    ``TemplateProcessing``): ``["<|endoftext|>"]`` for Qwen3-Embedding, ``[]`` for chat models."""
    file = Path(directory) / "tokenizer.json"
    if not file.is_file():
        return []
    try:
        post = json.loads(file.read_text(encoding="utf-8")).get("post_processor") or {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []  # Tokenizer.from_pretrained reports a broken file
    steps = post.get("processors", [post]) if post.get("type") == "Sequence" else [post]
    for step in steps:
        if step.get("type") != "TemplateProcessing":
            continue
        items = step.get("single") or []
        seen_text = False
        tail: list[str] = []
        for item in items:
            if "Sequence" in item:
                seen_text = True
            elif "SpecialToken" in item and seen_text:
                tail.append(item["SpecialToken"]["id"])
        return tail
    return []


def rerank_prompt(query: str, document: str, instruction: str | None = None) -> str:
    """The Qwen3-Reranker prompt for one (query, document) pair."""
    body = (
        f"<Instruct>: {instruction or DEFAULT_RERANK_INSTRUCTION}\n"
        f"<Query>: {query}\n<Document>: {document}"
    )
    return RERANK_PREFIX + body + RERANK_SUFFIX


def yes_no_scores(
    model: Qwen2ForCausalLM,
    prompts: list[list[int]],
    yes_id: int,
    no_id: int,
    pad_id: int = 0,
    batch_size: int = 8,
) -> list[float]:
    """``P(yes)`` against ``no`` at the last position of each prompt (left-padded batches)."""
    scores: list[float] = []
    device = model.device
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for b, p in enumerate(chunk):
            ids[b, width - len(p) :] = torch.tensor(p)
            mask[b, width - len(p) :] = 1
        with torch.no_grad():
            logits = model(ids.to(device), attention_mask=mask.to(device), logits_to_keep=1)
        pair = logits[:, -1, [no_id, yes_id]]  # [B, 2]
        scores += torch.log_softmax(pair, dim=-1)[:, 1].exp().tolist()
    return scores


def rerank(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    query: str,
    documents: list[str],
    instruction: str | None = None,
    batch_size: int = 8,
) -> list[float]:
    """Qwen3-Reranker relevance in [0, 1] of each document for ``query`` (higher = more relevant).

    The query and documents are encoded as plain text: special-token strings inside them cannot
    end the user turn."""
    yes_id, no_id = tokenizer.token_to_id("yes"), tokenizer.token_to_id("no")
    if yes_id is None or no_id is None:
        raise ValueError("this tokenizer has no single 'yes'/'no' tokens; not a Qwen reranker")
    prefix = tokenizer.encode(RERANK_PREFIX, allowed_special="all")
    suffix = tokenizer.encode(RERANK_SUFFIX, allowed_special="all")
    room = int(model.config.max_position_embeddings) - len(prefix) - len(suffix)
    prompts = []
    for i, doc in enumerate(documents):
        # encoded whole, as the model card's tokenizer call does (BPE merges across ": " + doc)
        body = tokenizer.encode(
            f"<Instruct>: {instruction or DEFAULT_RERANK_INSTRUCTION}\n<Query>: {query}\n"
            f"<Document>: {doc}"
        )
        if len(body) > room:
            warnings.warn(f"documents[{i}] cut to fit the context ({room} tokens)", stacklevel=2)
            body = body[:room]
        prompts.append(prefix + body + suffix)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return yes_no_scores(model, prompts, yes_id, no_id, pad, batch_size)
