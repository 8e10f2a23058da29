"""One headline list per modality (evaluate/headline.py) read by the report and `synthgen summary`;
one place for both privacy gates (evaluate/gate.py)."""

from __future__ import annotations

import json

from synthgen.config import load_config
from synthgen.evaluate import GateConfig, check_image_gate
from synthgen.evaluate.headline import GATE, IMAGE, TABLE
from synthgen.summary import summary_lines

COPIES = {"privacy.exact_copies_share": 0.02, "privacy.exact_copies_test_share": 0.01}


def test_image_gate_compares_exact_copies_with_the_real_test_images():
    passed, reason = check_image_gate(COPIES, GateConfig())
    assert not passed and "\n" not in reason
    assert reason == (
        "2.00% of the synthetic images are exact copies of training images (real test images: 1.00%, margin 0.00%)"
    )
    assert check_image_gate(COPIES, GateConfig(exact_copy_margin=0.015)) == (True, "")
    assert check_image_gate(COPIES, GateConfig(enabled=False)) == (True, "")
    assert check_image_gate({**COPIES, "privacy.exact_copies_share": 0.01}, GateConfig())[0]


def _summary(tmp_path, metrics: dict, *overrides: str) -> str:
    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", *overrides])
    (tmp_path / "out" / "evaluation").mkdir(parents=True)
    (tmp_path / "out" / "evaluation" / "metrics.json").write_text(json.dumps(metrics))
    return "\n".join(summary_lines(cfg))


def test_table_summary_shows_the_report_headline(tmp_path):
    metrics = {h.key: 0.25 for h in TABLE} | {GATE.key: 1, "verdict.fidelity": 1.0, "fidelity.fd": 9.0}
    text = _summary(tmp_path, metrics)
    assert "synthetic Parquet" in text and "verdicts (evaluate.verdicts limits): fidelity pass" in text
    for h in (*TABLE, GATE):
        assert h.label in text
    assert not any(h.label in text for h in IMAGE)  # the other modality's list is not read


def test_image_summary_shows_each_figure_beside_its_real_data_reference(tmp_path):
    metrics = {h.key: 0.5 for h in IMAGE} | {h.reference: 0.125 for h in IMAGE if h.reference}
    text = _summary(tmp_path, metrics, "data=digits")
    assert "synthetic images" in text and "_manifest.parquet" in text
    fd = next(line for line in text.splitlines() if IMAGE[0].label in line)
    assert "0.5000" in fd and "(real data: 0.1250)" in fd
    assert not any(h.label in text for h in TABLE)


def test_summary_before_evaluate_says_so(tmp_path):
    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}"])
    assert "evaluation: not run yet (synthgen evaluate)" in summary_lines(cfg)
