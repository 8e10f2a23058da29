"""The transformer's head bias refitted on its training rows (synthgen/models/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import logsumexp

from synthgen.models.calibration import PRIOR_ROWS, bias_shift, calibration_rows
from tests.test_models_tabular import make_model


def _objective(d, logits, counts):
    """The negated log-posterior of the module docstring and its gradient, in numpy."""
    z = logits + d
    lse = logsumexp(z, axis=1)
    p = np.exp(z - lse[:, None])
    value = -(counts @ d) + lse.sum() + PRIOR_ROWS / 2 * d @ d
    return value, p.sum(0) - counts + PRIOR_ROWS * d


def test_bias_shift_is_scipys_optimum_of_the_same_objective():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (400, 6))
    tokens = rng.choice(6, size=400, p=[0.5, 0.25, 0.15, 0.07, 0.03, 0.0])  # token 5 held by no row
    counts = np.bincount(tokens, minlength=6).astype(float)
    ref = minimize(_objective, np.zeros(6), args=(logits, counts), jac=True, method="L-BFGS-B", tol=1e-14).x
    d = bias_shift(torch.tensor(logits), torch.tensor(tokens)).numpy()
    np.testing.assert_allclose(d, ref, atol=1e-4)
    # the wide columns' steps (the Hessian's diagonal) reach the same optimum
    wide = bias_shift(torch.tensor(logits), torch.tensor(tokens), full_hessian_max=0).numpy()
    np.testing.assert_allclose(wide, ref, atol=1e-4)
    # the optimum: predicted counts meet the real ones but for the prior's pull
    predicted = torch.tensor(logits + d).softmax(-1).sum(0).numpy()
    np.testing.assert_allclose(predicted, counts - PRIOR_ROWS * d, atol=1e-2)
    assert -2 < d[5] < 0  # a token no row holds goes down, by a bounded amount


def test_a_token_few_rows_hold_moves_less_than_one_many_rows_hold():
    # the network rates two tokens alike at half their share; one is held by 400 rows, one by 4
    n = 2000
    logits = torch.log(torch.tensor([0.1, 0.001, 0.899])).expand(n, 3)
    tokens = torch.tensor([0] * 400 + [1] * 4 + [2] * (n - 404))
    d = bias_shift(logits, tokens)
    assert torch.allclose(d, bias_shift(logits, tokens, full_hessian_max=0), atol=1e-4)  # both kinds of step
    # against the common token: the data decide for the first (its share 0.1 -> 0.2, the common
    # token's 0.899 -> 0.798), the prior for the second
    assert float(d[0] - d[2]) == pytest.approx(np.log(0.2 / 0.1 * 0.899 / 0.798), abs=0.04)  # less the prior's pull
    assert 0 < float(d[1]) < 0.2 * float(d[0])


def test_calibrating_a_transformer_moves_its_predicted_shares_to_the_rows_and_only_its_bias():
    torch.manual_seed(0)
    model, _ = make_model("transformer", [3, 4])
    g = torch.Generator().manual_seed(1)
    n = 6000  # the prior leaves shares off by PRIOR_ROWS x shift / n
    a = torch.multinomial(torch.tensor([0.8, 0.15, 0.05]), n, replacement=True, generator=g)
    b = (a + torch.randint(0, 2, (n,), generator=g)) % 4  # depends on a
    x = torch.stack([a, b], 1)
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    def shares(c: int) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            h = model(x, model.generation.expand(len(x), -1))
            return model.column_logits(h[:, c], c).softmax(-1).mean(0)

    real = [torch.bincount(x[:, c], minlength=k).double() / len(x) for c, k in enumerate([3, 4])]
    before = [float((shares(c) - real[c]).abs().max()) for c in range(2)]
    model.train()
    shift = model.calibrate_head_bias(x)
    assert model.training  # back in the mode it was in
    after = [float((shares(c) - real[c]).abs().max()) for c in range(2)]
    assert min(before) > 0.1 and max(after) < 0.01, (before, after)
    state = model.state_dict()
    assert torch.equal(state["head.bias"], weights["head.bias"] + shift)
    assert all(torch.equal(state[k], v) for k, v in weights.items() if k != "head.bias")


class _Rows:
    """A datamodule's training and validation sets as TokenDataModule holds them (the last tenth)."""

    def __init__(self, tokens):
        cut = len(tokens) * 9 // 10
        self.train_set = torch.utils.data.TensorDataset(tokens[:cut])
        self.val_set = torch.utils.data.TensorDataset(tokens[cut:])


def test_calibration_rows_are_all_rows_or_a_seeded_subset_within_the_logit_budget():
    tokens = torch.arange(50_000).unsqueeze(1)
    assert torch.equal(calibration_rows(_Rows(tokens[:300]), 40, seed=0), tokens[:300])  # validation rows too
    rows = calibration_rows(_Rows(tokens), 40, seed=0)
    assert len(rows) == 32_768 and torch.equal(rows, calibration_rows(_Rows(tokens), 40, seed=0))
    assert not torch.equal(rows, calibration_rows(_Rows(tokens), 40, seed=1))
    assert len(rows.unique()) == len(rows)  # rows without repeats
    assert len(calibration_rows(_Rows(tokens), 20_000, seed=0)) == (1 << 26) // 20_000  # a wide vocabulary
