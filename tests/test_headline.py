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


def test_a_run_whose_gate_fails_prints_the_figures_before_the_reason(tmp_path, capsys):
    """statsmodels' china_smoking (8 cities, each a row): every synthetic row copied a training row
    and the run stopped on the gate's one line, without the figures that failed it."""
    import pandas as pd

    from synthgen import cli
    from tests.conftest import tiny_overrides

    cities = ["Beijing", "Shanghai", "Shenyang", "Nanjng", "Harbin", "Zhengzhou", "Taiyuan", "Nanchang"]
    pd.DataFrame({"Location": cities, "country": "China"}).to_csv(  # any row of seen cities is a copy
        tmp_path / "cities.csv", index=False
    )
    overrides = tiny_overrides(tmp_path, "data=file", f"data.path={tmp_path / 'cities.csv'}", "logger.log_model=false")
    assert cli.main(["run", *overrides]) == 2
    printed = capsys.readouterr()
    assert "privacy gate failed: exact copies" in printed.err
    metrics = json.loads((tmp_path / "out" / "evaluation" / "metrics.json").read_text())
    share = metrics["privacy.exact_copies_synthetic_share"]
    assert share > 0 and f"Exact copies of train rows                    {share:.4f}" in printed.out
    assert "Privacy gate passed                           0.0000" in printed.out
