"""Per-sample gradients for synthgen's own layers, for Opacus's hooks (DP-SGD clips each row's gradient).

Opacus computes per-sample gradients layer by layer from the layer's input and the gradient of its
output. Standard layers (Linear, Embedding, LayerNorm) have Opacus's own samplers; SpanInput (a
bias plus an EmbeddingBag over one-hot span offsets, with a buffer, which rules out Opacus's
functorch fallback) gets one here, and GradSampleModule treats it as one layer (its EmbeddingBag
child takes [N, C] indices without offsets, which Opacus's EmbeddingBag sampler does not read).
"""

from __future__ import annotations

import torch
from opacus import GradSampleModule
from opacus.grad_sample.utils import register_grad_sampler

from synthgen.models.heads import SpanInput


@register_grad_sampler(SpanInput)
def span_input_grad_sample(layer: SpanInput, activations: list, backprops: torch.Tensor) -> dict:
    """activations[0]: tokens [N, C]; backprops: d loss / d output [N, d] (already per row).
    The output is bias + sum_c weight[tokens[n, c] + offset[c]], so row n's weight gradient is
    backprops[n] added into each of its C rows: [N, W, d], and its bias gradient is backprops[n]."""
    tokens = activations[0]
    idx = tokens + layer.spans.offset  # [N, C] rows of embed.weight
    n, c = idx.shape
    d = backprops.shape[-1]
    gs = backprops.new_zeros(n, layer.embed.num_embeddings, d)
    gs.scatter_add_(1, idx.unsqueeze(-1).expand(n, c, d), backprops.unsqueeze(1).expand(n, c, d))
    out = {}
    if layer.embed.weight.requires_grad:
        out[layer.embed.weight] = gs
    if layer.bias.requires_grad:
        out[layer.bias] = backprops
    return out


class SynthgenGradSampleModule(GradSampleModule):
    """Opacus's hooks, with SpanInput handled as one layer (no hooks on its EmbeddingBag child)."""

    def iterate_submodules(self, module):
        if isinstance(module, SpanInput):
            yield module
            return
        yield from super().iterate_submodules(module)
