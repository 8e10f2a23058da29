"""What a model sees of the data: sizes only, never pandas.

Tabular: one token per modelled column, each with its own vocabulary size. The transformer reads
the tokens; GAN and VAE read the same tokens as one-hot spans (see models/heads.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenLayout:
    columns: tuple[str, ...]
    cardinalities: tuple[int, ...]
    kind: str = "tokens"
    # columns an ordered model generates before the others: an entity's attributes, drawn once per
    # entity and fixed for its rows, so fixing them is the model's own order (synthgen/entities.py)
    first: tuple[str, ...] = ()
    # how many of `first` lead in exactly their order (an entity's row count); the rest of `first`
    # follow in the model's own order
    leading: int = 0

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "first", tuple(c for c in self.first if c in self.columns))
        object.__setattr__(self, "cardinalities", tuple(int(c) for c in self.cardinalities))
        if len(self.columns) != len(self.cardinalities):
            raise ValueError(f"{len(self.columns)} columns but {len(self.cardinalities)} cardinalities")
        if any(c < 1 for c in self.cardinalities):
            raise ValueError(f"every column needs at least one token: {dict(zip(self.columns, self.cardinalities))}")

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "columns": list(self.columns), "cardinalities": list(self.cardinalities)}
        out = {**out, "first": list(self.first)} if self.first else out
        return {**out, "leading": self.leading} if self.leading else out

    @classmethod
    def from_dict(cls, d: dict) -> "TokenLayout":
        first = tuple(d.get("first", ()))
        return cls(tuple(d["columns"]), tuple(d["cardinalities"]), d.get("kind", "tokens"), first, d.get("leading", 0))

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def vocab_size(self) -> int:
        """Size of the concatenated vocabulary (or of the one-hot vector)."""
        return sum(self.cardinalities)

    @property
    def offsets(self) -> list[int]:
        """Start of each column's slice in the concatenated vocabulary (or one-hot vector)."""
        out, acc = [], 0
        for c in self.cardinalities:
            out.append(acc)
            acc += c
        return out
