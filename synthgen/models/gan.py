"""A CTGAN-class conditional WGAN-GP over one-hot token spans, with PacGAN.

Every column is categorical here (numbers arrive as quantile-bin tokens), so CTGAN's conditional
vector can cover every column with at most `cond_max_cardinality` tokens ("cond columns"):

    training by sampling: pick a cond column uniformly, a token of it with probability
        proportional to log(1 + count), and a real row having that token;
    generator:      z [B, Z] + cond one-hot [B, Vc] -> MLP -> logits [B, V] -> one token per
                    span by gumbel-max, shown to the critic as exact one-hots whose gradient is
                    the gumbel-softmax's (straight-through, heads.py); its loss adds the
                    cross-entropy of the cond column against the cond token, so the generator
                    learns to honour the condition;
    critic:         pac rows and their cond vectors packed side by side, [B/pac, pac * (V + Vc)]
                    -> MLP -> score; Wasserstein loss, gradient penalty on the data part,
                    `critic_steps` critic updates per generator update.

Real and fake rows reach the critic as exact one-hots, so it cannot tell them apart by how soft
they are (CTGAN's critic can), and its first layer, a Linear on [B/pac, pac * V], is computed as
a sum of embedding rows. The gradient penalty interpolates in that layer's output, which is the
same as interpolating the inputs because the layer is linear.

Departures from CTGAN's defaults, each measured on Adult under a ~3 minute CPU budget: pac=1
(pac=5 or 10 learned several times slower; any pac dividing the batch works), 3 critic steps and
a critic learning rate twice the generator's, no critic dropout, LayerNorm instead of BatchNorm in
the generator, and sampling from an exponential moving average of the generator's weights.

Sampling draws the conditional vector from the real token frequencies (so that the mixture over
conditions gives p(x)) and one token per span from the generator's softmax at temperature 1: the
argmax of a gumbel-perturbed one-hot, as during training. A condition on a cond column feeds the
generator that token directly (the rarest one when several are fixed); every fixed column is
then verified, and rows that miss are redrawn (heads.rejection_sample).

GAN losses do not compare across epochs, so val_loss is heads.sample_distance between generated
and validation rows: the mean of the per-column marginal total-variation distance and of the
coarsened pairwise joint TV distance (0 is perfect; a few thousand validation rows leave a floor
of a few hundredths). Shapes: B batch, C columns, V one-hot width, Vc conditional-vector width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synthgen.errors import SynthgenError
from synthgen.models.base import TabularGenerator
from synthgen.models.gan_training import WeightAverage, optimiser_step
from synthgen.models.heads import SpanHead, Spans, generated_distance
from synthgen.models.schedules import fused_kernel

INDEX_MAX_ROWS = 1_000_000  # rows kept for training by sampling (a seeded share of larger tables)


class GeneratorNet(nn.Module):
    """z [B, Z] + cond one-hot [B, Vc] -> MLP -> span logits [B, V]. The one-hot enters as an
    embedding (= a Linear on it), initialised N(0, 1) so that the condition is as loud as the
    noise from the first step (a Linear's default init would make it ~20x quieter)."""

    def __init__(self, noise_dim: int, n_cond: int, widths: list, cardinalities):
        super().__init__()
        self.noise_in = nn.Linear(noise_dim, widths[0])
        self.cond_in = nn.Embedding(n_cond, widths[0])
        # LayerNorm rather than CTGAN's BatchNorm: no running statistics, so the weight average
        # samples exactly what its weights say, and a row never depends on its batch.
        layers = [nn.LayerNorm(widths[0]), nn.ReLU()]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.LayerNorm(b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = SpanHead(widths[-1], cardinalities)

    def hidden(self, z: torch.Tensor, cond_idx: torch.Tensor) -> torch.Tensor:
        """z [B, Z], cond_idx [B] (position in the cond vector) -> hidden [B, d]."""
        return self.body(self.noise_in(z) + self.cond_in(cond_idx))

    def forward(self, z: torch.Tensor, cond_idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(z, cond_idx))


class _StraightThrough(torch.autograd.Function):
    """Value 0 [P, d]; gradient as if the soft one-hots y [P, pac*V] had gone through the critic's
    first layer (weight [pac*V, d]): d/dy = g @ weight.T. Added to the embedding sum of the hard
    one-hots, it gives the straight-through estimator without a dense forward pass."""

    @staticmethod
    def forward(ctx, y, weight):
        ctx.save_for_backward(weight)
        return y.new_zeros(len(y), weight.shape[1])

    @staticmethod
    def backward(ctx, g):
        (weight,) = ctx.saved_tensors
        return g @ weight.t(), None


class Critic(nn.Module):
    """Packs of pac one-hot rows + their conditions -> one score per pack [P], P = B / pac.

    first(tokens) = Linear(pac * V, d) on the packed one-hots, as an embedding sum [P, d]; the
    conditions go through a small shared embedding (Vc -> cond_dim), then a dense layer over the
    pack's pac embeddings; then LeakyReLU MLP -> score."""

    def __init__(self, spans: Spans, pac: int, n_cond: int, cond_dim: int, widths: list, dropout: float):
        super().__init__()
        self.spans, self.pac = spans, pac
        fan_in = pac * spans.width
        self.weight = nn.Parameter(torch.empty(fan_in, widths[0]).uniform_(-(fan_in**-0.5), fan_in**-0.5))
        self.bias = nn.Parameter(torch.empty(widths[0]).uniform_(-(fan_in**-0.5), fan_in**-0.5))
        self.cond_embed = nn.Embedding(n_cond, cond_dim)
        self.cond_in = nn.Linear(pac * cond_dim, widths[0], bias=False)
        layers = [nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def first(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, C] -> first layer on the packed one-hots [P, d]."""
        B, C = tokens.shape
        slot = (torch.arange(B, device=tokens.device) % self.pac) * self.spans.width  # [B]
        idx = (tokens + self.spans.offset + slot[:, None]).view(B // self.pac, self.pac * C)
        return F.embedding_bag(idx, self.weight, mode="sum") + self.bias

    def score(self, h: torch.Tensor, cond_idx: torch.Tensor) -> torch.Tensor:
        """first-layer output h [P, d], cond_idx [B] -> scores [P]."""
        cond = self.cond_in(self.cond_embed(cond_idx).view(len(h), -1))
        return self.body(h + cond).squeeze(1)

    def forward(self, tokens: torch.Tensor, cond_idx: torch.Tensor, soft: torch.Tensor | None = None):
        """tokens [B, C] (+ the soft one-hots [B, V] they were drawn from, for gradients) -> [P]."""
        h = self.first(tokens)
        if soft is not None:
            h = h + _StraightThrough.apply(soft.view(len(h), -1), self.weight)
        return self.score(h, cond_idx)

    def gradient_penalty(self, h_real: torch.Tensor, h_fake: torch.Tensor, cond_idx: torch.Tensor):
        """E[(|d score / d x_hat| - 1)^2] at packs x_hat between real and fake ones; h_* = first(x_*)."""
        alpha = torch.rand(len(h_real), 1, device=h_real.device)
        h_hat = alpha * h_real + (1 - alpha) * h_fake  # = first(x_hat): the layer is linear
        (g,) = torch.autograd.grad(self.score(h_hat, cond_idx).sum(), h_hat, create_graph=True)  # [P, d]
        grad_x = g @ self.weight.t()  # [P, pac * V]
        return ((grad_x.norm(dim=1) - 1) ** 2).mean()


class TabularGAN(WeightAverage, TabularGenerator):
    # the generator's and the head's products in bf16 under generate.precision (benchmarks/sampling_precision.md)
    samples_with_autocast = True

    def __init__(
        self,
        layout: dict,
        noise_dim: int = 64,
        generator_widths: list | tuple = (256, 256),
        critic_widths: list | tuple = (256, 256),
        pac: int = 1,
        lr: float = 1e-3,
        critic_lr: float | None = 2e-3,
        betas: list | tuple = (0.5, 0.9),
        weight_decay: float = 1e-6,
        gp_weight: float = 10.0,
        critic_steps: int = 3,
        tau: float = 0.2,
        critic_dropout: float = 0.0,
        cond_max_cardinality: int = 50,
        cond_dim: int = 16,
        ema_decay: float = 0.998,
        batch_size: int = 250,
        temperature: float = 1.0,
        max_rejection_rounds: int = 50,
        sample_block: int = 4096,
    ):
        super().__init__(layout, batch_size, lr)
        self.save_hyperparameters()
        self.automatic_optimization = False
        if batch_size % pac:
            raise SynthgenError(f"model.tabular.batch_size={batch_size} must be a multiple of model.tabular.pac={pac}")
        self.noise_dim, self.pac, self.critic_lr = noise_dim, pac, critic_lr or lr
        self.betas, self.weight_decay, self.gp_weight = tuple(betas), weight_decay, gp_weight
        self.critic_steps, self.tau = critic_steps, tau
        self.temperature, self.max_rejection_rounds, self.sample_block = temperature, max_rejection_rounds, sample_block
        cards = self.layout.cardinalities
        self.spans = Spans(cards)
        V = self.spans.width

        # ---- the conditional vector: the one-hot spans of the cond columns, Vc wide -----------------
        cond_cols = [c for c, k in enumerate(cards) if k <= cond_max_cardinality]
        if not cond_cols:
            raise SynthgenError(
                f"model.tabular.cond_max_cardinality={cond_max_cardinality} leaves no column for the "
                f"conditional vector (smallest vocabulary: {min(cards)}); raise it"
            )
        in_cond = torch.isin(self.spans.column, torch.tensor(cond_cols))  # [V]
        cond_pos = torch.full((V,), -1, dtype=torch.long)
        cond_pos[in_cond] = torch.arange(int(in_cond.sum()))
        self.n_cond = int(in_cond.sum())  # Vc
        self.register_buffer("cond_columns", torch.tensor(cond_cols), persistent=False)  # [Cc]
        self.register_buffer("cond_pos", cond_pos, persistent=False)  # [V]: index in the cond vector or -1
        # Real token frequencies (each span sums to 1): sampling draws conditions from them, so they
        # are saved with the weights. Uniform until training has seen the data.
        self.register_buffer("token_freq", 1.0 / torch.tensor(cards, dtype=torch.float)[self.spans.column])

        # ---- generator, and an exponential moving average of its weights that sampling uses --------
        self.generator = GeneratorNet(noise_dim, self.n_cond, list(generator_widths), cards)
        self.init_average(ema_decay)  # generator_ema, and ema_steps saved with the weights (resumable)

        self.critic = Critic(self.spans, pac, self.n_cond, cond_dim, list(critic_widths), critic_dropout)

        self.last_acceptance_rate = 1.0
        self._val_rows: list[torch.Tensor] = []
        self._data = None  # training-by-sampling index, built in on_train_start

    # ---- data for training by sampling ----------------------------------------------------------
    def on_train_start(self):
        # Training by sampling needs random access to the whole (rank-local) training table, so
        # the loader's batches only set the pace: one generator step per batch, an epoch per pass.
        tokens = self._index_rows(self.trainer.train_dataloader).to(self.device)  # [N, C]
        N, sp = len(tokens), self.spans
        counts = sp.counts(tokens)  # [V]
        self.token_freq.copy_(counts / N)
        # rows of each cond column sorted by token: the rows holding token v are
        # by_token[start[v] : start[v] + counts[v]]
        cols = self.cond_columns
        by_token = torch.argsort(tokens[:, cols].t(), dim=1, stable=True)  # [Cc, N]
        start = torch.zeros(sp.width, dtype=torch.long, device=self.device)
        for i, c in enumerate(cols.tolist()):
            o, k = sp.offsets[c], sp.cardinalities[c]
            start[o : o + k] = i * N + torch.cumsum(counts[o : o + k], 0).long() - counts[o : o + k].long()
        log_freq = torch.log1p(counts)
        log_freq = (
            log_freq
            / torch.zeros(sp.n_columns, device=self.device)
            .index_add_(0, sp.column, log_freq)
            .clamp(min=1e-12)[sp.column]
        )
        self._data = {
            "tokens": tokens,
            "by_token": by_token.flatten(),
            "start": start,
            "count": counts.long(),
            "log_freq": log_freq,
        }

    def _index_rows(self, loader) -> torch.Tensor:
        """The rows training by sampling draws from: every row of the rank's loader, or, when it holds
        more than INDEX_MAX_ROWS, a seeded uniform share of them (~INDEX_MAX_ROWS rows), so memory stays
        bounded whatever the table's size (the whole 5M-row table took 1.2 GB: int64 tokens plus a sort
        per cond column)."""
        from synthgen import seeding

        expected = len(loader) * self.batch_size
        if expected <= INDEX_MAX_ROWS:
            return torch.cat([b[0] for b in loader])
        rank = self.trainer.global_rank if self._trainer is not None else 0
        g = seeding.torch_generator(seeding.GAN_INDEX_ROWS, torch.initial_seed() % 2**32, rank)
        share = INDEX_MAX_ROWS / expected
        return torch.cat([b[0][torch.rand(len(b[0]), generator=g) < share] for b in loader])

    def _draw_condition(self, B: int, probs: torch.Tensor, generator=None):
        """B conditions: a cond column uniformly, then a token of it from probs [V] -> (col, tok, idx) [B]."""
        pick = torch.randint(len(self.cond_columns), (B,), generator=generator, device=self.device)
        col = self.cond_columns[pick]
        tok = self.spans.draw(probs, col, generator)
        return col, tok, self.cond_pos[self.spans.offset[col] + tok]

    def _real_rows(self, col: torch.Tensor, tok: torch.Tensor) -> torch.Tensor:
        """One real row with token tok in column col, uniformly among those, per entry -> [B, C]."""
        d = self._data
        v = self.spans.offset[col] + tok
        i = d["start"][v] + (torch.rand(len(v), device=self.device) * d["count"][v]).long()
        return d["tokens"][d["by_token"][i]]

    # ---- training ------------------------------------------------------------------------------
    def _fake(self, cond_idx: torch.Tensor):
        """Generated rows for cond_idx [B] -> (logits [B, V], tokens [B, C], soft one-hots [B, V])."""
        z = torch.randn(len(cond_idx), self.noise_dim, device=self.device)
        logits = self.generator(z, cond_idx)
        tokens, soft = self.spans.gumbel_sample(logits, self.tau)
        return logits, tokens, soft

    def training_step(self, batch, batch_idx):
        opt_g, opt_d = self.optimizers()
        B, log_freq = self.batch_size, self._data["log_freq"]

        with self.toggled_optimizer(opt_d):
            for _ in range(self.critic_steps):
                col, tok, idx = self._draw_condition(B, log_freq)
                with torch.no_grad():
                    fake = self._fake(idx)[1]
                h_real, h_fake = self.critic.first(self._real_rows(col, tok)), self.critic.first(fake)
                gp = self.critic.gradient_penalty(h_real, h_fake, idx)
                loss_d = (
                    self.critic.score(h_fake, idx).mean() - self.critic.score(h_real, idx).mean() + self.gp_weight * gp
                )
                optimiser_step(self, opt_d, loss_d)

        with self.toggled_optimizer(opt_g):
            col, tok, idx = self._draw_condition(B, log_freq)
            logits, fake, soft = self._fake(idx)
            # cross-entropy of the cond column only: the generator must produce the cond token
            rows = torch.arange(B, device=self.device)
            cond_ce = (self.spans.logsumexp(logits)[rows, col] - logits[rows, self.spans.offset[col] + tok]).mean()
            loss_g = -self.critic(fake, idx, soft).mean() + cond_ce
            optimiser_step(self, opt_g, loss_g)
        self.update_average()

        self.log_train_losses(B, train_loss=loss_g, train_loss_critic=loss_d, train_gp=gp, train_cond_ce=cond_ce)

    def validation_step(self, batch, batch_idx):
        self._val_rows.append(batch[0])

    def on_validation_epoch_end(self):
        if self._val_rows:
            ref = torch.cat(self._val_rows)
            self._val_rows.clear()
            self.log("val_loss", generated_distance(self, ref), prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        g_params = list(self.generator.parameters())
        d_params = list(self.critic.parameters())
        kw = {"betas": self.betas, "weight_decay": self.weight_decay}
        # fused kernels: 4 Adam steps a batch (3 critic, 1 generator), ~2 ms each single-tensor on CPU
        opt_g = torch.optim.Adam(g_params, lr=self.lr, fused=fused_kernel(self, g_params), **kw)
        opt_d = torch.optim.Adam(d_params, lr=self.critic_lr, fused=fused_kernel(self, d_params), **kw)
        return [opt_g, opt_d]

    # ---- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def _draw(self, m: int, generator: torch.Generator, target: torch.Tensor) -> torch.Tensor:
        """m rows [m, C] for condition row target [C]; the rarest fixed cond column, if any, goes
        into the conditional vector, otherwise conditions follow the real token frequencies."""
        fixed = (target >= 0) & (self.cond_pos[self.spans.offset + target.clamp(min=0)] >= 0)
        cond_idx = None
        if fixed.any():
            v = (self.spans.offset + target)[fixed]
            cond_idx = self.cond_pos[v[self.token_freq[v].argmin()]]
        out = torch.empty(self.n_columns, m, dtype=torch.long, device=target.device)  # column-major
        # the generator's and the head's products under generate.precision; the draw float32
        autocast, bf16 = self.sampling_autocast(), self.sampling_dtype() == "bf16"
        for s in range(0, m, self.sample_block):
            b = min(self.sample_block, m - s)
            z = torch.randn(b, self.noise_dim, generator=generator, device=target.device)
            if cond_idx is None:
                idx = self._draw_condition(b, self.token_freq, generator)[2]
            else:
                idx = cond_idx.expand(b)
            gen = self.sampler
            with autocast:
                h = gen.hidden(z, idx)
            gen.head.sample(h, generator, self.temperature, out[:, s : s + b], bf16_product=bf16)
        return out.t().contiguous()

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """cond [n, C] (-1 free, token fixed) -> tokens [n, C]; every fixed token is verified."""
        return self.sample_by_rejection(lambda m, target: self._draw(m, generator, target), cond)
