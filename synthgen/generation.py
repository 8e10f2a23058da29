"""Writing generated chunks: one Parquet shard per chunk, atomically, and a manifest at the end."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pytorch_lightning.callbacks import BasePredictionWriter

from synthgen.io import file_sha256, write_json, write_parquet_atomic

MANIFEST = "_manifest.json"  # leading underscore: Parquet dataset readers skip it


def shard_name(chunk: int) -> str:
    return f"part-{chunk:06d}.parquet"


def decode_rng(seed: int, chunk: int) -> np.random.Generator:
    """The decoder's random stream for one chunk (within-bin draws, rare levels)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(chunk), 1]))


class ShardWriter(BasePredictionWriter):
    """Decodes each predicted chunk with the encoder and writes `part-{chunk:06d}.parquet`."""

    def __init__(self, out_dir: Path, encoder, seed: int, fix_values=None):
        super().__init__(write_interval="batch")
        self.out_dir, self.encoder, self.seed, self.fix_values = Path(out_dir), encoder, seed, fix_values

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        chunk, start = prediction["chunk"], int(batch["start"][0])
        table = self.encoder.decode(prediction["output"].numpy(), decode_rng(self.seed, chunk), row_offset=start)
        if self.fix_values is not None:  # the exact requested values (see synthgen/conditions.py)
            table = self.fix_values(table, start)
        rate = prediction.get("acceptance_rate")
        if rate is not None:  # conditions met by rejection sampling: keep the measured rate with the shard
            table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                   b"synthgen.acceptance_rate": str(rate).encode()})
        write_parquet_atomic(table, self.out_dir / shard_name(chunk))


def write_manifest(out_dir: Path, chunks, seed: int, extra: dict) -> dict:
    """List every shard with its rows and hash; fails loudly if a chunk is missing."""
    files = []
    for chunk, start, n in chunks:
        path = Path(out_dir) / shard_name(chunk)
        if not path.exists():
            raise RuntimeError(f"chunk {chunk} was not written: {path}")
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != n:
            raise RuntimeError(f"chunk {chunk} has {rows} rows, expected {n}")
        entry = {"path": path.name, "chunk": chunk, "first_row": start, "rows": rows, "sha256": file_sha256(path)}
        rate = (pq.read_schema(path).metadata or {}).get(b"synthgen.acceptance_rate")
        if rate is not None:
            entry["acceptance_rate"] = float(rate)
        files.append(entry)
    schema = pq.read_schema(Path(out_dir) / files[0]["path"]) if files else None
    manifest = {"seed": seed, "rows": sum(f["rows"] for f in files), "files": files,
                "schema": {f.name: str(f.type) for f in schema} if schema else {}, **extra}
    rated = [f for f in files if "acceptance_rate" in f]
    if rated:  # rows-weighted mean over the chunks sampled by rejection
        manifest["metrics"] = {"acceptance_rate": sum(f["acceptance_rate"] * f["rows"] for f in rated)
                               / sum(f["rows"] for f in rated)}
    write_json(Path(out_dir) / MANIFEST, manifest)
    return manifest
