"""The headline figures of an evaluation, one list per modality: the report's summary table,
`synthgen summary`, Evaluation.summary() and the train run's MLflow row all read these lists.

Each entry: the metrics.json key, its label, what good looks like, and (images; a table's name-sex
agreement) the key of the real-data figure to read it against (e.g. the Frechet distance beside its
real-vs-real floor).
"""

from __future__ import annotations

from typing import NamedTuple


class Headline(NamedTuple):
    key: str
    label: str
    good: str
    reference: str | None = None


TABLE = (
    Headline("fidelity.overall", "Overall fidelity", "1 is ideal"),
    Headline("fidelity.shape", "Column shapes", "1 is ideal"),
    Headline("fidelity.pair_trends", "Column-pair trends", "1 is ideal"),
    Headline("fidelity.detection_auc", "Detection ROC AUC", "0.5 is ideal"),
    Headline("utility.roc_auc_ratio", "TSTR ROC AUC ratio", "1 is ideal"),
    Headline("utility.r2_ratio", "TSTR R\u00b2 ratio", "1 is ideal"),
    Headline("privacy.dcr_share", "DCR share (closer to train)", "0.5 is ideal"),
    Headline("privacy.mia_auc", "Membership attack ROC AUC", "0.5 is ideal"),
    Headline("privacy.dp_epsilon_spent", "DP epsilon spent", "<= requested"),
    Headline("privacy.exact_copies_synthetic_share", "Exact copies of train rows", "\u2264 holdout's share"),
    Headline("privacy.exact_copies_holdout_share", "Holdout rows equal to train rows", "baseline"),
    Headline("privacy.identifier_copies", "Train identifiers reused", "0"),
    Headline("privacy.pii_copies", "Rows with a real person's data", "0"),
    Headline("fidelity.date_orderings", "Date orderings kept (worst pair)", "1 is ideal"),
    Headline(
        "fidelity.date_ties",
        "Date ties with their flags (worst pair)",
        "\u2265 holdout's",
        "fidelity.date_ties_holdout",
    ),
    Headline("fidelity.value_orderings", "Number orderings kept (worst pair)", "1 is ideal"),
    Headline("fidelity.ages", "Ages agreeing with their dates (worst)", "1 is ideal"),
    Headline("fidelity.spans", "Day counts agreeing with their dates (worst)", "1 is ideal"),
    Headline("fidelity.durations", "Durations within their end day (worst)", "1 is ideal"),
    Headline("fidelity.sums", "Totals equal to their parts (worst)", "1 is ideal"),
    Headline("fidelity.products", "Products equal to their factors' (worst)", "1 is ideal"),
    Headline("fidelity.conversions", "Conversions kept (worst)", "1 is ideal"),
    Headline("fidelity.dependencies", "Rows keeping their key's lookup (worst)", "1 is ideal"),
    Headline("fidelity.bands", "Rows whose band is their number's (worst)", "1 is ideal"),
    Headline("fidelity.date_parts", "Date parts agreeing with their dates (worst)", "1 is ideal"),
    Headline(
        "fidelity.nestings", "Rows whose (level, group) pair is real", "\u2265 holdout's", "fidelity.nestings_holdout"
    ),
    Headline("fidelity.composites", "Rows whose text agrees with its parts (worst)", "1 is ideal"),
    Headline("fidelity.exclusive_flags", "Rows setting at most one of their one-hot flags (worst)", "1 is ideal"),
    Headline("fidelity.entity_sizes", "Rows per entity (1 - TV distance)", "1 is ideal"),
    Headline("fidelity.entity_attributes", "Entities keeping their attributes", "1 is ideal"),
    Headline(
        "fidelity.entity_shape",
        "Entities' attribute mix (1 - TV distance)",
        "\u2248 holdout's",
        "fidelity.entity_shape_holdout",
    ),
    Headline(
        "fidelity.entity_spans",
        "Entities' date spans (1 - TV distance)",
        "\u2248 holdout's",
        "fidelity.entity_spans_holdout",
    ),
    Headline("fidelity.entity_order", "Entities keeping their rows' date order", "1 is ideal"),
    Headline("fidelity.entity_counter", "Entities whose row counter counts their rows", "1 is ideal"),
    Headline("fidelity.entity_marks", "Entities with their flag on one row", "1 is ideal"),
    Headline("fidelity.name_sex", "First names agreeing with the sex column", "1 is ideal", "fidelity.name_sex_real"),
    Headline("bias.flagged_groups", "Flagged groups", "0"),
    Headline("validity.total", "Validity violations", "0"),
)

IMAGE = (
    Headline("fidelity.fd", "Fréchet distance (classifier features)", "≈ floor (reference)", "fidelity.fd_floor"),
    Headline("fidelity.fd_ratio", "Fréchet distance / floor", "1"),
    Headline("fidelity.precision", "Precision (k-NN)", "≈ reference", "fidelity.precision_reference"),
    Headline("fidelity.recall", "Recall (k-NN)", "≈ reference", "fidelity.recall_reference"),
    Headline("fidelity.density", "Density", "≈ reference (~1)", "fidelity.density_reference"),
    Headline("fidelity.coverage", "Coverage", "≈ reference", "fidelity.coverage_reference"),
    Headline("utility.cas", "Classification accuracy score (CAS)", "≈ real accuracy", "utility.real_accuracy"),
    Headline("utility.cas_ratio", "CAS / real accuracy", "1"),
    Headline("fidelity.inception_fid", "Inception FID", "≈ floor", "fidelity.inception_fid_floor"),
    Headline("fidelity.pixel_tv", "Pixel-intensity histogram TV", "≈ reference", "fidelity.pixel_tv_reference"),
    Headline("fidelity.class_tv", "Class-share TV (train vs synthetic)", "0"),
    Headline(
        "privacy.exact_copies_share",
        "Exact copies of train images",
        "0 (≤ test's share)",
        "privacy.exact_copies_test_share",
    ),
    Headline(
        "privacy.near_copies_share", "Near copies of train images", "≤ test's share", "privacy.near_copies_test_share"
    ),
)

HEADLINES = {"tabular": TABLE, "image": IMAGE}
GATE = Headline("gate.passed", "Privacy gate passed", "1 = yes")
VERDICTS = ("verdict.fidelity", "verdict.utility", "verdict.privacy", "verdict.bias", "verdict.validity")
# Copied from the evaluate run onto the pipeline's train run (its row in the runs list).
TRACKED = tuple(dict.fromkeys([h.key for h in TABLE + IMAGE] + [GATE.key, *VERDICTS]))
