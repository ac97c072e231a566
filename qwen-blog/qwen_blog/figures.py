"""``python -m qwen_blog figures --out DIR``: regenerate every figure the walkthrough uses (PNG, matplotlib).

Each figure is drawn from tinyqwen's own code, not from hand-made arrays: masks come from
``tinyqwen.model.build_attention_mask``, RoPE frequencies from ``tinyqwen.rope.rope_inv_freq``, the attention
heatmap and the RMSNorm histogram from a traced forward pass (``tinyqwen.trace.capture``).

    $ python -m qwen_blog figures --out qwen-blog/docs/figures
    >>> from qwen_blog.figures import FIGURES, make_figures
    >>> sorted(FIGURES)[:3]
    ['attention_heatmap', 'causal_vs_padded_mask', 'gqa_grouping']

Every figure is ``FIGSIZE`` inches at ``DPI`` (1000 x 600 pixels), so tests can check the PNG sizes.
The attention heatmap and RMSNorm figure use ``--model`` (default ``tiny-random``: random weights, so
the pattern is not a trained one; the title says so).

Limits: CJK glyphs need a font with Chinese coverage; figure text is English so that any matplotlib works.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tinyqwen.atomic import atomic_path  # noqa: E402
from tinyqwen.config import Qwen2Config  # noqa: E402
from tinyqwen.model import build_attention_mask  # noqa: E402
from tinyqwen.rope import apply_rope, rope_inv_freq  # noqa: E402

FIGSIZE = (10, 6)
DPI = 100
QWEN25_05B = Qwen2Config()  # the defaults are Qwen2.5-0.5B's shape


def _save(fig: plt.Figure, path: Path) -> None:
    """Write atomically, so an interrupted run never leaves a half-written PNG in the docs."""
    try:
        fig.tight_layout()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=DPI, format="png")
    finally:
        plt.close(fig)


def _mask_image(mask: torch.Tensor) -> np.ndarray:
    """Additive mask -> 1 where attention is allowed, 0 where blocked."""
    return (mask == 0).float().numpy()


def causal_vs_padded_mask(model_spec: str) -> plt.Figure:
    T = 8
    causal = build_attention_mask(None, T, T, None, torch.float32, torch.device("cpu"), True)
    padding = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]])  # a left-padded row: 3 pads, 5 real tokens
    padded = build_attention_mask(padding, T, T, None, torch.float32, torch.device("cpu"))
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for ax, m, title in (
        (axes[0], causal[0, 0], "causal mask (T=8)"),
        (axes[1], padded[0, 0], "causal + left padding (3 pad tokens)"),
    ):
        ax.imshow(_mask_image(m), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
    fig.suptitle("tinyqwen.model.build_attention_mask: blue = may attend")
    return fig


def sliding_window_mask(model_spec: str) -> plt.Figure:
    T, W = 12, 4
    full = build_attention_mask(None, T, T, None, torch.float32, torch.device("cpu"), True)
    sliding = build_attention_mask(None, T, T, W, torch.float32, torch.device("cpu"))
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for ax, m, title in (
        (axes[0], full[0, 0], "full causal attention"),
        (axes[1], sliding[0, 0], f"sliding window = {W}"),
    ):
        ax.imshow(_mask_image(m), cmap="Greens", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
    fig.suptitle("Sliding-window layers see only the last W keys (kv > q - W)")
    return fig


def rope_frequencies(model_spec: str) -> plt.Figure:
    cfg = QWEN25_05B
    inv_freq, _ = rope_inv_freq(cfg)
    yarn = Qwen2Config(
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    )
    inv_yarn, attn_factor = rope_inv_freq(yarn)
    i = np.arange(len(inv_freq))
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    axes[0].semilogy(i, inv_freq.numpy(), "o-", ms=3, label="rope_theta = 1e6 (Qwen2.5)")
    axes[0].semilogy(
        i,
        rope_inv_freq(Qwen2Config(rope_theta=1e4))[0].numpy(),
        "s-",
        ms=3,
        label="rope_theta = 1e4 (original RoPE)",
    )
    axes[0].semilogy(
        i, inv_yarn.numpy(), "^-", ms=3, label=f"yarn x4 (cos/sin x {attn_factor:.3f})"
    )
    axes[0].set_xlabel("pair index i (head_dim 64 -> 32 pairs)")
    axes[0].set_ylabel("angular frequency theta^(-2i/D)  [rad / token]")
    axes[0].legend()
    axes[0].set_title("RoPE frequency spectrum")
    wavelength = 2 * np.pi / inv_freq.numpy()
    axes[1].semilogy(i, wavelength, "o-", ms=3)
    axes[1].axhline(cfg.max_position_embeddings, color="gray", ls="--", label="32768 tokens")
    axes[1].set_xlabel("pair index i")
    axes[1].set_ylabel("wavelength  [tokens per full turn]")
    axes[1].legend()
    axes[1].set_title("low pairs spin fast (local), high pairs slow (global)")
    return fig


def rope_rotation(model_spec: str) -> plt.Figure:
    cfg = Qwen2Config(hidden_size=4, num_attention_heads=1, num_key_value_heads=1, rope_theta=1e4)
    inv_freq, _ = rope_inv_freq(cfg)  # head_dim 4 -> 2 pairs
    positions = torch.arange(0, 13)
    freqs = positions[:, None].float() * inv_freq  # [T, 2]
    emb = torch.cat((freqs, freqs), -1)  # [T, 4]
    x = torch.tensor([1.0, 0.2, 0.0, 0.9]).expand(len(positions), 1, 1, 4).reshape(1, 1, -1, 4)
    rot = apply_rope(x, emb.cos()[None], emb.sin()[None])[0, 0]  # [T, 4]
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    ax = axes[0]
    pair = rot[:, [0, 2]].numpy()  # pair 0 = (x[0], x[2]) in the split-half layout
    for t, (a, b) in enumerate(pair):
        ax.arrow(0, 0, a, b, head_width=0.03, color=plt.cm.viridis(t / len(pair)), alpha=0.8)
        ax.annotate(str(t), (a * 1.08, b * 1.08), fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)
    ax.set_title("pair (x[0], x[D/2]) rotated by pos * inv_freq[0]")
    # relative position: q(m).k(n) depends only on m - n
    torch.manual_seed(0)
    D = 64
    q, k = torch.randn(D), torch.randn(D)
    inv64, _ = rope_inv_freq(QWEN25_05B)

    def rot_at(v: torch.Tensor, pos: int) -> torch.Tensor:
        f = torch.cat((pos * inv64, pos * inv64))
        return apply_rope(v.view(1, 1, 1, D), f.cos().view(1, 1, D), f.sin().view(1, 1, D)).view(D)

    dist = np.arange(0, 200)
    for m0, style in ((0, "-"), (500, "--")):
        dots = [float(rot_at(q, m0 + d) @ rot_at(k, m0)) for d in dist]
        axes[1].plot(dist, dots, style, label=f"key at position {m0}")
    axes[1].set_xlabel("query position - key position")
    axes[1].set_ylabel("q_rot . k_rot")
    axes[1].legend()
    axes[1].set_title("same curve at any absolute offset: relative position")
    return fig


def gqa_grouping(model_spec: str) -> plt.Figure:
    cfg = QWEN25_05B
    H, Hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    groups = H // Hkv
    fig, ax = plt.subplots(figsize=FIGSIZE)
    colors = plt.cm.tab10(np.arange(Hkv))
    for h in range(H):
        kv = h // groups
        ax.add_patch(plt.Rectangle((h, 2), 0.8, 0.8, color=colors[kv], alpha=0.6))
        ax.text(h + 0.4, 2.4, f"q{h}", ha="center", va="center", fontsize=9)
        ax.plot([h + 0.4, kv * groups + groups / 2 - 0.1], [2, 0.8], color=colors[kv], alpha=0.5)
    for kv in range(Hkv):
        x0 = kv * groups + groups / 2 - 0.6
        ax.add_patch(plt.Rectangle((x0, 0), 1.0, 0.8, color=colors[kv]))
        ax.text(x0 + 0.5, 0.4, f"k{kv},v{kv}", ha="center", va="center", fontsize=9, color="white")
    ax.set_xlim(-0.5, H + 0.5)
    ax.set_ylim(-0.5, 3.3)
    ax.axis("off")
    ax.set_title(
        f"GQA in Qwen2.5-0.5B: {H} query heads share {Hkv} key/value heads "
        f"({groups} per group; KV cache {groups}x smaller)"
    )
    return fig


def _traced(model_spec: str, text: str) -> tuple[list[tuple[str, torch.Tensor]], list[str], str]:
    import tinyqwen
    from tinyqwen.trace import capture

    llm = tinyqwen.connect(model_spec)
    ids = llm.tokenizer.encode(text)
    with torch.inference_mode(), capture() as rec:
        llm.model(torch.tensor([ids]))
    pieces = [llm.tokenizer.decode([i]) for i in ids]
    label = "tiny-random: random weights" if llm.name == "tiny-random" else llm.name
    return rec, pieces, label


def attention_heatmap(model_spec: str) -> plt.Figure:
    rec, pieces, label = _traced(model_spec, "The quick brown fox jumps over the lazy dog.")
    probs = dict(rec)["layers.0.self_attn.probs"][0]  # [H, T, T]
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for ax, h in zip(axes, (0, probs.shape[0] - 1)):
        ax.imshow(probs[h].float().numpy(), cmap="magma", vmin=0)
        ax.set_title(f"layer 0, head {h}")
        ax.set_xticks(range(len(pieces)))
        ax.set_xticklabels([repr(p)[1:-1] for p in pieces], rotation=90, fontsize=7)
        ax.set_yticks(range(len(pieces)))
        ax.set_yticklabels([repr(p)[1:-1] for p in pieces], fontsize=7)
    fig.suptitle(f"attention probabilities (rows sum to 1; upper triangle = 0) — {label}")
    return fig


def rmsnorm_before_after(model_spec: str) -> plt.Figure:
    rec, _, label = _traced(
        model_spec, "RMSNorm keeps every token's hidden vector at a fixed scale."
    )
    named = dict(rec)
    before = named["layers.0.residual"][
        0
    ].float()  # [T, H]: hidden state entering layer 1 / final norm
    norm = torch.nn.functional.rms_norm(before, (before.shape[-1],), eps=1e-6)  # weight = 1
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    axes[0].hist(before.flatten().numpy(), bins=80, alpha=0.6, label="before")
    axes[0].hist(norm.flatten().numpy(), bins=80, alpha=0.6, label="after x / rms(x)")
    axes[0].legend()
    axes[0].set_title("values of all hidden units")
    rms_before = before.pow(2).mean(-1).sqrt().numpy()
    rms_after = norm.pow(2).mean(-1).sqrt().numpy()
    axes[1].plot(rms_before, "o-", label="rms before")
    axes[1].plot(rms_after, "s-", label="rms after (= 1)")
    axes[1].set_xlabel("token position")
    axes[1].legend()
    axes[1].set_title("per-token RMS")
    fig.suptitle(f"RMSNorm on layer 0's output — {label}")
    return fig


def kv_cache_growth(model_spec: str) -> plt.Figure:
    cfg = QWEN25_05B
    tokens = np.arange(0, 32769, 512)
    per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim  # K and V
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for bytes_per, name in ((2, "bf16"), (4, "fp32")):
        axes[0].plot(tokens, tokens * per_token * bytes_per / 2**20, label=name)
    mha = 2 * cfg.num_hidden_layers * cfg.num_attention_heads * cfg.head_dim
    axes[0].plot(tokens, tokens * mha * 2 / 2**20, "--", label="bf16 if it were MHA (14 KV heads)")
    axes[0].set_xlabel("tokens in context (batch 1)")
    axes[0].set_ylabel("KV cache [MiB]")
    axes[0].legend()
    axes[0].set_title(f"Qwen2.5-0.5B: {per_token} numbers per token")
    ax = axes[1]
    T_max, steps = 12, [5, 6, 7, 8]
    for row, filled in enumerate(steps):
        for s in range(T_max):
            color = "tab:blue" if s < 5 else ("tab:orange" if s < filled else "whitesmoke")
            ax.add_patch(plt.Rectangle((s, -row), 0.9, 0.8, color=color, ec="gray"))
        ax.text(
            -0.5, -row + 0.4, "prefill" if row == 0 else f"decode {row}", ha="right", va="center"
        )
    ax.set_xlim(-3.5, T_max)
    ax.set_ylim(-len(steps) + 0.5, 1)
    ax.axis("off")
    ax.set_title("one buffer [B, H_kv, T_max, D] allocated once; each step writes one slot")
    return fig


MOE_TEXT = (
    "Mixture-of-experts layers send every token to a few experts. 路由器给每个 token 打分，"
    "只挑 top-k 个专家计算。The quick brown fox jumps over the lazy dog. 1 2 3 4 5 6 7 8 9 10. "
    "def add(a, b):\n    return a + b\n"
)


def moe_model(model_spec: str):
    """The MoE model to trace: ``model_spec`` when it is an MoE checkpoint, else a seeded random
    Qwen3-MoE with the ``qwen3-moe-tiny`` preset's shape (and ``model_spec``'s tokenizer)."""
    import tinyqwen
    from qwen_blog.pretrain import PRESETS

    llm = tinyqwen.connect(model_spec)
    if llm.model.config.is_moe:
        return llm.model, llm.tokenizer, llm.name
    fields = {**PRESETS["qwen3-moe-tiny"]["model"], "vocab_size": llm.model.config.vocab_size}
    torch.manual_seed(0)
    model = tinyqwen.AutoModelForCausalLM.from_config(Qwen2Config.from_dict(fields)).eval()
    model.init_weights(std=0.1)  # tiny-random's scale, so the router logits are not all ~0
    return model, llm.tokenizer, "random qwen3-moe-tiny (untrained router)"


def moe_router_load(model_spec: str) -> plt.Figure:
    from tinyqwen.moe import load_balancing_loss
    from tinyqwen.trace import capture

    model, tokenizer, label = moe_model(model_spec)
    cfg = model.config
    ids = torch.tensor([tokenizer.encode(MOE_TEXT)])
    with torch.inference_mode(), capture() as rec:
        _, router_logits = model(ids, output_router_logits=True)
    named = dict(rec)
    layers = [i for i in range(cfg.num_hidden_layers) if cfg.is_moe_layer(i)]
    E, k, n = cfg.num_experts, cfg.num_experts_per_tok, ids.shape[1]
    load = np.stack([
        np.bincount(named[f"layers.{i}.mlp.experts"].flatten().numpy(), minlength=E) for i in layers
    ])  # [layers, E]: how many of the n tokens chose each expert  # fmt: skip
    aux = load_balancing_loss(router_logits, E, k).item()
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    im = axes[0].imshow(load, cmap="viridis", aspect="auto")
    axes[0].set_xlabel("expert")
    axes[0].set_ylabel("layer")
    axes[0].set_yticks(range(len(layers)))
    axes[0].set_yticklabels(layers)
    axes[0].set_title(f"tokens routed to each expert ({n} tokens, top-{k} of {E})")
    fig.colorbar(im, ax=axes[0])
    axes[1].bar(range(E), load[0] / n, color="tab:blue")
    axes[1].axhline(k / E, color="tab:red", ls="--", label=f"perfectly even: k/E = {k / E:.2f}")
    axes[1].set_xlabel("expert")
    axes[1].set_ylabel(f"share of tokens (layer {layers[0]})")
    axes[1].legend()
    axes[1].set_title(f"load-balancing aux loss {aux:.3f} (even router: {k})")
    fig.suptitle(f"MoE router load on one forward pass — {label}")
    return fig


FIGURES: dict[str, Callable[[str], plt.Figure]] = {
    "causal_vs_padded_mask": causal_vs_padded_mask,
    "sliding_window_mask": sliding_window_mask,
    "rope_frequencies": rope_frequencies,
    "rope_rotation": rope_rotation,
    "gqa_grouping": gqa_grouping,
    "attention_heatmap": attention_heatmap,
    "rmsnorm_before_after": rmsnorm_before_after,
    "kv_cache_growth": kv_cache_growth,
    "moe_router_load": moe_router_load,
}


def make_figures(
    out: str | Path, model_spec: str = "tiny-random", only: Sequence[str] = ()
) -> list[Path]:
    """Draw the figures (all, or those named in ``only``) into ``out``; returns the written paths."""
    unknown = set(only) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figure(s) {sorted(unknown)}; choose from {sorted(FIGURES)}")
    written = []
    for name, draw in FIGURES.items():
        if only and name not in only:
            continue
        path = Path(out) / f"{name}.png"
        _save(draw(model_spec), path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qwen_blog figures", description="Regenerate the walkthrough's figures."
    )
    parser.add_argument("--out", default="docs/figures", help="output directory")
    parser.add_argument("--model", default="tiny-random", help="model for the traced figures")
    parser.add_argument("--only", default="", help="comma-separated figure names")
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    for path in make_figures(args.out, args.model, only):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
