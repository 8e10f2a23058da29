"""Encoders turn raw data into model tensors and back; each publishes a Layout."""

from synthgen.encoders.layout import TokenLayout
from synthgen.encoders.tabular import TabularEncoder

__all__ = ["TabularEncoder", "TokenLayout"]
