"""What every generator shares (the seeded predict step), and what every tabular one shares.

A family implements `sample(cond, generator)`. Tables: cond is int64 [n, n_columns] with -1
where the column is free and a token where it is fixed; it returns int64 tokens [n, n_columns].
Images (models/image_base.py): cond is int64 class labels [n].
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from synthgen import seeding
from synthgen.encoders.layout import TokenLayout


class Generator(pl.LightningModule):
    """`predict_step` samples one output chunk with the chunk's own random stream."""

    # generate.precision, set by the pipeline before sampling: a family that samples through
    # `sampling_autocast` runs those products in bfloat16 with "bf16", float32 with "32", and with
    # "native" in bfloat16 only where the device computes it natively (blocks.bf16_native)
    sample_precision: str = "native"
    samples_with_autocast = False  # True in a family whose sampler uses sampling_autocast

    def sampling_dtype(self, device: torch.device | None = None) -> str | None:
        """ "bf16" or "32": what sampling_autocast runs in on `device` (default: the model's), or None
        where the family does not use it; the generation manifest records it."""
        from synthgen.models.blocks import runs_bf16

        if not self.samples_with_autocast:
            return None
        return "bf16" if runs_bf16(self.sample_precision, device or self.device) else "32"

    def sampling_autocast(self):
        """Autocast to bfloat16 for the products a family's sampler runs inside it, or a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.sampling_dtype() == "bf16")

    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def log_train_losses(self, batch_size: int, **losses: torch.Tensor) -> None:
        """Each loss's mean over the epoch's training batches (weighted by rows), logged once, on the
        epoch's last batch, under its name (`train_loss` also on the progress bar): what
        self.log(on_epoch=True) per batch gives, without its per-call cost (~1 ms a call here: 8 %
        of a 275-row table's GAN training by py-spy, penguins, whose steps are ~10 ms). The running
        sums stay a tensor [len(losses)], so a step adds no host sync."""
        trainer = self._trainer
        if trainer is None:  # a training_step called by hand: nothing to log to
            return
        values = torch.stack([v.detach().float() for v in losses.values()]) * batch_size
        if getattr(self, "_loss_epoch", None) != self.current_epoch:  # a new epoch: new sums
            self._loss_epoch, self._loss_sums, self._loss_rows = self.current_epoch, values, batch_size
        else:
            self._loss_sums.add_(values)
            self._loss_rows += batch_size
        self._loss_names = tuple(losses)
        if trainer.is_last_batch:  # Lightning knows it: its loader prefetches one batch ahead
            self.flush_train_losses()

    def flush_train_losses(self) -> None:
        """Log the running epoch's loss means now, if any batch of it is not logged yet: on its last
        batch, or when training stops within the epoch (the cool-down's end, synthgen/cooldown.py),
        whose last round would otherwise show and record the round before's training loss."""
        if getattr(self, "_loss_epoch", None) is None:
            return
        rows, means = self._loss_rows, self._loss_sums / self._loss_rows
        self._loss_epoch = None
        for name, mean in zip(self._loss_names, means):
            self.log(name, mean, on_step=False, on_epoch=True, prog_bar=name == "train_loss", batch_size=rows)

    def predict_step(self, batch: dict, batch_idx: int = 0) -> dict:
        # batch: one chunk; "cond" [1, n, ...] from the generation dataset (batch size 1).
        chunk = int(batch["chunk"][0])
        # the chunk's own stream: fixed by (seed, chunk), whatever process runs it (synthgen/seeding.py)
        g = seeding.torch_generator(seeding.MODEL_DRAW, int(batch["seed"][0]), chunk, device=self.device)
        self.last_acceptance_rate = None  # set by sample_by_rejection when conditions need it
        cond = batch["cond"][0].to(self.device)
        if "groups" not in batch:
            out = self.sample(cond, g)
            return {"chunk": chunk, "output": out.cpu(), "acceptance_rate": self.last_acceptance_rate}
        groups, attributes = batch["groups"][0], batch["attributes"][0]
        counter = (batch["counter"][0], batch["counter_tokens"][0]) if "counter" in batch else None
        sizes = (batch["rows"][0], batch["rows_tokens"][0]) if "rows" in batch else None
        out, cond = self.sample_entities(cond, groups, attributes, int(batch["seed"][0]), chunk, g, counter, sizes)
        # the conditions the rows were drawn under: the copy redraw draws again under the same
        return {"chunk": chunk, "output": out.cpu(), "acceptance_rate": self.last_acceptance_rate, "cond": cond.cpu()}


HEAD_POOL = 4  # free heads drawn per group where heads are matched to sizes (heads_by_size)


def heads_by_size(drawn: torch.Tensor, need: torch.Tensor) -> torch.Tensor:
    """Indices into a pool of free heads (their drawn row-count tokens `drawn` [P]) for groups whose
    sizes are `need` [G] (P >= G): a head of each group's own size where the pool has one, each used
    once, the other groups paired with the unused heads in size order. Rows are drawn in proportion
    to their entity's size, so the pool holds the small sizes' heads too rarely to match them all
    (at 4 heads a group, flights_planes' one-leg planes); among heads of one size, the rows' and the
    entities' mixes of attributes agree. -> int64 [G]."""
    p, g = drawn.cpu().numpy(), need.cpu().numpy()
    chosen, used = np.full(len(g), -1, dtype=np.int64), np.zeros(len(p), dtype=bool)
    for v in np.unique(g):
        gi, pi = np.flatnonzero(g == v), np.flatnonzero(p == v)
        k = min(len(gi), len(pi))
        chosen[gi[:k]], used[pi[:k]] = pi[:k], True
    left = np.flatnonzero(chosen < 0)
    if len(left):
        spare = np.flatnonzero(~used)
        spare = spare[np.argsort(p[spare], kind="stable")]
        # the spare heads nearest the left groups' sizes: each left group's rank among the spare tokens
        at = np.searchsorted(p[spare], g[left])
        order = np.argsort(at, kind="stable")
        steps = np.arange(len(left))
        # strictly rising picks, each at or after its own place, with room left for the ones after it
        picks = np.maximum.accumulate(at[order] - steps) + steps
        chosen[left[order]] = spare[np.minimum(picks, len(spare) - len(left) + steps)]
    return torch.from_numpy(chosen).to(drawn.device)


class TabularGenerator(Generator):
    max_rejection_rounds: int = 50
    """Rounds of redrawing the rows that miss a fixed token before sample_by_rejection gives up with
    a SynthgenError naming the acceptance rate; families that meet conditions by rejection (GAN, VAE)
    take it as a hyperparameter (conf/model/*.yaml), the others never reject."""

    def __init__(self, layout: dict, batch_size: int, lr: float):
        super().__init__()
        # whole, `first` included: the exported model file keeps the columns the transformer was
        # trained to draw first (an entity's attributes), so it samples in the order it learnt
        self.layout = TokenLayout.from_dict(layout)
        self.batch_size, self.lr = batch_size, lr

    @property
    def n_columns(self) -> int:
        return len(self.layout.cardinalities)

    exact_conditions: bool = False
    """Whether sample() draws the free columns given the fixed ones (the transformer) rather than
    meeting them by rejection: entity attributes are then conditions, else written over a free draw."""

    def sample_entities(self, cond, groups, attributes, seed: int, chunk: int, generator, counter=None, sizes=None):
        """Rows of whole entity groups (synthgen/entities.py): each group's attributes (column
        indices `attributes` [A]) are those of its head, drawn from the chunk's own heads stream;
        with exact conditions, `counter` (column [1], token per position [K]) draws the k-th row of
        each group given the k-th count, and `sizes` (the rows column [1], each row's group's
        row-count token [n]) draws heads and rows given their entity's size. -> (tokens [n, C], the
        conditions they were drawn under [n, C])."""
        groups, attributes = groups.to(self.device), attributes.to(self.device)
        exact = self.exact_conditions and len(groups)
        rows_col, size_tokens = (int(sizes[0][0]), sizes[1].to(self.device)) if sizes is not None else (None, None)
        if exact and (counter is not None or sizes is not None):
            cond = cond.clone()
        if counter is not None and exact:
            column, tokens = int(counter[0][0]), counter[1].to(self.device)
            first = torch.searchsorted(groups, groups)  # each row's group start (groups ascending)
            at = (torch.arange(len(groups), device=self.device) - first).clamp(max=len(tokens) - 1)
            cond[:, column] = torch.where(cond[:, column] >= 0, cond[:, column], tokens[at])
        if sizes is not None and exact:
            cond[:, rows_col] = size_tokens
        if not len(groups) or not len(attributes):
            return self.sample(cond, generator), cond
        first = int(groups.min())
        n_groups = int(groups.max()) - first + 1
        heads_stream = seeding.torch_generator(seeding.ENTITY_HEADS, seed, chunk, device=self.device)
        if sizes is not None and not exact:  # free heads, each group given one drawn at its size
            need = torch.zeros(n_groups, dtype=torch.long, device=self.device)
            need[groups - first] = size_tokens
            pool = self.sample(self._free(HEAD_POOL * n_groups), heads_stream)
            heads = pool[heads_by_size(pool[:, rows_col], need)]
        else:
            free = self._free(n_groups)
            if sizes is not None:  # a head drawn given its entity's size
                free[groups - first, rows_col] = size_tokens
            heads = self.sample(free, heads_stream)
        mine = heads[groups - first][:, attributes]  # [n, A]: each row's head
        fixed = cond.clone()
        fixed[:, attributes] = torch.where(cond[:, attributes] >= 0, cond[:, attributes], mine)  # the user's first
        if self.exact_conditions:
            return self.sample(fixed, generator), fixed
        out = self.sample(cond, generator)
        out[:, attributes] = fixed[:, attributes]
        return out, cond

    def _free(self, n: int) -> torch.Tensor:
        """[n, C] conditions fixing nothing."""
        return torch.full((n, self.n_columns), -1, dtype=torch.long, device=self.device)

    def sample_by_rejection(self, draw, cond: torch.Tensor) -> torch.Tensor:
        """Meet the fixed tokens of `cond` with heads.rejection_sample over `draw(m, target)` rows,
        in eval mode; `last_acceptance_rate` records the measured rate, also when it fails."""
        from synthgen.errors import SynthgenError
        from synthgen.models.heads import rejection_sample

        was_training = self.training
        self.eval()
        try:
            out, self.last_acceptance_rate = rejection_sample(
                draw, cond, self.layout.cardinalities, self.max_rejection_rounds
            )
        except SynthgenError as e:
            self.last_acceptance_rate = getattr(e, "acceptance_rate", 0.0)
            raise
        finally:
            self.train(was_training)
        return out
