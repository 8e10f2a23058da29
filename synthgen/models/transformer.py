"""Any-order autoregressive transformer over column tokens (one token per column).

Training draws a random column order per row, so the model learns p(x_j | any subset of other
columns): the same network samples unconditionally or conditioned on any set of columns, with
the fixed columns simply placed first in the order.

Sequence layout for an order pi over C columns (positions 0..C-1):
    input_t  = [BOS if t == 0 else value(pi[t-1]) + col_in(pi[t-1])] + col_query(pi[t])
    output_t -> logits over the vocabulary of column pi[t]
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synthgen.models.base import TabularGenerator
from synthgen.models.blocks import Trunk, gumbel_argmax


class TabularTransformer(TabularGenerator):
    def __init__(self, layout: dict, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, dropout: float = 0.1,
                 lr: float = 3e-3, weight_decay: float = 0.01, batch_size: int = 512, any_order: bool = True,
                 temperature: float = 1.0):
        super().__init__(layout, batch_size, lr)
        self.save_hyperparameters()
        C, V = self.n_columns, sum(self.layout.cardinalities)
        self.any_order, self.temperature, self.weight_decay = any_order, temperature, weight_decay
        self.register_buffer("offsets", torch.tensor(self.layout.offsets, dtype=torch.long), persistent=False)
        # vocab_mask[c, v]: token v belongs to column c  [C, V]
        mask = torch.zeros(C, V, dtype=torch.bool)
        for c, (o, k) in enumerate(zip(self.layout.offsets, self.layout.cardinalities)):
            mask[c, o:o + k] = True
        self.register_buffer("vocab_mask", mask, persistent=False)
        self.tok_emb = nn.Embedding(V, d_model)
        self.col_in = nn.Embedding(C, d_model)
        self.col_query = nn.Embedding(C, d_model)
        self.bos = nn.Parameter(torch.zeros(1, 1, d_model))
        self.trunk = Trunk(d_model, n_layers, n_heads, dropout)
        self.head = nn.Linear(d_model, V, bias=True)

    # ---- training ------------------------------------------------------------------------------
    def _orders(self, B: int) -> torch.Tensor:
        C = self.n_columns
        if self.any_order and self.training:
            return torch.rand(B, C, device=self.device).argsort(1)
        return torch.arange(C, device=self.device).expand(B, C)

    def forward(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """x: tokens [B, C] (column-local ids), order: [B, C] -> masked logits [B, C, V]."""
        B, C = x.shape
        glob = x.gather(1, order) + self.offsets[order]  # [B, C] global ids in order
        prev = self.tok_emb(glob[:, :-1]) + self.col_in(order[:, :-1])  # [B, C-1, d]
        h = torch.cat([self.bos.expand(B, 1, -1), prev], 1) + self.col_query(order)
        logits = self.head(self.trunk(h))
        return logits.masked_fill(~self.vocab_mask[order], float("-inf")), glob

    def _loss(self, x: torch.Tensor) -> torch.Tensor:
        logits, target = self(x, self._orders(len(x)))
        # Mean over columns of the per-column negative log-likelihood (nats per column).
        return F.cross_entropy(logits.flatten(0, 1), target.flatten())

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch[0])
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self._loss(batch[0])  # eval mode: the fixed column order used for unconditional sampling
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=len(batch[0]))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}

    # ---- sampling with a KV cache -----------------------------------------------------------------
    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """cond: [n, C] with -1 for free columns -> tokens [n, C]. Fixed columns go first."""
        n, C = cond.shape
        fixed = (cond >= 0).all(0)
        order = torch.cat([torch.nonzero(fixed).flatten(), torch.nonzero(~fixed).flatten()]).tolist()
        out = cond.clone()
        cache = self.trunk.new_cache(n, C, self.bos)
        x = self.bos.expand(n, 1, -1)
        for t, c in enumerate(order):
            h = self.trunk(x + self.col_query.weight[c], cache)[:, -1]  # [n, d]
            if not fixed[c]:
                o, k = self.layout.offsets[c], self.layout.cardinalities[c]
                logits = F.linear(h, self.head.weight[o:o + k], self.head.bias[o:o + k])  # [n, k]
                out[:, c] = gumbel_argmax(logits, generator, self.temperature)
            if t + 1 < C:
                x = (self.tok_emb(out[:, c] + self.layout.offsets[c]) + self.col_in.weight[c]).unsqueeze(1)
        return out
