"""What a person needs after a run: where the data is, the headline figures, how to see the runs."""
from __future__ import annotations

import json

from omegaconf import DictConfig

from synthgen.paths import RunPaths

HEADLINE = [("fidelity.shape", "column shapes (1 = identical)"),
            ("fidelity.pair_trends", "pair trends (1 = identical)"),
            ("fidelity.detection_auc", "detection AUC (0.5 = indistinguishable)"),
            ("utility.roc_auc_ratio", "TSTR ROC AUC / real"),
            ("utility.r2_ratio", "TSTR R2 / real"),
            ("privacy.dcr_share", "DCR share (0.5 ideal)"),
            ("privacy.exact_copies_synthetic_share", "exact copies of train rows"),
            ("validity.total", "invalid values"),
            ("gate.passed", "privacy gate passed (1 = yes)")]
IMAGE_HEADLINE = [("utility.cas", "classification accuracy score (CAS)"),
                  ("utility.real_accuracy", "accuracy trained on real images"),
                  ("utility.cas_ratio", "CAS / real"),
                  ("fidelity.fd", "classifier Frechet distance (test vs synthetic)"),
                  ("fidelity.fd_floor", "  its floor (real train vs real test)"),
                  ("fidelity.precision", "precision (synthetic on the real manifold)"),
                  ("fidelity.recall", "recall (real covered by synthetic)"),
                  ("privacy.exact_copies_share", "exact copies of train images")]


def summary_lines(cfg: DictConfig) -> list[str]:
    paths = RunPaths.from_config(cfg)
    images = cfg.data.get("modality") == "image"
    if images:
        lines = [f"synthetic images: {paths.synthetic}/<class>/*.png with {paths.synthetic}/_manifest.parquet "
                 f"(torchvision ImageFolder reads the folder as it is)"]
    else:
        lines = [f"synthetic Parquet: {paths.synthetic}/  (read with pandas.read_parquet on the folder)"]
    metrics_file = paths.evaluation / "metrics.json"
    if metrics_file.exists():
        m = json.loads(metrics_file.read_text())
        lines.append(f"evaluation: {metrics_file}  report: {paths.evaluation / 'report.html'}")
        for key, label in IMAGE_HEADLINE if images else HEADLINE:
            if isinstance(m.get(key), (int, float)):
                lines.append(f"  {label:45s} {m[key]:.4f}")
        levels = {1.0: "pass", 0.5: "warn", 0.0: "fail"}
        verdicts = [f"{k.split('.', 1)[1]} {levels.get(v, v)}" for k, v in m.items() if k.startswith("verdict.")]
        if verdicts:
            lines.append(f"  verdicts (evaluate.verdicts limits): {', '.join(verdicts)}")
    else:
        lines.append("evaluation: not run yet (synthgen evaluate)")
    lines.append("MLflow dashboard: synthgen ui   (or: make ui), then open http://127.0.0.1:5000")
    return lines


def print_summary(cfg: DictConfig) -> None:
    print("\n".join(summary_lines(cfg)))
