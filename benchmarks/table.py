"""The markdown table every benchmark prints: one row per model, one column per figure."""

from __future__ import annotations


def print_table(table: dict, cols: list[str]) -> None:
    print("| model | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for name, row in table.items():
        cells = [
            ("" if row.get(c) is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])) for c in cols
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
