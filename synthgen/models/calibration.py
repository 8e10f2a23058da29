"""The transformer's head bias refitted on its training rows, the network frozen (`model.tabular.calibrate`).

After training, the transformer's eval-mode predictions, teacher-forced in its generation order over
its own training rows, need not add up to each column's token counts, although a softmax layer with
a free bias fitted by maximum likelihood would make them equal (the log-likelihood's gradient in the
bias is the counts minus the predicted counts). Dropout (0.25-0.3 on small tables) trains the
network on noisy activations that eval mode removes, weight decay pulls the bias toward 0, early
stopping and the cool-down end before it converges, and half the rows train in random orders (the
likely causes, not measured apart). On small tables the predictions lean to the common tokens:
kidney_transplant (690 rows), seed 0, predicted the most common level of its race x sex column for
0.068 more of the rows than hold it, and sampled it in 0.578 of the rows against 0.504 real
(benchmarks/sizing.md, "The head's bias refitted").

`bias_shift` finds, for one column, the shift d of its logits that maximises the log-likelihood of
the rows' tokens under a Gaussian prior on d:

    sum_j count_j d_j - sum_i logsumexp(logits_i + d) - PRIOR_ROWS / 2 * |d|^2

The optimum has   predicted count_j = count_j - PRIOR_ROWS * d_j:   the predicted counts meet the
real ones, except that a token held by few rows moves little (without the prior a token no row
holds would go to -inf and one held by a single row the network rates at 1e-4 would be lifted in
every context). PRIOR_ROWS is the encoder's rows per categorical level (synthgen/sizing.py
ROWS_PER_LEVEL): a token earns its own shift from about that many rows. The objective is concave
(linear, less a log-sum-exp, less a quadratic), so damped Newton steps find its optimum.
"""

from __future__ import annotations

import torch

from synthgen.sizing import ROWS_PER_LEVEL

PRIOR_ROWS = float(ROWS_PER_LEVEL)  # the prior's precision, in rows (see the docstring)
MAX_STEPS = 200
FULL_HESSIAN_MAX = 1024  # tokens up to which a Newton step solves with the full [k, k] Hessian
TOLERANCE = 1e-5  # stop when no token's shift moves by more than this (nats)
LOGIT_BUDGET = 1 << 26  # floats of teacher-forced logits held at once (256 MB): rows x vocabulary
MAX_ROWS = 32_768  # rows the shift is fitted on, at most (a seeded subset of larger tables); fewer made
# Adult worse (benchmarks/sizing.md, "The head's bias refitted")


def bias_shift(
    logits: torch.Tensor, tokens: torch.Tensor, prior_rows: float = PRIOR_ROWS, full_hessian_max: int = FULL_HESSIAN_MAX
) -> torch.Tensor:
    """logits [n, k] of one column (the network's, per row), tokens [n] (0..k-1) -> shift d [k]
    maximising the objective in the module docstring; computed in float64. Newton steps with the
    full Hessian up to `full_hessian_max` tokens, with its diagonal above; each step halved until
    the objective improves (Armijo), so the iteration cannot overshoot."""
    lg = logits.double()
    k = lg.shape[1]
    counts = torch.bincount(tokens, minlength=k).double()
    eye = torch.eye(k, dtype=torch.float64, device=lg.device) if k <= full_hessian_max else None

    def loss(d: torch.Tensor) -> float:  # the negated objective
        return float(torch.logsumexp(lg + d, -1).sum() - counts @ d + prior_rows / 2 * (d @ d))

    d = torch.zeros(k, dtype=torch.float64, device=lg.device)
    value = loss(d)
    for _ in range(MAX_STEPS):
        p = (lg + d).softmax(-1)  # [n, k]
        mass = p.sum(0)
        grad = mass - counts + prior_rows * d
        if eye is not None:  # sum_i diag(p_i) - p_i p_i^T, plus the prior
            step = torch.linalg.solve(torch.diag(mass) - p.T @ p + prior_rows * eye, grad)
        else:
            step = grad / (mass - (p * p).sum(0) + prior_rows)
        t, slope = 1.0, float(grad @ step)
        while t > 1e-8 and loss(d - t * step) > value - 1e-4 * t * slope:
            t /= 2
        d -= t * step
        value = loss(d)
        if float((t * step).abs().max()) < TOLERANCE:
            break
    return d


def calibration_rows(datamodule, vocabulary: int, seed: int) -> torch.Tensor:
    """The rows [n, C] the shift is fitted on: the datamodule's training and validation rows (in
    memory; the validation rows chose no weights here, and the shares of all the rows are the
    target: on penguins' 275 rows, leaving its 41 validation rows out moved shifts by up to 0.08),
    or the first of its training batches (a streamed table); at most MAX_ROWS rows and LOGIT_BUDGET
    / vocabulary rows (every column's logits are held at once), a larger in-memory table giving a
    random subset seeded by the run's seed."""
    from synthgen import seeding

    cap = max(1, min(MAX_ROWS, LOGIT_BUDGET // max(1, vocabulary)))
    train_set, val_set = getattr(datamodule, "train_set", None), getattr(datamodule, "val_set", None)
    if train_set is None or not hasattr(train_set, "tensors"):  # streamed shards: batches in their order
        batches, n = [], 0
        for (batch,) in datamodule.train_dataloader():
            batches.append(batch)
            n += len(batch)
            if n >= cap:
                break
        return torch.cat(batches)[:cap]
    tokens = train_set.tensors[0]
    if val_set is not None and hasattr(val_set, "tensors"):
        tokens = torch.cat([tokens, val_set.tensors[0]])
    if len(tokens) <= cap:
        return tokens
    g = seeding.torch_generator(seeding.CALIBRATION_ROWS, seed)
    return tokens[torch.randperm(len(tokens), generator=g)[:cap].sort().values]
