"""Three tables whose columns are written from others, as exports carry them (no package ships such
a table with a band column): `survey.csv`, where a bracket bands the income and a category the BMI;
`order_lines.csv`, where an amount is the quantity times the unit price and the amount paid that
times the share kept after a discount; `events.csv`, where a timestamp comes with its year, month,
month name, weekday name and hour.

    PYTHONPATH=. python benchmarks/derived_tables.py OUT_DIR [ROWS]

README "Your own data" (bands, products, date parts) reports `synthgen run data=file data.path=OUT_DIR/<file>`
on them before and after those rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def survey(n: int, rng: np.random.Generator) -> pd.DataFrame:
    age = rng.integers(18, 91, n)
    income = np.round(rng.lognormal(10.2 + 0.01 * (age - 18), 0.6), 2)
    bmi = np.round(rng.normal(24 + 0.06 * (age - 18), 4.5), 1)
    return pd.DataFrame(
        {
            "age": age,
            "region": rng.choice(["north", "south", "east", "west", "centre"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
            "income": income,
            "income_bracket": np.select(
                [income < 20_000, income < 50_000, income < 100_000], ["<20k", "20-50k", "50-100k"], ">100k"
            ),
            "bmi": bmi,
            "bmi_group": np.select([bmi < 18.5, bmi < 25, bmi < 30], ["under", "normal", "over"], "obese"),
            "smoker": np.where(rng.random(n) < 0.35 - 0.003 * (age - 18), "yes", "no"),
        }
    )


def order_lines(n: int, rng: np.random.Generator) -> pd.DataFrame:
    category = rng.choice(["books", "garden", "kitchen", "toys"], n, p=[0.4, 0.2, 0.25, 0.15])
    base = {"books": 15.0, "garden": 60.0, "kitchen": 35.0, "toys": 25.0}
    price = np.round(np.array([base[c] for c in category]) * rng.lognormal(0, 0.5, n), 2)
    qty = rng.geometric(0.35, n)
    amount = np.round(qty * price, 2)
    kept = rng.choice([1.0, 0.9, 0.85, 0.75], n, p=[0.6, 0.2, 0.12, 0.08])
    return pd.DataFrame(
        {
            "category": category,
            "qty": qty,
            "price": price,
            "amount": amount,
            "kept": kept,
            "paid": np.round(amount * kept, 4),
            "express": np.where(rng.random(n) < 0.2, "yes", "no"),
        }
    )


def events(n: int, rng: np.random.Generator) -> pd.DataFrame:
    at = pd.Series(pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 2 * 365 * 24 * 60, n), "min"))
    at = at.sort_values(ignore_index=True)
    kind = rng.choice(["login", "purchase", "support"], n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame(
        {
            "at": at.dt.strftime("%Y-%m-%d %H:%M"),
            "year": at.dt.year,
            "month": at.dt.month,
            "month_name": at.dt.strftime("%B"),
            "weekday": at.dt.strftime("%a"),
            "hour": at.dt.hour,
            "kind": kind,
            "seconds": np.round(rng.gamma(2.0, 60.0, n) * np.where(kind == "support", 5, 1), 1),
        }
    )


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    n = int(argv[1]) if len(argv) > 1 else 3000
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    survey(n, rng).to_csv(out / "survey.csv", index=False)
    order_lines(n, rng).to_csv(out / "order_lines.csv", index=False)
    events(n, rng).to_csv(out / "events.csv", index=False)
    print(f"wrote survey.csv, order_lines.csv and events.csv to {out} ({n} rows each)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
