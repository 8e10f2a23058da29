"""The two flattened exports of benchmarks/entities.md, written as CSV files (seeded, no download):

    python benchmarks/entity_tables.py /tmp/entities     # -> orders.csv, visits.csv

- orders.csv: 2,557 orders of 250 customers (1-19 each): `customer_id` on every order with the
  customer's tier and country; the amount follows the tier, the method varies per order, and a
  customer's orders fall within 60 days of their first.
- visits.csv: 1,807 clinic visits of 400 patients (1-8 each): sex and date of birth on every visit,
  the age at the visit, a systolic pressure rising with age, a diagnosis code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def orders() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    nc = 250
    cust = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(nc)],
            "tier": rng.choice(["basic", "plus", "pro"], nc, p=[0.6, 0.3, 0.1]),
            "country": rng.choice(["US", "DE", "FR", "GB"], nc),
        }
    )
    rows = []
    for _, c in cust.iterrows():
        k = rng.integers(1, 20)
        base = {"basic": 20, "plus": 60, "pro": 200}[c.tier]
        t0 = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        for _ in range(k):
            rows.append(
                {
                    "txn_id": len(rows) + 1,
                    "customer_id": c.customer_id,
                    "tier": c.tier,
                    "country": c.country,
                    "ts": t0 + pd.Timedelta(hours=int(rng.integers(0, 24 * 60))),
                    "amount": round(float(rng.gamma(2, base / 2)), 2),
                    "method": rng.choice(["card", "paypal", "wire"], p=[0.7, 0.2, 0.1]),
                }
            )
    return pd.DataFrame(rows)


def visits() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    dob = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 365 * 60, n), unit="D")
    sex = rng.choice(["F", "M"], n)
    rows = []
    for i in range(n):
        k = int(rng.integers(1, 9))
        first = pd.Timestamp("2018-01-01") + pd.Timedelta(days=int(rng.integers(0, 1500)))
        for _ in range(k):
            visit = first + pd.Timedelta(days=int(rng.integers(0, 700)))
            age = visit.year - dob[i].year - ((visit.month, visit.day) < (dob[i].month, dob[i].day))
            rows.append(
                {
                    "patient_id": f"P{i:05d}",
                    "sex": sex[i],
                    "date_of_birth": dob[i].date().isoformat(),
                    "visit_date": visit.date().isoformat(),
                    "age": age,
                    "systolic": int(rng.normal(120 + 0.4 * age, 12)),
                    "diagnosis": rng.choice(["I10", "E11", "J45", "Z00"]),
                }
            )
    return pd.DataFrame(rows)


def visits_in_order() -> pd.DataFrame:
    """A clinic's export: 300 patients, 1-7 visits each, in date order and numbered visit_no 1, 2, ..."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(300):
        k = int(rng.integers(1, 8))
        first = pd.Timestamp("2018-01-01") + pd.Timedelta(days=int(rng.integers(0, 1500)))
        dates = sorted(first + pd.Timedelta(days=int(d)) for d in rng.integers(0, 700, k))
        for j, d in enumerate(dates):
            rows.append(
                {
                    "patient_id": f"P{i:05d}",
                    "sex": rng.choice(["F", "M"]) if j == 0 else rows[-1]["sex"],
                    "visit_no": j + 1,
                    "visit_date": d.date().isoformat(),
                    "systolic": int(rng.normal(125, 12)),
                    "dx": rng.choice(["I10", "E11", "J45"]),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "entity_tables")
    out.mkdir(parents=True, exist_ok=True)
    orders().to_csv(out / "orders.csv", index=False)
    visits().to_csv(out / "visits.csv", index=False)
    visits_in_order().to_csv(out / "visits_in_order.csv", index=False)
    print(f"wrote {out / 'orders.csv'}, {out / 'visits.csv'} and {out / 'visits_in_order.csv'}")
