"""How prepare reports each column as read (synthgen/schema_report.py): one aligned line per
column saying what becomes of it, and the relations found, logged before training."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.config import load_config
from synthgen.pipeline import prepare
from synthgen.schema import infer_schema
from synthgen.schema_report import MAX_COLUMNS, column_lines
from tests.conftest import tiny_overrides

N = 300


def orders() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    first = ["James", "Mary", "John", "Linda", "Ana", "Kevin", "Sofia", "Omar"]
    last = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Rossi"]
    return pd.DataFrame(
        {
            "order_id": [f"ORD-{100000 + i}" for i in range(N)],
            "customer": [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(N)],
            "placed": [f"{1 + i % 28:02d}/{1 + i % 12:02d}/2024" for i in range(N)],
            "amount": [f"${x:,.2f}" if i % 9 else "n/a" for i, x in enumerate(rng.gamma(2, 600, N))],
            "paid": rng.choice(["Yes", "No"], N),
            "channel": rng.choice(["web", "shop", "phone"], N),
            "items": rng.integers(1, 9, N),
        }
    )


def test_each_column_is_reported_as_read():
    lines = column_lines(infer_schema(pa.Table.from_pandas(orders(), preserve_index=False)))
    assert lines[0].split() == ["column", "read", "as", "how", "nulls", "distinct"]
    row = {line.split()[0]: line for line in lines[1:]}
    assert "identifier" in row["order_id"] and "fresh values, none of the real ones" in row["order_id"]
    assert "personal data" in row["customer"] and "full_name: fake values" in row["customer"]
    assert "date" in row["placed"] and "text like '%d/%m/%Y'" in row["placed"]
    assert "number" in row["amount"] and "text like '$1,234.56'" in row["amount"]
    assert "'n/a' as missing" in row["amount"] and "11.3%" in row["amount"]  # every 9th amount
    assert "yes/no" in row["paid"] and "'Yes'/'No'" in row["paid"]
    assert "category" in row["channel"] and "3 levels" in row["channel"]
    assert "whole number" in row["items"] and "1 to 8" in row["items"]
    at = lines[0].index("read as")  # aligned: each column's kind starts under the header's
    assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines[1:])
    assert max(len(line) for line in lines) < 120


def test_a_wide_table_is_reported_by_its_first_columns_and_the_relations_found():
    wide = pd.DataFrame({f"x{i}": np.arange(50) * (i + 1) for i in range(MAX_COLUMNS + 5)})
    lines = column_lines(infer_schema(pa.Table.from_pandas(wide, preserve_index=False)))
    assert lines[1 + MAX_COLUMNS] == "  ... and 5 more columns (prepared/schema.json)"
    found = " ".join(line.strip() for line in lines[2 + MAX_COLUMNS :])
    assert found.startswith("found between columns: ") and "columns converted from another" in found
    assert all(len(line) <= 120 for line in lines)


def test_prepare_logs_the_columns_before_training(tmp_path, caplog):
    path = tmp_path / "orders.csv"
    orders().to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger="synthgen"):
        prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    text = caplog.text
    assert "columns as read" in text and "fresh values, none of the real ones" in text and "'$1,234.56'" in text
