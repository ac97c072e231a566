"""Sparse mixture-of-experts MLP (Qwen2-MoE, Qwen3-MoE) and its load-balancing loss, in one file.

In an MoE layer the one big SwiGLU MLP is replaced by ``num_experts`` small ones (``moe_intermediate_size``
wide) and a *router* that sends every token to only ``num_experts_per_tok`` (= k) of them:

    router_logits = gate(x)                         # [N, E]   one linear layer, no bias
    probs         = softmax(router_logits)          # [N, E]   in fp32
    w, idx        = top_k(probs, k)                 # [N, k]   the k best experts of each token
    w             = w / w.sum(-1)   (norm_topk_prob) # renormalise so the k weights sum to 1
    y[n]          = sum_j w[n, j] * expert[idx[n, j]](x[n])

Only the experts that received at least one token are run, each on exactly its tokens. Qwen3-30B-A3B
has 128 experts and k = 8, so each token touches 8/128 of the expert weights: 30B parameters, ~3B active.

Qwen2-MoE adds a *shared expert*, a dense SwiGLU every token passes through, scaled by a learned
sigmoid gate: ``y += sigmoid(shared_expert_gate(x)) * shared_expert(x)``.

    >>> import torch
    >>> from tinyqwen.config import Qwen2Config
    >>> from tinyqwen.model import Qwen2MLP
    >>> cfg = Qwen2Config(model_type="qwen3_moe", hidden_size=32, num_attention_heads=4,
    ...                   num_key_value_heads=2, num_experts=8, num_experts_per_tok=2,
    ...                   moe_intermediate_size=16)
    >>> block = SparseMoeBlock(cfg, layer_idx=0, expert=Qwen2MLP)
    >>> out, router_logits = block(torch.randn(1, 5, 32))
    >>> out.shape, router_logits.shape
    (torch.Size([1, 5, 32]), torch.Size([5, 8]))

Module and parameter names are transformers' checkpoint names (``mlp.gate.weight``,
``mlp.experts.3.up_proj.weight``, ``mlp.shared_expert_gate.weight``), so Hub checkpoints load as they are.

``load_balancing_loss`` is the Switch-Transformer auxiliary loss transformers adds during training
(``output_router_logits=True``, weight ``router_aux_loss_coef``): ``E * sum_e f_e * P_e`` with ``f_e`` the
fraction of top-k assignments that went to expert ``e`` and ``P_e`` its mean router probability, over all
sparse layers (and real tokens only, given an attention mask). It is 1.0 (times k) for a perfectly even
router, larger when a few experts take most tokens.

Limits: experts run one after another (a Python loop over the experts that were hit), which is what
transformers' eager path does too; no expert parallelism, no capacity limit / token dropping.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tinyqwen import trace
from tinyqwen.config import Qwen2Config


def route(
    router_logits: torch.Tensor, top_k: int, norm_topk_prob: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Router logits ``[N, E]`` -> (weights ``[N, k]`` in the logits' dtype, expert ids ``[N, k]``)."""
    probs = torch.softmax(router_logits, dim=-1, dtype=torch.float32)  # [N, E]
    weights, experts = torch.topk(probs, top_k, dim=-1)  # [N, k], largest first
    if norm_topk_prob:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights.to(router_logits.dtype), experts


