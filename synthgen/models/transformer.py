"""Autoregressive transformer over column tokens (one token per column) that conditions on any columns.

Columns are generated in a fixed generation order (`column_order`): by default the columns with
the fewest tokens first, so the categorical skeleton of a row is drawn before the numbers (on
Adult, against the table's own order: TSTR 0.990 -> 0.995, detection AUC 0.548 -> 0.533), and
rows share the computation of their common prefixes while sampling. Output columns keep the
table's order either way.

Sampling with fixed values puts the fixed columns first and generates the free ones after them,
in the generation order. Training teaches exactly those orders: for a share of the rows
(`random_order_share`) a random subset of columns goes first, in random order, and the other
columns follow in the generation order; the rest of the rows use the generation order throughout
(the unconditional case). Fully random orders (any column after any subset) would also allow
this but make the free columns' task much harder: on Adult a fully random-order model was
clearly worse unconditionally at the same epoch budget (detection AUC 0.65 against 0.59).

Sequence layout for an order pi over C columns (positions 0..C-1):
    input_t  = [BOS if t == 0 else value(pi[t-1]) + col_in(pi[t-1])] + col_query(pi[t])
    output_t -> logits over the vocabulary of column pi[t] (one head slice per column)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synthgen.config import PRECISIONS
from synthgen.models.base import TabularGenerator
from synthgen.models.blocks import KVCache, Trunk, runs_bf16, sample_categorical
from synthgen.models.schedules import adamw_warmup_cosine

BF16_MIN_TOKENS = 2048  # train_precision=native on a CPU: bf16 from this many tokens a step (training_autocast)
HEAD_PAD_MAX = 1024  # columns with more tokens than this get a head matmul of their own in training


def padded_nodes(n: int) -> int:
    """n rounded up to one of 8 sizes per power of two (at most 1/8 more rows).

    The prefix nodes of a sampling step number differently in every block (1, 2, 4, 20, 100, 339, ...
    on Adult), and oneDNN keeps a primitive for every matrix shape it meets: with the exact counts
    the sampler's memory grew ~30 MB per 50,000-row chunk for as long as it ran (benchmarks/scale.md).
    With a bounded set of shapes it stays flat; the padding rows are computed and dropped."""
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


class TabularTransformer(TabularGenerator):
    samples_with_autocast = True  # the trunk, under generate.precision
    exact_conditions = True  # fixed columns go first in the sampling order

    def __init__(
        self,
        layout: dict,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        batch_size: int = 512,
        random_order_share: float = 0.5,
        temperature: float = 1.0,
        sample_block: int = 2048,
        warmup_steps: int = 100,
        column_order: str = "cardinality",
        train_precision: str = "native",
        calibrate: bool = True,
    ):
        super().__init__(layout, batch_size, lr)
        self.save_hyperparameters()
        C, V = self.n_columns, sum(self.layout.cardinalities)
        self.random_order_share, self.temperature, self.weight_decay = random_order_share, temperature, weight_decay
        self.sample_block, self.warmup_steps = sample_block, warmup_steps
        self.calibrate = bool(calibrate)  # pipeline.train refits the head bias after training (calibrate_head_bias)
        self.register_buffer("offsets", torch.tensor(self.layout.offsets, dtype=torch.long), persistent=False)
        if str(train_precision) not in PRECISIONS:  # the values generate.precision takes
            raise ValueError(
                f"model.tabular.train_precision must be one of {', '.join(PRECISIONS)}, got {train_precision!r}"
            )
        self.train_precision = str(train_precision)
        if column_order not in ("cardinality", "table"):
            raise ValueError(f"model.tabular.column_order must be 'cardinality' or 'table', got {column_order!r}")
        cards = self.layout.cardinalities
        generation = torch.tensor(cards).argsort(stable=True) if column_order == "cardinality" else torch.arange(C)
        # an entity's attributes first (their order kept): rows drawn given them follow the model's own
        # order, not a conditioned one (flights_planes: origin's shape 0.953 conditioned, benchmarks/entities.md)
        first = torch.tensor([c in self.layout.first for c in self.layout.columns])
        generation = torch.cat([generation[first[generation]], generation[~first[generation]]])
        # the layout's leading columns (an entity's row count) before them, in their own order
        lead = [self.layout.columns.index(c) for c in self.layout.first[: self.layout.leading]]
        generation = torch.tensor(lead + [c for c in generation.tolist() if c not in lead], dtype=torch.long)
        self.register_buffer("generation", generation, persistent=False)  # [C] columns in generation order
        self.register_buffer("rank", generation.argsort(), persistent=False)  # [C] each column's place in it
        # The head read per column, padded to the widest vocabulary K among the columns of at most
        # HEAD_PAD_MAX tokens: rows [C', K] of head.weight (padding repeats a column's last row) and a
        # mask of the padding, for one batched matmul. Wider columns (a 3,000-level category) get a
        # matmul each, so one of them does not pad every other column to its width.
        self.wide = [c for c, k in enumerate(cards) if k > HEAD_PAD_MAX]
        narrow = [c for c, k in enumerate(cards) if k <= HEAD_PAD_MAX]
        K = max((cards[c] for c in narrow), default=1)
        rows = [[self.layout.offsets[c] + min(j, cards[c] - 1) for j in range(K)] for c in narrow]
        self.register_buffer("narrow", torch.tensor(narrow, dtype=torch.long), persistent=False)
        self.register_buffer("head_rows", torch.tensor(rows, dtype=torch.long).view(len(narrow), K), persistent=False)
        pad = [[j >= cards[c] for j in range(K)] for c in narrow]
        self.register_buffer("head_pad", torch.tensor(pad, dtype=torch.bool).view(len(narrow), K), persistent=False)
        self.tok_emb = nn.Embedding(V, d_model)
        self.col_in = nn.Embedding(C, d_model)
        self.col_query = nn.Embedding(C, d_model)
        self.bos = nn.Parameter(torch.zeros(1, 1, d_model))
        self.trunk = Trunk(d_model, n_layers, n_heads, dropout)
        self.head = nn.Linear(d_model, V, bias=True)
        self.per_sample_grads = False  # set while DP-SGD trains (synthgen/privacy/training.py)

    # ---- training ------------------------------------------------------------------------------
    def _orders(self, B: int) -> torch.Tensor:
        """[B, C] column orders: the generation order, or (for random_order_share of the rows) a
        random subset first in random order and the remaining columns after it in generation order."""
        C = self.n_columns
        fixed = self.generation.expand(B, C)
        if not self.training or self.random_order_share <= 0:
            return fixed
        key = torch.rand(B, C, device=self.device)
        first = key < torch.rand(B, 1, device=self.device)  # subset sizes spread over 0..C
        first &= torch.rand(B, 1, device=self.device) < self.random_order_share
        # sort key per column: the subset below 0 (random order), the rest at rank / C (generation order)
        return torch.where(first, key - 1, self.rank / C).argsort(1)

    def forward(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """x: tokens [B, C] (column-local ids), order: [B, C] -> hidden state per column [B, C, d].

        Row b's state for column c comes from the position where c is predicted in order[b].
        """
        B, C = x.shape
        glob = x.gather(1, order) + self.offsets[order]  # [B, C] global ids in order
        prev = self.tok_emb(glob[:, :-1]) + self.col_in(order[:, :-1])  # [B, C-1, d]
        h = torch.cat([self.bos.expand(B, 1, -1), prev], 1) + self.col_query(order)
        h = self.trunk(h)  # [B, C, d], position t predicts column order[:, t]
        pos = order.argsort(1)  # pos[b, c]: where column c sits in row b's order
        return h.gather(1, pos.unsqueeze(-1).expand(-1, -1, h.shape[-1]))

    def column_logits(self, h: torch.Tensor, c: int) -> torch.Tensor:
        """Hidden states [..., d] -> logits over column c's vocabulary [..., k_c]."""
        o, k = self.layout.offsets[c], self.layout.cardinalities[c]
        return F.linear(h, self.head.weight[o : o + k], self.head.bias[o : o + k])

    @torch.no_grad()
    def calibrate_head_bias(self, tokens: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Refit each column's head bias on training rows tokens [n, C] (synthgen/models/calibration.py):
        the rows teacher-forced in the generation order, in eval mode and float32 (under CPU autocast
        this forward took 3.4x as long); the shift [V] is added to head.bias and returned."""
        from synthgen.models.calibration import bias_shift

        was_training = self.training
        self.eval()
        x = tokens.to(self.device)
        logits = [[] for _ in range(self.n_columns)]
        for s in range(0, len(x), chunk):
            h = self(x[s : s + chunk], self.generation.expand(len(x[s : s + chunk]), -1))  # [b, C, d]
            for c, out in enumerate(logits):
                out.append(self.column_logits(h[:, c], c))
        shift = torch.zeros_like(self.head.bias)
        for c, out in enumerate(logits):
            o, k = self.layout.offsets[c], self.layout.cardinalities[c]
            shift[o : o + k] = bias_shift(torch.cat(out), x[:, c]).to(shift.dtype)
        self.head.bias.add_(shift)
        self.train(was_training)
        return shift

    def training_autocast(self):
        """bfloat16 autocast for the trunk's matrix products in training and validation, or a no-op.

        train_precision "native": bf16 where the device multiplies it natively (blocks.bf16_native)
        and, on a CPU, a step holds at least BF16_MIN_TOKENS tokens (batch_size x columns); "bf16"
        always; "32" never. Never under DP-SGD: Opacus computes per-row gradients from the layers'
        inputs. The embeddings, norms, attention (on CPU), head and loss stay float32. Measured on 2
        cores with AVX512-BF16 (benchmarks/model_defaults.md, two runs): a step of 2,080 to 16,640
        tokens took 0.73-0.94x float32's time; below ~2,000 the runs disagree (0.84-1.13x), so small
        steps stay in float32, where their quality was measured."""
        device = self.device
        big = device.type != "cpu" or self.batch_size * self.n_columns >= BF16_MIN_TOKENS
        on = not self.per_sample_grads and runs_bf16(self.train_precision, device, native_ok=big)
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)

    def _loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over columns of the per-column negative log-likelihood (nats per column)."""
        with self.training_autocast():
            h = self(x, self._orders(len(x)))  # [B, C, d]
        h = h.float()  # the head and the loss in float32
        # DP-SGD (synthgen/privacy): Opacus sees a layer's parameters only through its forward call,
        # so the full head runs ([B, C, V], B*C*V*d) and each column's slice is read off it.
        full = self.head(h) if self.per_sample_grads else None  # [B, C, V]
        if not self.wide:
            return F.cross_entropy(self._padded_logits(h, full).flatten(0, 1), x.flatten())
        # wide columns: the narrow ones batched, each wide one through its own slice; the same mean
        B, C = x.shape
        total = h.new_zeros(())
        if len(self.narrow):
            logits = self._padded_logits(h[:, self.narrow], None if full is None else full[:, self.narrow])
            total = total + F.cross_entropy(logits.flatten(0, 1), x[:, self.narrow].flatten(), reduction="sum")
        for c in self.wide:
            o, k = self.layout.offsets[c], self.layout.cardinalities[c]
            logits = self.column_logits(h[:, c], c) if full is None else full[:, c, o : o + k]
            total = total + F.cross_entropy(logits, x[:, c], reduction="sum")
        return total / (B * C)

    def _padded_logits(self, h: torch.Tensor, full: torch.Tensor | None) -> torch.Tensor:
        """Logits [B, C', K] of the narrow columns (h [B, C', d]; full [B, C', V] under DP-SGD), each
        padded to K with -inf. One batched matmul over the padded per-column heads: B*C'*K*d
        multiply-adds, one op instead of C' small ones (2x faster on CPU) and far below a full head."""
        if full is not None:
            return full.gather(2, self.head_rows.expand(len(full), -1, -1)).masked_fill(self.head_pad, float("-inf"))
        weight = self.head.weight[self.head_rows]  # [C', K, d]
        bias = self.head.bias[self.head_rows].masked_fill(self.head_pad, float("-inf"))  # [C', K]
        return torch.einsum("bcd,ckd->bck", h, weight) + bias

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch[0])
        self.log_train_losses(len(batch[0]), train_loss=loss)
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self._loss(batch[0])  # eval mode: the generation order used for unconditional sampling
        self.log(
            "val_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(batch[0])
        )

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.lr, self.weight_decay, self.warmup_steps)

    # ---- sampling with a KV cache -----------------------------------------------------------------
    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """cond: [n, C] with -1 for free columns -> tokens [n, C]. Each row's fixed columns go first
        (native conditioning: rows are grouped by which columns they fix, one ordered pass per group)."""
        mask = cond >= 0
        if len(cond) == 0 or bool((mask == mask[:1]).all()):  # the usual case: one pattern, no sort
            return self._sample_pattern(cond, generator)
        patterns, group = torch.unique(mask, dim=0, return_inverse=True)
        out = torch.empty_like(cond)
        for gi in range(len(patterns)):
            rows = (group == gi).nonzero().flatten()
            out[rows] = self._sample_pattern(cond[rows], generator)
        return out

    def _sample_pattern(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Rows that all fix the same columns, in blocks of `sample_block` rows (the KV cache and
        the activations of a block stay small; on Adult, 2 threads, blocks of 2,048 and 8,192 rows
        sampled alike, 21k rows/s)."""
        n, C = cond.shape
        fixed = (cond[:1] >= 0).all(0) if n else (cond >= 0).all(0)
        gen = self.generation
        order = torch.cat([gen[fixed[gen]], gen[~fixed[gen]]]).tolist()  # fixed first, then free, in generation order
        out = cond.clone()
        cache = self.trunk.new_cache(1, C, self.bos, capacity=min(n, self.sample_block))  # reused by every block
        for s in range(0, n, self.sample_block):
            self._sample_block(out[s : s + self.sample_block], order, fixed.tolist(), generator, cache)
        return out

    def _sample_block(self, out, order: list, fixed: list, generator: torch.Generator, cache: KVCache) -> None:
        """Fill the free columns of out [b, C] in place, column by column in `order`.

        Under `sampling_autocast` (generate.precision) the trunk's matrix products may run in
        bfloat16; the residual stream, the KV cache, the norms, the head's logits and the draw stay
        float32 (benchmarks/sampling_precision.md: the speed and the samples' quality, side by side).

        Rows that share a prefix share its computation: each step runs the trunk once per distinct
        prefix ("node") and draws every row's token from its node's logits. The first columns have
        few tokens, so on Adult the 50,000 rows of a chunk have 1, 2, 4, 20, 100, 339, 1,126, ...
        distinct prefixes. Once the nodes exceed half the rows, the block goes on row by row.
        """
        b, C = out.shape
        node = torch.zeros(b, dtype=torch.long, device=out.device)  # each row's prefix node
        per_row, nodes = False, 1
        cache.reset(1)
        x = self.bos  # [nodes padded, 1, d]: the next input of every node
        autocast = self.sampling_autocast()  # resolved once per block, entered at every step
        for t, c in enumerate(order):
            with autocast:
                h = self.trunk(x + self.col_query.weight[c], cache)[:nodes, -1].float()  # [nodes, d]
            if not fixed[c]:
                logits = self.column_logits(h, c)
                out[:, c] = sample_categorical(logits if per_row else logits[node], generator, self.temperature)
            if t + 1 == C:
                break
            tok = out[:, c]
            if not per_row:
                k = self.layout.cardinalities[c]
                keys, new_node = torch.unique(node * k + tok, return_inverse=True)  # prefixes one column longer
                per_row = len(keys) > b // 2
                parent, tok = (node, tok) if per_row else (keys // k, keys % k)  # each new node's old node
                node, nodes = new_node, len(parent)
                if not per_row:  # the trunk's batch padded to a few sizes (padded_nodes)
                    pad = padded_nodes(nodes) - nodes
                    parent, tok = (F.pad(v, (0, pad)) for v in (parent, tok))
                cache.select(parent)  # each new node's cache rows are its parent's
            x = (self.tok_emb(tok + self.layout.offsets[c]) + self.col_in.weight[c]).unsqueeze(1)
