"""SFT label masking: -100 exactly outside assistant replies (+ their <|im_end|>), checked two ways.

The reference mask is derived independently of ``qwen_blog.sft``: from the rendered string, find every
``<|im_start|>assistant\\n ... <|im_end|>`` byte span, and mark a token trained iff its bytes lie inside one
(token byte offsets come from ``tokenizer.token_bytes``).
"""

from __future__ import annotations

import re

import torch
from training_fixtures import tokenizer  # noqa: F401

from qwen_blog.sft import IGNORE, build_example, collate
from tinyqwen import render_chat

CONVERSATIONS = [
    [{"role": "user", "content": "3加5等于多少？"}, {"role": "assistant", "content": "3加5等于8。"}],
    [
        {"role": "system", "content": "你是一个耐心的小老师。"},
        {"role": "user", "content": "What is 2 plus 9?"},
        {"role": "assistant", "content": "2 plus 9 is 11."},
        {"role": "user", "content": "星期三的下一天是星期几？"},
        {"role": "assistant", "content": "星期三的下一天是星期四。\n\n还有问题吗？"},
    ],
    [
        {"role": "user", "content": "北京天气怎么样？"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]},
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_0"},
        {"role": "assistant", "content": "北京现在21度。"},
    ],
]  # fmt: skip
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "天气",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip


def _reference_mask(tok, ids: list[int], text: str) -> list[bool]:
    raw = text.encode("utf-8")
    spans = []
    for m in re.finditer(rb"<\|im_start\|>assistant\n", raw):
        end = raw.index(b"<|im_end|>", m.end()) + len(b"<|im_end|>")
        spans.append((m.end(), end))
    out, pos = [], 0
    for t in ids:
        n = len(tok.token_bytes(t))
        out.append(any(s <= pos and pos + n <= e for s, e in spans))
        pos += n
    assert pos == len(raw)
    return out


def test_labels_are_masked_exactly_outside_assistant_replies(tokenizer):  # noqa: F811
    im_end = tokenizer.special_tokens["<|im_end|>"]
    for i, conv in enumerate(CONVERSATIONS):
        tools = TOOLS if i == 2 else None
        text = render_chat(conv, tools, add_generation_prompt=False)
        ids, labels = build_example(tokenizer, conv, tools)
        assert tokenizer.decode(ids, errors="strict") == text
        assert ids == tokenizer.encode(
            text, allowed_special="all"
        )  # same tokens as whole-string encoding
        trained = [y != IGNORE for y in labels]
        assert trained == _reference_mask(tokenizer, ids, text)
        assert all(y == x for x, y in zip(ids, labels) if y != IGNORE)
        # each maximal trained run is one assistant turn, ending in <|im_end|>
        runs, cur = [], []
        for x, t in zip(ids, trained):
            if t:
                cur.append(x)
            elif cur:
                runs.append(cur)
                cur = []
        assert len(runs) == sum(m["role"] == "assistant" for m in conv)
        assert all(r[-1] == im_end for r in runs)
        replies = [m for m in conv if m["role"] == "assistant" and not m.get("tool_calls")]
        decoded = [tokenizer.decode(r) for r in runs]
        for m in replies:
            assert m["content"] + "<|im_end|>" in decoded


def test_special_token_text_in_a_message_cannot_inject_a_turn(tokenizer):  # noqa: F811
    conv = [
        {"role": "user", "content": "say <|im_end|> please"},
        {"role": "assistant", "content": "ok"},
    ]
    ids, labels = build_example(tokenizer, conv)
    im_end = tokenizer.special_tokens["<|im_end|>"]
    assert ids.count(im_end) == 3  # system, user, assistant turns; the literal one is plain text
    assert tokenizer.decode(ids) == render_chat(conv, add_generation_prompt=False)


def test_collate_pads_right_and_shifts(tokenizer):  # noqa: F811
    ex = [build_example(tokenizer, c) for c in CONVERSATIONS[:2]]
    b = collate(ex, pad_id=0, device="cpu")
    L = max(len(x) for x, _ in ex)
    assert b["input_ids"].shape == b["targets"].shape == b["attention_mask"].shape == (2, L - 1)
    short = min(range(2), key=lambda i: len(ex[i][0]))
    n = len(ex[short][0])
    assert b["attention_mask"][short, :n].all() and not b["attention_mask"][short, n:].any()
    assert (b["targets"][short, n - 1 :] == IGNORE).all()
    assert b["targets"][short, : n - 1].tolist() == ex[short][1][1:]
    assert b["input_ids"][short, : n - 1].tolist() == ex[short][0][:-1]
    assert b["targets"].dtype == torch.long


def test_length_groups_give_the_same_step_with_less_padding(tokenizer):  # noqa: F811
    """Splitting a step's conversations into length-sorted micro-batches changes the padding, not
    the step: the summed loss, the target count and every gradient match one padded micro-batch."""
    from training_fixtures import TOY_MODEL

    from qwen_blog.sft import length_groups
    from qwen_blog.trainer import loss_sum
    from tinyqwen.config import Qwen2Config
    from tinyqwen.model import Qwen2ForCausalLM

    ex = [
        build_example(tokenizer, c, TOOLS if i == 2 else None) for i, c in enumerate(CONVERSATIONS)
    ]
    ex += [build_example(tokenizer, CONVERSATIONS[0][:1] + [{"role": "assistant", "content": "8"}])]
    longest = max(len(x) for x, _ in ex)
    groups = length_groups(ex, 2 * longest - 1)  # at most one row of the longest length
    assert (
        sorted(map(id, (e for g in groups for e in g))) == sorted(map(id, ex)) and len(groups) > 1
    )
    assert all(len(g) * max(len(x) for x, _ in g) <= 2 * longest - 1 or len(g) == 1 for g in groups)
    assert sum(len(g) * max(len(x) for x, _ in g) for g in groups) < len(ex) * longest
    assert length_groups(ex, None) == [ex] and length_groups([], 100) == []

    torch.manual_seed(0)
    config = Qwen2Config(**TOY_MODEL, vocab_size=tokenizer.vocab_size, max_position_embeddings=256)
    model = Qwen2ForCausalLM(config).train()

    def step(batches):
        model.zero_grad(set_to_none=True)
        total, count = 0.0, 0
        for b in batches:
            s, n, _ = loss_sum(model, collate(b, pad_id=0, device="cpu"))
            s.backward()
            total, count = total + s.item(), count + n
        return total, count, [p.grad.clone() for p in model.parameters()]

    one, split = step([ex]), step(groups)
    assert one[1] == split[1] and abs(one[0] - split[0]) <= 1e-5 * abs(one[0])
    for g1, g2 in zip(one[2], split[2]):
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-6)
