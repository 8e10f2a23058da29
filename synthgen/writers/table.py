"""The table writer: one Parquet shard per chunk, atomically, and _manifest.json at the end
(the contract shared with images: synthgen/writers/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from synthgen import seeding
from synthgen.entities import in_sequence, mark_once, settle
from synthgen.io import file_sha256, write_json, write_parquet_atomic
from synthgen.writers.chunks import ChunkWriter, read_chunks

MANIFEST = "_manifest.json"  # leading underscore: Parquet dataset readers skip it
# Per-shard figures kept in each shard's Parquet metadata as b"synthgen.<name>", and their types.
SHARD_FIGURES = {"acceptance_rate": float, "copies_redrawn": int, "copies_kept": int}


def shard_name(chunk: int) -> str:
    return f"part-{chunk:06d}.parquet"


def decode_rng(seed: int, chunk: int) -> np.random.Generator:
    """The decoder's random stream for one chunk (within-bin draws, rare levels)."""
    return seeding.numpy_rng(seeding.DECODE, seed, chunk)


def redraw_streams(seed: int, chunk: int, round_: int, device="cpu"):
    """The model's and the decoder's random streams for one round of redrawing copies in a chunk."""
    return (
        seeding.torch_generator(seeding.REDRAW_MODEL, seed, chunk, round_, device=device),
        seeding.numpy_rng(seeding.REDRAW_DECODE, seed, chunk, round_),
    )


class TableChunkWriter(ChunkWriter):
    """Decodes each predicted chunk with the encoder and writes `part-{chunk:06d}.parquet`.

    With a `guard` (synthgen/copies.py), rows that copy a training row beyond the holdout's copy
    share are redrawn first; the shard's metadata records how many (`synthgen.copies_redrawn`,
    and `synthgen.copies_kept` for those still copying after the guard's last round).
    """

    def __init__(self, out_dir: Path, encoder, seed: int, fix_values=None, guard=None, attributes=()):
        super().__init__(out_dir, seed)
        self.encoder, self.fix_values, self.guard = encoder, fix_values, guard
        self.attributes = list(attributes)  # entity columns written from each group's first row

    def write_chunk(self, model, prediction, batch, chunk: int, start: int) -> None:
        tokens = prediction["output"].numpy()
        # each row's entity group, as the chunk's conditions carried it (synthgen/entities.py)
        groups = batch["groups"][0].cpu().numpy() if "groups" in batch else None
        table = self.encoder.decode(tokens, decode_rng(self.seed, chunk), row_offset=start, groups=groups)
        figures = {}
        if prediction.get("acceptance_rate") is not None:  # conditions met by rejection sampling
            figures["acceptance_rate"] = prediction["acceptance_rate"]
        settling = groups is not None and bool(self.attributes)  # one value per entity: its first row's
        if settling:  # before the copy guard, which must see the rows as they are written
            table = settle(table, groups, self.attributes, self.encoder.schema)
        if self.guard is not None:
            table, figures["copies_redrawn"], figures["copies_kept"] = self._redraw_copies(
                model, prediction.get("cond", batch["cond"][0]), chunk, start, tokens, table
            )
            if settling:  # redrawn rows take their entity's values
                table = settle(table, groups, self.attributes, self.encoder.schema)
        if self.fix_values is not None:  # the exact requested values (see synthgen/conditions.py), last
            table = self.fix_values(table, start)
        marks = (self.encoder.schema.entity or {}).get("marks") if groups is not None else None
        if groups is not None:  # each entity's rows in its real order (not where a file fixes rows), counted
            table = in_sequence(table, groups, self.encoder.schema, reorder=self.fix_values is None)
            if marks and self.fix_values is None:  # a flag on one row of each (not over requested values)
                table = mark_once(table, groups, marks, seeding.numpy_rng(seeding.ENTITY_MARKS, self.seed, chunk))
        replaced = settling or self.fix_values is not None or figures.get("copies_redrawn") or marks
        if replaced and self.encoder.schema.composites:  # text written from the row's final values
            table = self.encoder.recompose(table)
        if figures:  # kept with the shard (SHARD_FIGURES), read back by write_manifest
            meta = {f"synthgen.{k}".encode(): str(v).encode() for k, v in figures.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        write_parquet_atomic(table, self.out_dir / shard_name(chunk))

    def finish(self, chunks, info: dict) -> dict:
        return write_manifest(self.out_dir, chunks, self.seed, info)

    def _redraw_copies(self, model, cond, chunk: int, start: int, tokens, table):
        """Redraw the rows of `table` that copy a training row -> (table, rows redrawn, rows kept)."""
        n = table.num_rows
        idx = self.guard.copies(tokens, table)[int(self.guard.allowed_share * n) :]  # the first ones may stay
        redrawn = len(idx)
        for r in range(1, self.guard.max_rounds + 1):
            if not len(idx):
                break
            g, rng = redraw_streams(self.seed, chunk, r, model.device)
            new = model.sample(cond[torch.from_numpy(idx)].to(model.device), g).cpu().numpy()
            sub = self.encoder.decode(new, rng, row_offset=start)
            take = np.arange(n)
            take[idx] = n + np.arange(len(idx))
            merged = pa.concat_tables([table, sub]).take(pa.array(take))
            for name in table.column_names:  # keep what is not modelled (fresh identifier keys)
                if name not in self.guard.columns:
                    merged = merged.set_column(merged.column_names.index(name), name, table.column(name))
            table = merged
            idx = idx[self.guard.copies(new, sub)]
        return table, redrawn, len(idx)


def _footer(path: Path) -> tuple[int, pq.ParquetFile]:
    footer = pq.ParquetFile(path)
    return footer.metadata.num_rows, footer


def write_manifest(out_dir: Path, chunks, seed: int, extra: dict) -> dict:
    """List every shard with its rows and hash; fails loudly if a chunk is missing."""
    files, schema = [], None
    for chunk, start, path, footer in read_chunks(chunks, lambda chunk: Path(out_dir) / shard_name(chunk), _footer):
        rows, schema = footer.metadata.num_rows, schema or footer.schema_arrow
        entry = {"path": path.name, "chunk": chunk, "first_row": start, "rows": rows, "sha256": file_sha256(path)}
        meta = footer.schema_arrow.metadata or {}
        for key, cast in SHARD_FIGURES.items():
            if f"synthgen.{key}".encode() in meta:
                entry[key] = cast(meta[f"synthgen.{key}".encode()])
        files.append(entry)
    manifest = {
        "seed": seed,
        "rows": sum(f["rows"] for f in files),
        "files": files,
        "schema": {f.name: str(f.type) for f in schema} if schema else {},
        **extra,
    }
    metrics = {}
    rated = [f for f in files if "acceptance_rate" in f]
    if rated:  # rows-weighted mean over the chunks sampled by rejection
        metrics["acceptance_rate"] = sum(f["acceptance_rate"] * f["rows"] for f in rated) / sum(
            f["rows"] for f in rated
        )
    for key in ("copies_redrawn", "copies_kept"):
        if any(key in f for f in files):
            metrics[key] = sum(f.get(key, 0) for f in files)
    if metrics:
        manifest["metrics"] = metrics
    write_json(Path(out_dir) / MANIFEST, manifest)
    return manifest