class SparseMoeBlock(nn.Module):
    """Router + experts (+ the gated shared expert for ``qwen2_moe``). ``forward`` returns
    ``(y [B, T, H], router_logits [B*T, E])``.

    ``expert`` builds one SwiGLU MLP, ``expert(config, intermediate_size=..., name=...)``: it is
    ``tinyqwen.model.Qwen2MLP``, passed in by the decoder layer (so this file need not import the
    model file that imports it)."""

    def __init__(
        self, config: Qwen2Config, layer_idx: int, expert: Callable[..., nn.Module]
    ) -> None:
        super().__init__()
        self.name = name = f"layers.{layer_idx}.mlp"
        self.num_experts = config.num_experts
        self.top_k = config.num_experts_per_tok
        self.norm_topk_prob = config.norm_topk_prob
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)  # the router
        self.experts = nn.ModuleList(
            expert(
                config, intermediate_size=config.moe_intermediate_size, name=f"{name}.experts.{e}"
            )
            for e in range(config.num_experts)
        )
        self.has_shared_expert = config.model_type == "qwen2_moe"
        if self.has_shared_expert:
            size = config.shared_expert_intermediate_size
            self.shared_expert = expert(
                config, intermediate_size=size, name=f"{name}.shared_expert"
            )
            self.shared_expert_gate = nn.Linear(config.hidden_size, 1, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, H = x.shape
        x = x.reshape(B * T, H)  # [N, H]: routing is per token, batch and time do not matter
        router_logits = self.gate(x)  # [N, E]
        weights, experts = route(router_logits, self.top_k, self.norm_topk_prob)  # [N, k] each

        # inference: all experts' weights packed into two tensors (see _packed_weights)
        packed = None if trace.active() else self._packed_weights()
        if B * T == 1:  # one token (decoding one sequence): just its k experts, in id order
            y = self._one_token(x, weights[0], experts[0], packed)
        elif packed is not None:  # one grouped matmul for gate+up, one for down
            y = self._grouped_packed(x, weights, experts, *packed)
        else:
            y = self._grouped(x, weights, experts)

        if self.has_shared_expert:  # Qwen2-MoE: a dense expert for every token, sigmoid-gated
            y = y + torch.sigmoid(self.shared_expert_gate(x)) * self.shared_expert(x)
        if trace.active():
            probs = torch.softmax(router_logits.float(), -1)  # [N, E]
            # experts: [N, k] chosen expert ids; expert_weights: [N, k]
            trace.record(
                self.name, router_probs=probs, experts=experts, expert_weights=weights, out=y
            )
        return y.reshape(B, T, H), router_logits

    def _packed_weights(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Inference only (no grad): every expert's ``[gate; up]`` weights as one ``[E, 2I, H]``
        tensor and ``down`` as ``[E, H, I]``, built once. The experts' own parameters are then views
        into these (``experts.3.up_proj.weight`` is ``gate_up[3, I:]``: same Parameter objects, new
        storage), so this costs no memory, the names stay the checkpoint's, and an optimizer that
        holds the parameters keeps updating the weights the model uses. None while training, or when an expert is not a plain
        ``nn.Linear`` any more (e.g. LoRA-wrapped); the per-expert path is used then."""
        if torch.is_grad_enabled():
            return None
        packed = getattr(self, "_packed", None)
        first, last = self.experts[0], self.experts[-1]
        if packed is not None and (
            first.gate_proj.weight.data_ptr() == packed[0][0].data_ptr()
            and last.down_proj.weight.data_ptr() == packed[1][-1].data_ptr()
        ):
            return packed
        projections = [p for ex in self.experts for p in (ex.gate_proj, ex.up_proj, ex.down_proj)]
        if any(not isinstance(p, nn.Linear) or p.weight.is_meta for p in projections):
            return None
        with torch.inference_mode(False), torch.no_grad():  # ordinary tensors: training still works
            gate_up = torch.stack(
                [torch.cat([ex.gate_proj.weight, ex.up_proj.weight]) for ex in self.experts]
            )  # [E, 2I, H]
            down = torch.stack([ex.down_proj.weight for ex in self.experts])  # [E, H, I]
            size = first.gate_proj.out_features
            for e, ex in enumerate(self.experts):
                views = ((ex.gate_proj, gate_up[e, :size]), (ex.up_proj, gate_up[e, size:]),
                         (ex.down_proj, down[e]))  # fmt: skip
                for linear, view in views:
                    # swap the storage, keep the Parameter object (an optimizer may hold it)
                    linear.weight.data = view
        self._packed = (gate_up, down)
        return self._packed

    def _grouped_packed(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        experts: torch.Tensor,
        gate_up: torch.Tensor,
        down: torch.Tensor,
    ) -> torch.Tensor:
        """``_grouped`` on packed weights: the (token, expert) rows sorted by expert, then one grouped
        matmul for gate+up and one for down (``F.grouped_mm``, a loop where torch lacks it)."""
        flat = experts.reshape(-1)  # [N*k]
        order = flat.argsort(stable=True)  # [N*k] slots grouped by expert
        tokens = order // self.top_k  # [N*k] the token of each slot
        counts = torch.bincount(flat, minlength=self.num_experts)  # [E]
        xs = x[tokens]  # [N*k, H]
        if hasattr(F, "grouped_mm"):
            offsets = counts.cumsum(0).to(torch.int32)  # [E] end row of each expert's group
            gu = F.grouped_mm(xs, gate_up.transpose(1, 2), offs=offsets)  # [N*k, 2I]
            gate, up = gu.chunk(2, dim=-1)
            out = F.grouped_mm(F.silu(gate) * up, down.transpose(1, 2), offs=offsets)  # [N*k, H]
        else:
            out = torch.empty_like(xs)
            start = 0
            for e, n in enumerate(counts.tolist()):
                if n:
                    gate, up = F.linear(xs[start : start + n], gate_up[e]).chunk(2, dim=-1)
                    out[start : start + n] = F.linear(F.silu(gate) * up, down[e])
                    start += n
        out = out * weights.reshape(-1)[order, None]  # [N*k, H]
        return torch.zeros_like(x).index_add_(0, tokens, out.to(x.dtype))

    def _one_token(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        experts: torch.Tensor,
        packed: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``x [1, H]``: the sum of its k experts' outputs, weighted (no grouping needed)."""
        y = torch.zeros_like(x)  # [1, H]
        ids = experts.tolist()
        for j in sorted(range(len(ids)), key=ids.__getitem__):  # ascending ids, as _grouped adds
            e = ids[j]
            if packed is None:
                out = self.experts[e](x)
            else:  # the same SwiGLU with gate and up in one matmul
                gate, up = F.linear(x, packed[0][e]).chunk(2, dim=-1)  # [1, I] each
                out = F.linear(F.silu(gate) * up, packed[1][e])  # [1, H]
            y += (out * weights[j]).to(y.dtype)
        return y

    def _grouped(
        self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor
    ) -> torch.Tensor:
        """``x [N, H]``: run each expert once, on exactly the tokens that chose it."""
        # Group the N*k (token, expert) assignments by expert: after a stable sort, expert e's
        # assignments are one contiguous run of `counts[e]` slots.
        flat = experts.reshape(-1)  # [N*k]
        order = flat.argsort(stable=True)  # [N*k] slot ids, grouped by expert
        counts = torch.bincount(flat, minlength=self.num_experts).tolist()  # one host sync
        flat_weights = weights.reshape(-1)  # [N*k]
        y = torch.zeros_like(x)  # [N, H]
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue  # an expert no token chose costs nothing
            slots = order[start : start + n]  # [n] slot ids of expert e
            start += n
            tokens = slots // self.top_k  # slot s belongs to token s // k
            out = self.experts[e](x[tokens]) * flat_weights[slots, None]  # [n, H]
            y.index_add_(0, tokens, out.to(y.dtype))
        return y


def load_balancing_loss(
    router_logits: tuple[torch.Tensor, ...] | list[torch.Tensor],
    num_experts: int,
    top_k: int,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Switch-Transformer auxiliary loss over all sparse layers (transformers' value exactly).

    ``router_logits``: one ``[B*T, E]`` tensor per sparse layer (``model(..., output_router_logits=True)``);
    ``attention_mask [B, T]`` (1 = real token) leaves padding out of both averages.

        >>> logits = (torch.zeros(4, 8),)              # a router that cannot decide: all equal
        >>> float(load_balancing_loss(logits, num_experts=8, top_k=2))
        2.0
    """
    if not router_logits:
        raise ValueError("load_balancing_loss needs the router logits of at least one MoE layer")
    device = router_logits[0].device
    assigned = torch.zeros(num_experts, device=device)  # [E] top-k assignments per expert
    prob_sum = torch.zeros(num_experts, device=device)  # [E] summed router probabilities
    rows = torch.zeros((), device=device)  # number of (real) tokens over all layers
    mask = None if attention_mask is None else attention_mask.reshape(-1, 1).float().to(device)
    for logits in router_logits:
        probs = torch.softmax(logits.float(), dim=-1)  # [N, E]
        chosen = F.one_hot(torch.topk(probs, top_k, dim=-1).indices, num_experts).sum(1)  # [N, E]
        if mask is None:
            assigned = assigned + chosen.sum(0)
            prob_sum = prob_sum + probs.sum(0)
            rows = rows + probs.shape[0]
        else:
            assigned = assigned + (chosen * mask).sum(0)
            prob_sum = prob_sum + (probs * mask).sum(0)
            rows = rows + mask.sum()
    fraction = assigned / rows  # f_e: share of assignments (sums to k)
    mean_prob = prob_sum / rows  # P_e: mean router probability (sums to 1)
    return num_experts * torch.sum(fraction * mean_prob)
