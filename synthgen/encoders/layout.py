"""What a model sees of the data: sizes only, never pandas.

Tabular: one token per modelled column, each with its own vocabulary size. The transformer reads
the tokens; GAN and VAE read the same tokens as one-hot spans (see models/heads.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TokenLayout:
    columns: tuple[str, ...]
    cardinalities: tuple[int, ...]
    kind: str = "tokens"

    def to_dict(self) -> dict:
        d = asdict(self)
        return {"kind": d["kind"], "columns": list(d["columns"]), "cardinalities": list(d["cardinalities"])}

    @property
    def offsets(self) -> list[int]:
        """Start of each column's slice in the concatenated vocabulary (or one-hot vector)."""
        out, acc = [], 0
        for c in self.cardinalities:
            out.append(acc)
            acc += c
        return out
