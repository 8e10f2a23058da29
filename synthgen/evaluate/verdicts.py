"""A pass / warn / fail verdict per area (fidelity, utility, privacy, bias, validity).

Each limit is a pair [pass limit, warn limit] (conf/config.yaml `evaluate.verdicts` documents the
defaults): a figure on the good side of the pass limit passes, one between the limits warns, one
beyond the warn limit fails. An area's verdict is its worst figure's. Only the privacy gate blocks
a release (gate.py); these verdicts say where a passing set is still weak, e.g. a table whose
columns were shuffled independently keeps perfect column shapes but fails fidelity and utility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from synthgen.errors import SynthgenError

LEVELS = ("pass", "warn", "fail")
AREAS = ("fidelity", "utility", "privacy", "bias", "validity")
SCORE = {"pass": 1.0, "warn": 0.5, "fail": 0.0}  # the numeric form logged as metric verdict.<area>
DEFAULTS = {  # name: (pass limit, warn limit); `HIGHER_IS_BETTER` says which side is good
    "shape": (0.90, 0.80),
    "pair_trends": (0.90, 0.80),
    "detection_auc": (0.80, 0.90),
    "utility_ratio": (0.90, 0.75),
    "dcr_share": (0.55, 0.60),
    "flagged_groups_share": (0.0, 0.20),
    "invalid_share": (0.0, 0.001),
}
HIGHER_IS_BETTER = {"shape", "pair_trends", "utility_ratio"}


@dataclass
class Verdict:
    area: str
    level: str  # pass | warn | fail | n/a (nothing to judge, e.g. no target for utility)
    reason: str  # the figures behind it, one line


def limits(raw: Mapping | None) -> dict[str, tuple[float, float]]:
    """DEFAULTS updated with `raw`, checked: known names, two numbers, in the right order."""
    out = dict(DEFAULTS)
    for name, pair in dict(raw or {}).items():
        if name not in DEFAULTS:
            raise SynthgenError(f"unknown evaluate.verdicts key '{name}'; known: {', '.join(DEFAULTS)}")
        try:
            ok, warn = (float(x) for x in pair)
        except (TypeError, ValueError):
            raise SynthgenError(
                f"evaluate.verdicts.{name}={pair!r}: give [pass limit, warn limit], e.g. {list(DEFAULTS[name])}"
            ) from None
        if (ok < warn) if name in HIGHER_IS_BETTER else (ok > warn):
            raise SynthgenError(
                f"evaluate.verdicts.{name}={pair!r}: the pass limit must be "
                f"{'above' if name in HIGHER_IS_BETTER else 'below'} the warn limit"
            )
        out[name] = (ok, warn)
    return out


def _level(name: str, value: float, lim: dict) -> str:
    ok, warn = lim[name]
    if name in HIGHER_IS_BETTER:
        return "pass" if value >= ok else "warn" if value >= warn else "fail"
    return "pass" if value <= ok else "warn" if value <= warn else "fail"


def _judge(area: str, figures: list[tuple[str, str, float]], lim: dict, extra_fail: str = "") -> Verdict:
    """figures: (limit name, label, value); the worst level wins."""
    if not figures and not extra_fail:
        return Verdict(area, "n/a", "nothing to judge")
    levels = [(_level(name, v, lim), f"{label} {v:.3g}") for name, label, v in figures]
    worst = max((lvl for lvl, _ in levels), key=LEVELS.index, default="pass")
    if extra_fail:
        worst = "fail"
    parts = ([extra_fail] if extra_fail else []) + [f"{text} ({lvl})" for lvl, text in levels]
    return Verdict(area, worst, "; ".join(parts))


def judge(result: dict, raw_limits: Mapping | None, gate_passed: bool) -> dict[str, Verdict]:
    """One Verdict per area from the flat evaluation result (evaluate_tables' keys)."""
    lim = limits(raw_limits)
    g = result.get
    fidelity = [
        (n, label, g(k))
        for n, label, k in (
            ("shape", "column shapes", "fidelity.shape"),
            ("pair_trends", "pair trends", "fidelity.pair_trends"),
            ("detection_auc", "detection AUC", "fidelity.detection_auc"),
        )
        if g(k) is not None
    ]
    utility = [
        ("utility_ratio", f"TSTR {m} ratio", g(f"utility.{m}_ratio"))
        for m in ("roc_auc", "r2")
        if g(f"utility.{m}_ratio") is not None
    ][:1]
    share, noise, label = g("privacy.dcr_share"), g("privacy.dcr_share_noise_limit"), "DCR share"
    if share is not None and noise is not None and lim["dcr_share"][1] < share <= noise:
        # a share a generator reaches by chance on this few holdout rows: weak evidence, a warning
        lim = {**lim, "dcr_share": (lim["dcr_share"][0], noise)}
        label = f"DCR share (within the chance spread of {int(g('rows.holdout', 0)):,} holdout rows)"
    privacy = [("dcr_share", label, share)] if share is not None else []
    n_groups = len({k.rsplit(".", 1)[0] for k in result if k.startswith("bias.") and k.endswith(".share_real")})
    bias = (
        [
            (
                "flagged_groups_share",
                f"{int(g('bias.flagged_groups', 0))} of {n_groups} groups flagged, share",
                g("bias.flagged_groups", 0) / n_groups,
            )
        ]
        if n_groups
        else []
    )
    validity = (
        [
            (
                "invalid_share",
                f"{int(g('validity.total', 0))} invalid values, share of cells",
                g("validity.invalid_share"),
            )
        ]
        if g("validity.invalid_share") is not None
        else []
    )
    return {
        "fidelity": _judge("fidelity", fidelity, lim),
        "utility": _judge("utility", utility, lim),
        "privacy": _judge("privacy", privacy, lim, "" if gate_passed else "privacy gate failed"),
        "bias": _judge("bias", bias, lim),
        "validity": _judge("validity", validity, lim),
    }


def verdict_metrics(verdicts: dict[str, Verdict]) -> dict[str, float]:
    """verdict.<area>: 1 pass, 0.5 warn, 0 fail (areas with nothing to judge are left out)."""
    return {f"verdict.{a}": SCORE[v.level] for a, v in verdicts.items() if v.level in SCORE}
