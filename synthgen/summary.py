"""What a person needs after a run: where the data is, the headline figures, how to see the runs."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from synthgen.paths import RunPaths


def headline(result: dict) -> dict:
    """The few figures a person compares (evaluate/headline.py's TRACKED: headline figures, gate,
    verdicts): headline.json beside metrics.json, the file `dvc metrics show` reads (metrics.json
    has ~100 keys)."""
    from synthgen.evaluate.headline import TRACKED

    return {k: result[k] for k in TRACKED if isinstance(result.get(k), (int, float))}


def write_headline(folder, result: dict) -> None:
    text = json.dumps(headline(result), sort_keys=True, indent=1, allow_nan=False) + "\n"
    (Path(folder) / "headline.json").write_text(text, encoding="utf-8")


def summary_lines(cfg: DictConfig) -> list[str]:
    """Where the synthetic set and its evaluation are, the headline figures, the dashboard."""
    from synthgen.modalities import modality_name
    from synthgen.writers import OUTPUT_NOTES

    paths = RunPaths.from_config(cfg)
    lines = [OUTPUT_NOTES[modality_name(cfg)].format(folder=paths.synthetic)]
    if (paths.evaluation / "metrics.json").exists():
        lines += figure_lines(cfg)
    else:
        lines.append("evaluation: not run yet (synthgen evaluate)")
    lines.append("MLflow dashboard: synthgen ui   (or: make ui), then open http://127.0.0.1:5000")
    return lines


def figure_lines(cfg: DictConfig) -> list[str]:
    """The evaluation's files and headline figures (what `synthgen evaluate` prints; [] before it ran)."""
    from synthgen.evaluate.headline import GATE, HEADLINES
    from synthgen.modalities import modality_name

    paths, modality = RunPaths.from_config(cfg), modality_name(cfg)
    metrics_file = paths.evaluation / "metrics.json"
    if not metrics_file.exists():
        return []
    m = json.loads(metrics_file.read_text())
    lines = [f"evaluation: {metrics_file}  report: {paths.evaluation / 'report.html'}"]
    for h in (*HEADLINES[modality], GATE):
        if isinstance(m.get(h.key), (int, float)):
            ref = m.get(h.reference) if h.reference else None
            beside = f"  (real data: {ref:.4f})" if isinstance(ref, (int, float)) else ""
            lines.append(f"  {h.label:45s} {m[h.key]:.4f}{beside}   {h.good}")
    levels = {1.0: "pass", 0.5: "warn", 0.0: "fail"}
    verdicts = [f"{k.split('.', 1)[1]} {levels.get(v, v)}" for k, v in m.items() if k.startswith("verdict.")]
    if verdicts:
        lines.append(f"  verdicts (evaluate.verdicts limits): {', '.join(verdicts)}")
    return lines


def print_summary(cfg: DictConfig) -> None:
    print("\n".join(summary_lines(cfg)))
