"""Privacy gates, tables and images: a pass/fail verdict on the flat evaluation result, with a
one-line reason. Both read the same `evaluate.gate` settings (GateConfig)."""

from __future__ import annotations

from synthgen.evaluate.config import EvalConfig
from synthgen.evaluate.privacy import DCR_SPREAD


def check_gate(result: dict, config: EvalConfig) -> tuple[bool, str]:
    """Fail on more exact train copies than a fresh sample shows (holdout's rate + margin),
    on a DCR share above the limit (rows nearer train than holdout: memorisation), on any
    train identifier value or real personal data (name, e-mail, phone, address) reused in the
    synthetic table, or (when mia_auc_max is set) on a membership attack AUC above the limit."""
    g = config.gate
    if not g.enabled:
        return True, "gate disabled"
    syn = result["privacy.exact_copies_synthetic_share"]
    hold = result["privacy.exact_copies_holdout_share"]
    dcr = result["privacy.dcr_share"]
    ids = int(result.get("privacy.identifier_copies", 0))
    pii = int(result.get("privacy.pii_copies", 0))
    fails = []
    copy_max, copy_note = copy_limit(hold, int(result.get("rows.holdout", 0)), g)
    if syn > copy_max:
        fails.append(
            f"exact copies of train rows {syn:.2%} > holdout baseline {hold:.2%} + margin {g.exact_copy_margin:.2%}"
            f"{copy_note}"
        )
    dcr_max, raised = _dcr_limit(result, g)
    if dcr > dcr_max:
        fails.append(f"DCR share {dcr:.3f} > {dcr_max:.3f}{raised}{_dcr_basis(result)}")
    if ids > 0:
        fails.append(f"{ids} train identifier value(s) reused")
    if pii > 0:
        fails.append(f"{pii} synthetic row(s) carry a real person's name, e-mail, phone or address")
    mia = result.get("privacy.mia_auc")
    if g.mia_auc_max is not None and mia is not None and mia > g.mia_auc_max:
        fails.append(f"membership attack AUC {mia:.3f} > {g.mia_auc_max:.3f}")
    if fails:
        return False, "failed: " + "; ".join(fails)
    mia_note = (
        f", membership attack AUC {mia:.3f} <= {g.mia_auc_max:.3f}"
        if g.mia_auc_max is not None and mia is not None
        else ""
    )
    return True, (
        f"passed: exact copies {syn:.2%} <= holdout {hold:.2%} + {g.exact_copy_margin:.2%}{copy_note}, "
        f"DCR share {dcr:.3f} <= {dcr_max:.3f}{raised}, no identifier or personal data reused{mia_note}"
    )


COPY_NOISE_ROWS = 50  # a holdout with fewer rows gives its copy share too loosely to hold a generator to it


def copy_limit(hold: float, rows: int, g) -> tuple[float, str]:
    """The synthetic exact-copy share's limit: the holdout's share plus exact_copy_margin, or on a
    holdout under COPY_NOISE_ROWS rows (copy_noise_allowance) the share plus two standard errors
    sqrt(p (1 - p) / rows), where that is higher; with a note saying so. lifelines' waltons (3
    columns, 33 holdout rows, 97 % of them copying a training row: every combination of values is
    a real row) failed with 100 % against 96.97 % when a run of a fresh real sample would too; a
    holdout without copies keeps the limit at its 0 %."""
    base = hold + g.exact_copy_margin
    if not g.copy_noise_allowance or not 0 < rows < COPY_NOISE_ROWS:
        return base, ""
    noisy = hold + 2 * (hold * (1 - hold) / rows) ** 0.5
    if noisy <= base:
        return base, ""
    return noisy, f" (raised to {noisy:.2%}: the holdout's share + 2 standard errors on {rows} rows)"


def _dcr_limit(result: dict, g) -> tuple[float, str]:
    """The DCR share's limit: dcr_share_max, or where the holdout is so small that a generator
    reaches more by chance (and dcr_noise_allowance is on), that share; with a note saying so."""
    noise = result.get("privacy.dcr_share_noise_limit")
    if not g.dcr_noise_allowance or noise is None or noise <= g.dcr_share_max:
        return g.dcr_share_max, ""
    return noise, (
        f" (the limit {g.dcr_share_max:.3f} raised to the share a generator reaches by chance on so few "
        f"holdout rows, 0.5 + 2 x {DCR_SPREAD} / sqrt(rows))"
    )


def _dcr_basis(result: dict) -> str:
    """What the DCR share was measured on, where the result says: a share from a dozen holdout rows
    moves by about a tenth with the rows drawn (vega's la-riots, 13 rows: sd 0.118 over 3 folds),
    one from thousands by a few thousandths, and the reader should see which it was."""
    n, folds = result.get("rows.holdout"), result.get("privacy.dcr_share_folds")
    sd = result.get("privacy.dcr_share_fold_sd")
    if n is None:
        return ""
    spread = f", sd {sd:.3f} over {int(folds)} folds" if folds and folds > 1 and sd is not None else ""
    return f" (on {int(n):,} holdout rows{spread})"


def check_image_gate(result: dict, gate) -> tuple[bool, str]:
    """The privacy gate for images: no larger share of exact copies of training images than the
    real test images themselves have (plus `gate.exact_copy_margin`). `gate`: evaluate.gate (a
    GateConfig or the config node)."""
    if not gate.enabled:
        return True, ""
    syn, test = result["privacy.exact_copies_share"], result["privacy.exact_copies_test_share"]
    if syn > test + float(gate.exact_copy_margin):
        return False, (
            f"{syn:.2%} of the synthetic images are exact copies of training images "
            f"(real test images: {test:.2%}, margin {float(gate.exact_copy_margin):.2%})"
        )
    return True, ""
