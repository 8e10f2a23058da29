"""benchmarks/suite.py and suite_report.py without training: the family list the driver accepts,
the per-table rendering of every family present (SDV's CTGAN and TVAE beside ours), and the SDV
metadata rule that makes both sides model the same columns (needs sdv, the `bench` extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import suite  # noqa: E402
from suite_report import render  # noqa: E402


def test_driver_accepts_the_sdv_baselines_and_refuses_an_unknown_family(capsys):
    assert {"gan", "vae", "ctgan", "tvae", "argn"} <= set(suite.FAMILIES)
    assert suite.main(["--tables", "penguins", "--families", "gan,ctganx"]) == 2
    assert "ctganx" in capsys.readouterr().err


def test_every_family_present_gets_a_row_and_a_failed_one_is_listed_as_not_run():
    row = {"train_s": 12.5, "sample_rows_per_s": 30000, "shape": 0.95, "pairs": 0.9, "detection": 0.6}
    results = {
        "penguins": {
            "info": {"covers": "344 rows", "train_rows": 275, "holdout_rows": 69, "columns": 8, "target": "species"},
            "ceiling": {"shape": 0.97, "utility": "roc_auc_ratio"},
            "models": {
                "gan": row,
                "vae": {**row, "shape": 0.96},
                "ctgan": {**row, "shape": 0.865},
                "argn": {**row, "max_training_minutes": 60.0},
                "tvae": {"not_run": "over the 2400 s limit"},
            },
        }
    }
    md = render(results)
    lines = md.splitlines()
    for name, shape in (("gan", "0.950"), ("vae", "0.960"), ("ctgan", "0.865")):
        [line] = [x for x in lines if x.startswith(f"| {name} |")]
        assert shape in [c.strip() for c in line.split("|")]
    assert any(x.startswith("| argn (training capped at 60 min) |") for x in lines)  # a capped competitor says so
    assert not any(x.startswith("| tvae |") for x in lines)
    assert "- penguins / tvae: over the 2400 s limit" in lines


def test_tagged_experiments_get_a_table_of_their_own_after_the_defaults():
    row = {"train_s": 12.5, "shape": 0.95}
    models = {
        "transformer": row,
        "transformer_l1_s0": {**row, "overrides": "model.tabular.n_layers=1,seed=0"},
        "transformer_s1": row,
        "argn": row,
        "transformer_unsized": row,
    }
    results = {"t": {"info": {}, "ceiling": {"shape": 0.9}, "models": models}}
    lines = render(results).splitlines()
    lines = lines[lines.index("## t") :]  # the table's own section (the targets board comes first)
    split = lines.index("Experiments (`--tag`, with the overrides each ran with; README and benchmarks/*.md say what")
    first = [x.split("|")[1].strip() for x in lines[:split] if x.startswith("| ") and not x.startswith("| model")]
    later = [x.split("|")[1].strip() for x in lines[split:] if x.startswith("| ") and not x.startswith("| model")]
    assert first == ["ceiling (real holdout)", "transformer", "transformer_s1", "argn"]
    assert later == ["transformer_l1_s0", "transformer_unsized"]
    [l1] = [x for x in lines if x.startswith("| transformer_l1_s0 |")]
    assert l1.rstrip(" |").endswith("model.tabular.n_layers=1,seed=0")


def test_a_seed_run_refuses_the_sdv_models_which_take_no_seed_here(capsys):
    assert suite.main(["--tables", "penguins", "--families", "transformer,ctgan", "--seed", "1"]) == 2
    assert "SDV's models take no seed" in capsys.readouterr().err


def test_fresh_seconds_add_each_library_start_up_to_its_train_seconds():
    startup = {
        lib: {"median_s": s, "seconds": [s], "load": [1.0], "measured_at": "2026-12-03 16:00 UTC"}
        for lib, s in (("synthgen", 2.5), ("argn", 5.25), ("sdv", 4.0))
    }
    row = {"train_s": 10.0, "shape": 0.95}
    results = {
        "penguins": {
            "info": {"covers": "344 rows", "train_rows": 275, "holdout_rows": 69, "columns": 8, "target": "species"},
            "ceiling": {"shape": 0.97},
            "models": {"transformer_s1": row, "argn_s1": row, "tvae": row},
        }
    }
    lines = render(results, startup).splitlines()
    header = next(x for x in lines if x.startswith("| model |"))
    at = [c.strip() for c in header.split("|")].index("fresh s")
    fresh = {c[1]: c[at] for c in ([x.strip() for x in line.split("|")] for line in lines if line.startswith("| "))}
    assert (fresh["transformer_s1"], fresh["argn_s1"], fresh["tvae"]) == ("12.5", "15.2", "14.0")
    assert fresh["ceiling (real holdout)"] == ""  # no training
    assert "| argn | 5.25 | 5.25 | 1.00 | 2026-12-03 16:00 UTC |" in lines
    assert "fresh s" not in render(results)  # without start-up figures the column is left out


def test_sdv_metadata_models_a_column_it_would_take_for_a_key():
    pytest.importorskip("sdv")
    # a unique integer count (gapminder's `pop`): SDV detects an id and primary key; synthgen models it
    df = pd.DataFrame({"pop": [1_000_003 * (i + 1) for i in range(60)], "continent": ["Asia", "Europe", "Africa"] * 20})
    meta = suite.sdv_metadata(df, "t").to_dict()["tables"]["t"]
    assert meta["columns"]["pop"]["sdtype"] == "numerical"
    assert meta.get("primary_key") is None
    assert meta["columns"]["continent"]["sdtype"] == "categorical"


def test_overrides_split_on_commas_outside_brackets():
    assert suite.split_overrides("seed=1,model.tabular.widths=[256,256],a=b") == (
        "seed=1",
        "model.tabular.widths=[256,256]",
        "a=b",
    )
    assert suite.split_overrides("") == ()


def test_the_ceiling_dcr_reference_scores_unseen_real_rows_not_the_holdout_itself(tmp_path, monkeypatch):
    # i.i.d. rows: training rows the reference never saw are as near the holdout as the rest, so the
    # share sits near 0.5; scoring the holdout against itself (the ceiling's other figures) gives 0
    rng = np.random.default_rng(0)
    d = tmp_path / "iid"
    d.mkdir()
    frame = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500), "k": rng.choice(list("abc"), 500)})
    frame.iloc[:400].to_parquet(d / "train.parquet")
    frame.iloc[400:].to_parquet(d / "holdout.parquet")
    monkeypatch.setattr(suite, "WORK", tmp_path)
    ref = suite.dcr_reference("iid", {"target": "k"}, splits=4)
    assert 0.4 < ref["dcr_share"] < 0.6 and ref["dcr_share_sd"] > 0


def test_the_targets_board_averages_the_seeds_both_families_ran_and_says_which_targets_are_met():
    from suite_targets import table_targets

    def row(**k):
        return {
            "shape": 0.95,
            "pairs": 0.9,
            "tstr": 0.95,
            "detection": 0.6,
            "dcr_share": 0.51,
            "copies": 0.0,
            "train_s": 10.0,
            "sample_rows_per_s": 30000,
            **k,
        }

    models = {
        "transformer": row(shape=0.94),
        "transformer_s1": row(shape=0.96, detection=0.5, dcr_share=0.54),
        "transformer_s2": row(shape=0.5),  # TabularARGN has no seed 2: left out of both means
        "transformer_l1_s1": row(shape=0.1),  # a tagged experiment: never a seed row
        "argn": row(shape=0.951, detection=0.7, train_s=8.0),
        "argn_s1": row(shape=0.949, detection=0.8, train_s=9.0),
        "gan": row(shape=0.2),
    }
    entry = {
        "info": {"train_rows": 800},
        "ceiling": {"utility": "roc_auc_ratio", "dcr_share": 0.50, "copies": 0.0},
        "models": models,
    }
    t = table_targets(entry)
    assert t["seeds"] == [0, 1]
    c = t["cells"]
    assert c["shape"] == "0.950 / 0.950 yes"  # a tie at the decimals shown is met
    assert c["detection AUC"] == "0.550 / 0.750 yes"
    assert c["DCR share"] == "0.525 (0.500) no"  # above 0.52
    assert c["train s"] == "10.0 / 8.5 no"
    assert c["TSTR >= 0.90"] == "yes"  # a classification table under 2,000 rows
    assert (t["met"], t["checked"]) == (7, 9)
    # no seed in common: no row; and the report carries the board before the per-table sections
    assert table_targets({"models": {"transformer": row(), "argn_s1": row()}}) is None
    md = render({"t": entry})
    assert md.index("## Targets: the transformer against TabularARGN") < md.index("## t\n")
    assert "| t (800) | 0, 1 |" in md and "Targets met: 7 of 9." in md


def test_fixed_costs_appends_rounds_only_to_an_entry_of_the_same_commits():
    from fixed_costs import table_entry

    def run(fit):
        return {"train_s": fit + 7.0, "fit_s": fit, "outside_fit_s": 7.0}

    commits = {"current": "abc", "base": "def"}
    first = table_entry({"current": [run(10.0)], "base": [run(12.0)]}, commits, "t0", 1.0, None)
    assert first["current"]["median_fit_s"] == 10.0 and first["appended_at"] == []
    both = table_entry({"current": [run(14.0), run(20.0)], "base": [run(12.0)]}, commits, "t1", 1.5, first)
    assert [r["fit_s"] for r in both["current"]["runs"]] == [10.0, 14.0, 20.0]
    assert both["current"]["median_fit_s"] == 14.0 and both["base"]["median_train_s"] == 19.0
    assert (both["measured_at"], both["appended_at"], both["load"]) == ("t0", ["t1"], 1.0)
    with pytest.raises(SystemExit, match="--append: the stored entry was measured at commits"):
        table_entry({"current": [run(1.0)]}, {"current": "abc"}, "t2", 1.0, both)  # no base this time
