"""A TVAE-class variational autoencoder over one-hot token spans.

    tokens [B, C] -> one-hot x [B, V] -> encoder MLP -> (mu, logvar) [B, Z]   (x @ W as an embedding sum)
    z = mu + exp(logvar / 2) * eps -> decoder MLP -> logits [B, V] (one categorical per span)
    loss = sum_c CE(logits_c, token_c) + beta * KL(q(z|x) || N(0, I)), averaged over rows

Every column is categorical here (numbers arrive as quantile-bin tokens), so TVAE's Gaussian
outputs and learned sigmas are not needed: the span cross-entropies from heads.py are the whole
reconstruction term. Sampling draws z ~ N(0, I) and one token per span at `temperature` (the
default config's 0.9 sharpens each column given z; benchmarks/model_defaults.md#vae); fixed
columns are met by rejection sampling (heads.rejection_sample).
"""

from __future__ import annotations

import torch
from torch import nn

from synthgen import seeding
from synthgen.models.base import TabularGenerator
from synthgen.models.heads import SpanHead, SpanInput, generated_distance, mlp
from synthgen.models.schedules import adamw_warmup_cosine


class TabularVAE(TabularGenerator):
    samples_with_autocast = True  # the generator trunk, under generate.precision

    def __init__(
        self,
        layout: dict,
        latent_dim: int = 16,
        encoder_widths: list | tuple = (128, 128),
        decoder_widths: list | tuple = (128, 128),
        beta: float = 0.5,
        lr: float = 2e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        temperature: float = 1.0,
        max_rejection_rounds: int = 50,
        sample_block: int = 4096,
    ):
        super().__init__(layout, batch_size, lr)
        self.save_hyperparameters()
        self.latent_dim, self.beta, self.weight_decay = latent_dim, beta, weight_decay
        self.temperature, self.max_rejection_rounds, self.sample_block = temperature, max_rejection_rounds, sample_block
        self.head = SpanHead(list(decoder_widths)[-1], self.layout.cardinalities)
        self.spans = self.head.spans
        enc = list(encoder_widths)
        # one-hot spans -> features [B, H]; the first layer is a linear map of the one-hot spans
        self.encoder = nn.Sequential(SpanInput(self.layout.cardinalities, enc[0]), nn.ReLU(), mlp(enc))
        self.to_mu = nn.Linear(list(encoder_widths)[-1], latent_dim)
        self.to_logvar = nn.Linear(list(encoder_widths)[-1], latent_dim)
        self.decoder = mlp([latent_dim, *decoder_widths])  # z -> features [B, H'], then head -> [B, V]
        self.last_acceptance_rate = 1.0
        self._val_rows: list[torch.Tensor] = []

    # ---- training ------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, eps: torch.Tensor | None = None):
        """tokens [B, C] -> (logits [B, V], mu [B, Z], logvar [B, Z])."""
        h = self.encoder(tokens)
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20, 10)
        if eps is None:
            eps = torch.randn_like(mu)
        z = mu + (0.5 * logvar).exp() * eps
        return self.head(self.decoder(z)), mu, logvar

    def _loss(self, tokens: torch.Tensor, eps: torch.Tensor | None = None):
        logits, mu, logvar = self(tokens, eps)
        rec = self.spans.cross_entropy(logits, tokens).sum(1).mean()  # nats per row
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        return rec + self.beta * kl, rec, kl

    def training_step(self, batch, batch_idx):
        loss, rec, kl = self._loss(batch[0])
        B = len(batch[0])
        self.log_train_losses(B, train_loss=loss, train_rec=rec, train_kl=kl)
        return loss

    def validation_step(self, batch, batch_idx):
        x = batch[0]
        # A fixed noise draw per batch: the same rows give the same val_loss in every epoch.
        g = seeding.torch_generator(seeding.VAL_NOISE, seeding.FIXED, batch_idx, device=x.device)
        eps = torch.randn(len(x), self.latent_dim, generator=g, device=x.device)
        loss, rec, kl = self._loss(x, eps)
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(x))
        self.log_dict({"val_rec": rec, "val_kl": kl}, on_step=False, on_epoch=True, sync_dist=True, batch_size=len(x))
        self._val_rows.append(x)

    def on_validation_epoch_end(self):
        # Not monitored; the same generated-vs-validation distance the GAN uses as val_loss.
        if self._val_rows:
            ref = torch.cat(self._val_rows)
            self._val_rows.clear()
            self.log("val_tv", generated_distance(self, ref), sync_dist=True)

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.lr, self.weight_decay, warmup_steps=50, betas=(0.9, 0.999))

    # ---- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def _draw(self, m: int, generator: torch.Generator, device) -> torch.Tensor:
        """m unconditional rows [m, C], in blocks that keep the [V, block] logits in cache."""
        out = torch.empty(self.n_columns, m, dtype=torch.long, device=device)  # column-major
        # the decoder's and the head's products under generate.precision; the draw float32
        autocast, bf16 = self.sampling_autocast(), self.sampling_dtype() == "bf16"
        for s in range(0, m, self.sample_block):
            b = min(self.sample_block, m - s)
            z = torch.randn(b, self.latent_dim, generator=generator, device=device)
            with autocast:
                h = self.decoder(z)
            self.head.sample(h, generator, self.temperature, out[:, s : s + b], bf16_product=bf16)
        return out.t().contiguous()

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """cond [n, C] (-1 free, token fixed) -> tokens [n, C]; fixed columns by rejection."""
        return self.sample_by_rejection(lambda m, target: self._draw(m, generator, cond.device), cond)
