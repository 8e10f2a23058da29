"""Class-conditional autoregressive image transformer over patch tokens, sampled with a KV cache.

The data arrive as pixel tokens t [B, H*W*C] in [0, layout.levels) (raster order, a pixel's
channels adjacent). To keep the sequence short on a CPU the model works on its own coarser tokens:

1. each value is quantised to `levels` grey levels (encoders/images.quantization_tables);
2. the image is padded with black (below and right) to a multiple of the patch size and cut into
   patches of ph x pw pixels (`patch`: one int for square patches, or [ph, pw]), in raster order;
   a patch's ph*pw*C values, read as digits in base `levels`, make one patch token (vocabulary
   levels^(ph*pw*C); for 28x28x1 at levels=2: [2, 4] gives 256 tokens at 98 positions, 2 gives
   16 tokens at 196 positions). Where that exceeds MAX_VOCAB (colour images) the patch's longer
   side is halved until it fits: [2, 4] -> [2, 2] (4096 tokens) for RGB at levels=2.

Sequence layout over P patch positions (0..P-1), class y, patch tokens p:
    input_t  = (class_emb(y) if t == 0 else tok_emb(p[t-1])) + pos_emb[t]
    output_t -> logits over the vocabulary of patch t
Sampling fills one position per step with the shared Trunk's KV cache (models/blocks.py) and maps
the patch tokens back to layout tokens (each level's grey value, cropped to H x W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synthgen.encoders.images import quantization_tables
from synthgen.errors import SynthgenError
from synthgen.models.blocks import Trunk, sample_categorical
from synthgen.models.image_base import ImageGenerator
from synthgen.models.schedules import adamw_warmup_cosine

MAX_VOCAB = 4096  # patch tokens; the output layer has one row each


class ImageTransformer(ImageGenerator):
    input_kind = "tokens"

    def __init__(
        self,
        layout: dict,
        levels: int = 2,
        patch: int | list = (2, 4),
        d_model: int = 96,
        n_layers: int = 4,
        n_heads: int = 4,
        dropout: float = 0.1,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 200,
        batch_size: int = 32,
        temperature: float = 1.0,
        sample_batch: int = 500,
    ):
        super().__init__(layout, batch_size, lr, sample_batch)
        self.save_hyperparameters()
        C, H, W = self.layout.shape
        self.levels = int(levels)
        ph, pw = (patch, patch) if isinstance(patch, int) else patch
        if not 2 <= self.levels <= 256 or min(ph, pw) < 1 or self.levels**C > MAX_VOCAB:
            raise SynthgenError(
                f"model.image.levels={levels}, patch={patch}: need levels in [2, 256] with "
                f"levels^channels <= {MAX_VOCAB} ({C} channel(s)) and patch sides >= 1"
            )
        while self.levels ** (ph * pw * C) > MAX_VOCAB:  # shrink the longer side (colour images)
            ph, pw = (ph, -(-pw // 2)) if pw >= ph else (-(-ph // 2), pw)
        self.ph, self.pw = int(ph), int(pw)
        self.n_values = self.ph * self.pw * C  # values per patch token
        self.vocab = self.levels**self.n_values
        self.hp, self.wp = -(-H // self.ph), -(-W // self.pw)  # patch rows and columns (padded)
        self.n_pos = self.hp * self.wp
        self.weight_decay, self.warmup_steps, self.temperature = weight_decay, warmup_steps, temperature

        # Lookup tables: layout token -> model level, model level -> layout token (via grey values).
        q_in, dq_in = quantization_tables(self.layout.levels)
        q_model, dq_model = quantization_tables(self.levels)
        self.register_buffer("to_level", torch.from_numpy(q_model[dq_in]), persistent=False)  # [layout.levels]
        self.register_buffer("to_token", torch.from_numpy(q_in[dq_model]), persistent=False)  # [levels]
        powers = self.levels ** torch.arange(self.n_values - 1, -1, -1, dtype=torch.long)
        self.register_buffer("powers", powers, persistent=False)  # [ph*pw*C], first value most significant

        self.cls_emb = nn.Embedding(self.n_classes, d_model)  # the BOS token of each class
        self.tok_emb = nn.Embedding(self.vocab, d_model)
        self.pos_emb = nn.Parameter(torch.zeros(1, self.n_pos, d_model))
        self.trunk = Trunk(d_model, n_layers, n_heads, dropout)
        self.head = nn.Linear(d_model, self.vocab)
        self.apply(self._init_weights)
        nn.init.normal_(self.pos_emb, std=0.02)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """GPT-2 style: small normal weights, zero biases (LayerNorm keeps its defaults)."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    # ---- layout tokens <-> patch tokens -----------------------------------------------------------
    def to_patches(self, t: torch.Tensor) -> torch.Tensor:
        """Layout tokens [B, H*W*C] -> patch tokens [B, P]."""
        C, H, W = self.layout.shape
        ph, pw, B = self.ph, self.pw, len(t)
        x = self.to_level[t].view(B, H, W, C)
        x = F.pad(x, (0, 0, 0, self.wp * pw - W, 0, self.hp * ph - H))  # black below and right
        x = x.view(B, self.hp, ph, self.wp, pw, C).permute(0, 1, 3, 2, 4, 5)  # [B, hp, wp, ph, pw, C]
        return (x.reshape(B, self.n_pos, self.n_values) * self.powers).sum(-1)

    def from_patches(self, p: torch.Tensor) -> torch.Tensor:
        """Patch tokens [B, P] -> layout tokens [B, H*W*C] (the padding is cropped)."""
        C, H, W = self.layout.shape
        ph, pw, B = self.ph, self.pw, len(p)
        digits = (p.unsqueeze(-1) // self.powers) % self.levels  # [B, P, ph*pw*C]
        x = digits.view(B, self.hp, self.wp, ph, pw, C).permute(0, 1, 3, 2, 4, 5)  # [B, hp, ph, wp, pw, C]
        x = x.reshape(B, self.hp * ph, self.wp * pw, C)[:, :H, :W]
        return self.to_token[x.reshape(B, -1)]

    # ---- training ---------------------------------------------------------------------------------
    def forward(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Patch tokens [B, P] and labels [B] -> logits [B, P, vocab] (position t predicts p[:, t])."""
        x = torch.cat([self.cls_emb(y).unsqueeze(1), self.tok_emb(p[:, :-1])], 1) + self.pos_emb  # [B, P, d]
        return self.head(self.trunk(x))

    def _loss(self, batch) -> torch.Tensor:
        t, y = batch
        p = self.to_patches(t)
        return F.cross_entropy(self(p, y).flatten(0, 1), p.flatten())  # nats per patch token

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log_train_losses(len(batch[0]), train_loss=loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log(
            "val_loss",
            self._loss(batch),
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            sync_dist=True,
            batch_size=len(batch[0]),
        )

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.lr, self.weight_decay, self.warmup_steps)

    # ---- sampling -----------------------------------------------------------------------------------
    def sample_images(self, labels: torch.Tensor, generator: torch.Generator, use_cache: bool = True) -> torch.Tensor:
        """labels int64 [b] -> layout tokens [b, H*W*C], one patch per step. use_cache=False recomputes
        the whole prefix each step (the reference the KV cache must match; slow)."""
        b, P = len(labels), self.n_pos
        x = self.cls_emb(labels).unsqueeze(1) + self.pos_emb[:, :1]  # [b, 1, d]: the prefill
        cache = self.trunk.new_cache(b, P, x) if use_cache else None
        seq, out = x, labels.new_zeros(b, P)
        for t in range(P):
            h = (self.trunk(x, cache) if use_cache else self.trunk(seq))[:, -1]  # [b, d]
            out[:, t] = sample_categorical(self.head(h), generator, self.temperature)
            if t + 1 < P:
                x = self.tok_emb(out[:, t : t + 1]) + self.pos_emb[:, t + 1 : t + 2]  # [b, 1, d]
                seq = seq if use_cache else torch.cat([seq, x], 1)
        return self.from_patches(out)
