"""The token layout read as one-hot spans: the one place GAN and VAE walk it.

A layout with cardinalities (k_0, ..., k_{C-1}) becomes a one-hot vector of width V = sum_c k_c:
column c owns positions [o_c, o_c + k_c) with o_c = k_0 + ... + k_{c-1}. A model's output is
logits [N, V], read as one categorical distribution per span. Everything that needs the spans
lives here: one-hot input, per-span (log-)softmax, cross-entropy, gumbel-max/-softmax, sampling,
marginal/pairwise distances, and rejection sampling for conditions.

Shapes: N rows, C columns, V = sum of cardinalities, d hidden width, G coarse groups per column.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from synthgen import seeding
from synthgen.errors import SynthgenError


class Spans(nn.Module):
    """Index tensors of a layout; non-persistent buffers, so they follow the model's device."""

    def __init__(self, cardinalities):
        super().__init__()
        self.cardinalities = tuple(int(k) for k in cardinalities)
        if not self.cardinalities or min(self.cardinalities) < 1:
            raise ValueError(f"every column needs a vocabulary of at least one token: {self.cardinalities}")
        self.offsets = tuple(sum(self.cardinalities[:c]) for c in range(len(self.cardinalities)))
        self.width = sum(self.cardinalities)
        C = len(self.cardinalities)
        self.register_buffer("offset", torch.tensor(self.offsets, dtype=torch.long), persistent=False)  # [C]
        column = torch.repeat_interleave(torch.arange(C), torch.tensor(self.cardinalities))
        self.register_buffer("column", column, persistent=False)  # [V]: the column of each position
        self.register_buffer("last", self.offset + torch.tensor(self.cardinalities) - 1, persistent=False)  # [C]

    @property
    def n_columns(self) -> int:
        return len(self.cardinalities)

    def slices(self):
        """(column, first position, cardinality) per span."""
        return zip(range(self.n_columns), self.offsets, self.cardinalities)

    # ---- inputs ---------------------------------------------------------------------------------
    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [N, C] -> float one-hot spans [N, V]."""
        out = torch.zeros(len(tokens), self.width, device=tokens.device)
        return out.scatter_(1, tokens + self.offset, 1.0)

    def argmax(self, x: torch.Tensor) -> torch.Tensor:
        """[N, V] (logits or one-hot) -> tokens [N, C], the largest entry of each span."""
        return torch.stack([x[:, o : o + k].argmax(1) for _, o, k in self.slices()], 1)

    # ---- per-span activations and losses (differentiable) ----------------------------------------
    def logsumexp(self, logits: torch.Tensor) -> torch.Tensor:
        """[N, V] -> [N, C]: log of each span's partition function."""
        N = len(logits)
        idx = self.column.expand(N, -1)
        top = torch.full((N, self.n_columns), float("-inf"), device=logits.device, dtype=logits.dtype)
        top = top.scatter_reduce(1, idx, logits.detach(), "amax")  # [N, C] span max, a constant shift
        e = (logits - top.gather(1, idx)).exp()  # float32 under CUDA's autocast, whatever the logits
        total = torch.zeros_like(top, dtype=e.dtype).scatter_add_(1, idx, e)
        return total.log() + top

    def log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """[N, V] -> per-span log-probabilities [N, V]."""
        return logits - self.logsumexp(logits).gather(1, self.column.expand(len(logits), -1))

    def cross_entropy(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """logits [N, V], tokens [N, C] -> negative log-likelihood per row and column [N, C] (nats)."""
        return self.logsumexp(logits) - logits.gather(1, tokens + self.offset)

    def gumbel_sample(self, logits: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One token per span by gumbel-max, and its relaxation (the GAN generator's activation).

        logits [N, V] -> (tokens [N, C], soft one-hots [N, V]): tokens = argmax of logits + Gumbel
        noise per span, a draw from softmax(logits); soft = softmax((logits + noise) / tau) per
        span, differentiable, whose gradient stands in for the tokens' (straight-through).
        """
        g = torch.rand_like(logits).clamp_(min=1e-20).log_().neg_().log_().neg_()  # Gumbel(0, 1)
        noisy = logits.detach() + g
        return self.argmax(noisy), self.log_softmax((logits + g) / tau).exp()

    # ---- sampling (no gradient) -------------------------------------------------------------------
    @torch.no_grad()
    def sample_linear(
        self,
        h: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        generator: torch.Generator,
        temperature: float = 1.0,
        out: torch.Tensor | None = None,
        bf16_product: bool = False,
    ) -> torch.Tensor:
        """One categorical draw per span from softmax((h @ weight.T + bias) / temperature).

        h [n, d] (any float dtype: a bf16 trunk's output goes in as it is, converted once), weight
        [V, d], bias [V] -> tokens [C, n] (note: column-major, written into `out` when given).
        Works on the transposed logits [V, n]: every span is then a block of contiguous rows, so
        the per-span max, exp, running sum and inverse-CDF count are vectorised across the n rows
        (one uniform per row and column). Callers pass blocks of a few thousand rows so that
        [V, n] stays in cache; its buffers are reused between calls.

        bf16_product: h @ weight.T runs in bfloat16 (the sampler's largest product, V x d per row;
        ~3x faster where the CPU multiplies bf16 natively). Its result is rounded to bf16 (8 bits: a
        logit of 10 to within 0.04, so one row's probabilities move by a few percent, differently
        per row) and widened to float32 for the bias, the softmax and the draw; the samples'
        marginals, pairs and detection measured as float32's (benchmarks/sampling_precision.md).
        """
        n = len(h)
        x = self._logits_buffer(n, weight)  # [V, n], float32 like the weights
        with torch.autocast(h.device.type, enabled=False):
            if bf16_product:
                low = self._logits_buffer(n, weight, torch.bfloat16, "_low")
                torch.mm(weight.to(torch.bfloat16), h.to(torch.bfloat16).t(), out=low)
                x.copy_(low).add_(bias.unsqueeze(1))
            else:  # float32 logits even under bf16 autocast (trainer.precision=bf16-mixed)
                torch.addmm(bias.unsqueeze(1), weight, h.to(weight.dtype).t(), out=x)
        if temperature != 1.0:
            x.div_(temperature)
        u = torch.rand(self.n_columns, n, generator=generator, device=h.device)  # [C, n]
        if out is None:
            out = torch.empty(self.n_columns, n, dtype=torch.long, device=h.device)
        rows = x.unbind(0)  # V views [n], made once: cheaper than indexing in the loop
        for c, o, k in self.slices():
            span = x[o : o + k]  # [k, n]
            span.sub_(span.amax(0)).exp_()  # unnormalised probabilities, largest = 1
            for j in range(o + 1, o + k):  # running sum down the span: the unnormalised CDF
                rows[j].add_(rows[j - 1])
            # token = number of CDF entries below u * total; span[-1] = total is never below it
            below = span < u[c] * span[-1]  # [k, n] bool
            out[c] = below.view(torch.uint8).sum(0, dtype=torch.uint8) if k < 256 else below.sum(0)
        return out

    def _logits_buffer(self, n: int, like: torch.Tensor, dtype=None, name: str = "_buf") -> torch.Tensor:
        """A reused [V, n] scratch tensor (`like`'s dtype unless given): a fresh multi-megabyte
        allocation per block is slow."""
        dtype = dtype or like.dtype
        buf = getattr(self, name, None)
        if buf is None or buf.shape[1] != n or buf.device != like.device or buf.dtype != dtype:
            buf = torch.empty(self.width, n, device=like.device, dtype=dtype)
            setattr(self, name, buf)
        return buf

    def draw(self, probs: torch.Tensor, columns: torch.Tensor, generator: torch.Generator | None = None):
        """One token of each requested column, drawn from a fixed table of per-span probabilities.

        probs [V] (each span sums to 1), columns [B] -> column-local tokens [B]. All spans share
        one sorted key, column + within-span CDF (float64), so a single searchsorted serves them.
        """
        p = probs.double()
        cs = torch.cumsum(p, 0)
        start = (cs - p)[self.offset]  # [C] mass before each span
        cdf = (cs - start[self.column]) / (cs[self.last] - start)[self.column]
        cdf[self.last] = 1.0  # exact span ends
        key = self.column.double() + cdf  # [V], sorted
        u = torch.rand(len(columns), dtype=torch.float64, generator=generator, device=p.device)
        pos = torch.searchsorted(key, columns.double() + u, right=True)  # first entry above: the token
        return pos - self.offset[columns]

    # ---- comparing token tables (for validation proxies) -----------------------------------------
    def counts(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [N, C] -> count of every token [V] (float)."""
        return torch.bincount((tokens + self.offset).flatten(), minlength=self.width).float()

    def marginal_tv(self, counts_a: torch.Tensor, counts_b: torch.Tensor) -> torch.Tensor:
        """Total-variation distance between the token marginals of two tables, per column [C]."""
        pa, pb = self._normalise(counts_a), self._normalise(counts_b)
        return 0.5 * torch.zeros(self.n_columns, device=pa.device).index_add_(0, self.column, (pa - pb).abs())

    def _normalise(self, counts: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(self.n_columns, device=counts.device).index_add_(0, self.column, counts)
        return counts / total.clamp(min=1)[self.column]

    def coarse_groups(self, counts: torch.Tensor, n_groups: int = 8) -> torch.Tensor:
        """[V] -> group of every token [V] in 0..G-1: contiguous token runs of about equal mass."""
        p = self._normalise(counts)
        # mass of the column before each token: exclusive cumulative sum within the span
        before = torch.cumsum(p, 0) - p
        before = before - before[self.offset][self.column]
        return (before * n_groups).floor().clamp(0, n_groups - 1).long()

    def pair_tv(self, tokens_a: torch.Tensor, tokens_b: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Mean total-variation distance between the joint distributions of all column pairs, with
        each column coarsened to `groups` (from coarse_groups); a cheap proxy for pair trends."""
        C = self.n_columns
        if C < 2:
            return torch.zeros((), device=tokens_a.device)
        G = int(groups.max()) + 1
        ia, ib = torch.triu_indices(C, C, 1, device=tokens_a.device)  # [P] pairs
        P = len(ia)

        def joint(tokens):  # [P, G*G] probabilities
            g = groups[tokens + self.offset]  # [N, C]
            cell = g[:, ia] * G + g[:, ib] + torch.arange(P, device=g.device) * G * G  # [N, P]
            return torch.bincount(cell.flatten(), minlength=P * G * G).float().view(P, G * G) / len(tokens)

        return 0.5 * (joint(tokens_a) - joint(tokens_b)).abs().sum(1).mean()


@torch.no_grad()
def sample_distance(spans: Spans, generated: torch.Tensor, reference: torch.Tensor, n_groups: int = 8):
    """How far generated rows are from reference rows, in [0, 1], lower is better: the mean of
    (a) the per-column total-variation distance between token marginals and (b) the mean
    total-variation distance between the joints of all column pairs, each column coarsened to
    `n_groups` runs of tokens of about equal reference mass. With finitely many reference rows it
    does not reach 0 (about 0.05-0.1 for a few thousand rows), but its noise is fixed for a fixed
    reference and seed, so it ranks epochs of one run. Returns (distance, marginal part, pair part).
    """
    ref_counts = spans.counts(reference)
    marginal = spans.marginal_tv(spans.counts(generated), ref_counts).mean()
    pair = spans.pair_tv(generated, reference, spans.coarse_groups(ref_counts, n_groups))
    return 0.5 * (marginal + pair), marginal, pair


@torch.no_grad()
def generated_distance(model, reference: torch.Tensor) -> torch.Tensor:
    """heads.sample_distance between unconditional samples of `model` and reference rows [N, C].

    Draws 4x as many rows as the reference (4096 to 50,000) from a fixed stream (seeding.VAL_SAMPLE),
    so successive epochs are compared with the same random numbers, in float32 whatever
    generate.precision says: the GAN picks its exported epoch by this figure.
    """
    n = min(max(4 * len(reference), 4096), 50_000)
    g = seeding.torch_generator(seeding.VAL_SAMPLE, seeding.FIXED, device=reference.device)
    cond = torch.full((n, model.n_columns), -1, dtype=torch.long, device=reference.device)
    precision, model.sample_precision = model.sample_precision, "32"
    try:
        return sample_distance(model.spans, model.sample(cond, g), reference)[0]
    finally:
        model.sample_precision = precision


class SpanInput(nn.Module):
    """A linear layer on one-hot spans, V -> d, computed as a sum of C embedding rows: the same
    function as nn.Linear(V, d)(spans.one_hot(tokens)) at C/V of the cost."""

    def __init__(self, cardinalities, d: int):
        super().__init__()
        self.spans = Spans(cardinalities)
        self.embed = nn.EmbeddingBag(self.spans.width, d, mode="sum")
        self.bias = nn.Parameter(torch.zeros(d))
        nn.init.uniform_(self.embed.weight, -1 / math.sqrt(self.spans.n_columns), 1 / math.sqrt(self.spans.n_columns))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [N, C] -> [N, d]."""
        return self.embed(tokens + self.spans.offset) + self.bias


class SpanHead(nn.Module):
    """The output layer shared by GAN and VAE: hidden [N, d] -> logits [N, V] read as spans."""

    def __init__(self, d: int, cardinalities):
        super().__init__()
        self.spans = Spans(cardinalities)
        self.proj = nn.Linear(d, self.spans.width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj(h)

    @torch.no_grad()
    def sample(
        self,
        h: torch.Tensor,
        generator: torch.Generator,
        temperature: float = 1.0,
        out: torch.Tensor | None = None,
        bf16_product: bool = False,
    ) -> torch.Tensor:
        """hidden [n, d] -> tokens [C, n] (column-major), one categorical draw per span."""
        return self.spans.sample_linear(
            h, self.proj.weight, self.proj.bias, generator, temperature, out, bf16_product=bf16_product
        )


# ---- conditions by rejection ---------------------------------------------------------------------
def rejection_sample(
    draw: Callable[[int, torch.Tensor], torch.Tensor], cond: torch.Tensor, cardinalities, max_rounds: int = 50
) -> tuple[torch.Tensor, float]:
    """Fill cond's rows with drawn rows that match every fixed token; returns (tokens, acceptance).

    cond [n, C]: -1 where the column is free, a token where it is fixed. `draw(m, target)` returns
    m candidate rows [m, C] for the condition row `target` [C] (it may use the condition, e.g. a
    GAN's conditional vector; it need not meet it). Rows sharing a condition are filled together,
    in rounds sized by the acceptance seen so far (each at most max(8 n, 4096) rows), at most
    `max_rounds` rounds. Raises SynthgenError with the measured acceptance rate (in the message and
    as its `acceptance_rate` attribute) when that is not enough. Deterministic given draw's
    random stream.
    """
    n, C = cond.shape
    cards = torch.tensor(cardinalities, device=cond.device)
    bad = (cond >= cards).any(0)
    if bad.any():
        j = int(bad.nonzero()[0])
        raise SynthgenError(
            f"condition token {int(cond[:, j].max())} for column {j} is outside its "
            f"vocabulary of {int(cards[j])} tokens"
        )
    if not (cond >= 0).any():
        return draw(n, cond[0]) if n else cond.clone(), 1.0
    out = torch.empty_like(cond)
    drawn = accepted = 0
    targets, group = torch.unique(cond, dim=0, return_inverse=True)
    for gi, target in enumerate(targets):
        rows = (group == gi).nonzero().flatten()
        need, fixed, parts = len(rows), target >= 0, []
        cap = max(8 * need, 4096)
        g_drawn = g_accepted = 0
        for _ in range(max_rounds):
            if need == 0:
                break
            rate = g_accepted / g_drawn if g_drawn else 1.0
            m = need if not g_drawn else min(cap, math.ceil(1.2 * need / rate) if rate > 0 else cap)
            x = draw(m, target)
            keep = x[(x[:, fixed] == target[fixed]).all(1)]
            g_drawn, g_accepted = g_drawn + m, g_accepted + len(keep)
            parts.append(keep[:need])
            need -= len(parts[-1])
        drawn, accepted = drawn + g_drawn, accepted + g_accepted
        if need:
            rate = accepted / drawn
            shown = {int(j): int(target[j]) for j in fixed.nonzero().flatten()}
            err = SynthgenError(
                f"could not generate {len(rows)} rows meeting the condition (column: token) {shown}: acceptance "
                f"rate {rate:.3g} ({accepted} of {drawn} drawn rows matched in {max_rounds} rounds); the model "
                f"finds this combination too rare, so condition on fewer columns or on more common values"
            )
            err.acceptance_rate = rate
            raise err
        out[rows] = torch.cat(parts)
    return out, accepted / drawn


def mlp(widths) -> nn.Sequential:
    """Linear + ReLU layers d_0 -> d_1 -> ... -> d_last (empty for a single width)."""
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)
