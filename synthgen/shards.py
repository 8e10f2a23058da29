"""Encoded training rows as fixed-size memory-mapped token shards, for tables larger than memory.

Layout of <out>/encoded/ (written by `stream_encode` after a streamed prepare, synthgen/streaming.py):
    tokens-000000.npy ...   [shard_rows, C] tokens of training rows, in the smallest unsigned dtype
                            that holds every vocabulary (uint8/uint16/uint32); shard i holds training
                            rows i*shard_rows .. (the last one fewer), encoded from Parquet part i
    copy-tokens.npy         sorted distinct uint64 hashes of every training row's tokens
    copy-values.npy         sorted distinct uint64 hashes of every training row's modelled values
    manifest.json           rows, columns, dtype, every shard (rows, first row, sha256), the holdout's
                            copy share, and the encoder file's sha256 the shards were made with
Encoding runs one process per core (stream.workers), one Parquet part per task.

Training (`ShardDataModule`) reads the shards by memory map: each epoch deals seeded-shuffled blocks
of BLOCK_ROWS contiguous rows to DDP ranks (rank r takes blocks r, r+W, ...: disjoint), shuffles rows
within a buffer of a few blocks, and gives every rank the same number of batches. Validation rows
(for early stopping) are the rows a seeded hash of their position picks, at most stream.val_max_rows;
they are never trained on. Memory stays a few blocks per rank, whatever the row count.

Generation's copy guard (`ShardCopyGuard`) reads the two hash indexes built here, instead of
re-encoding the training table at every `generate`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthgen import seeding
from synthgen.errors import SynthgenError
from synthgen.streaming import HOLDOUT_SAMPLE_FILE, SAMPLE_FILE, VAL_STREAM, read_stream_info, row_hashes, unit_floats

log = logging.getLogger("synthgen")

MANIFEST = "manifest.json"
BLOCK_ROWS = 65_536  # contiguous rows dealt to a rank at once
SHUFFLE_BLOCKS = 4  # blocks mixed in one shuffle buffer
ENCODE_BATCH = 131_072  # rows of a part encoded at once
_NULL_KEY, _UNKNOWN_KEY = -(2**62), -(2**62) + 1


def encoded_dir(paths) -> Path:
    return Path(paths.out) / "encoded"


def token_dtype(cardinalities) -> np.dtype:
    top = max(cardinalities, default=1)
    return np.dtype(np.uint8 if top <= 2**8 else np.uint16 if top <= 2**16 else np.uint32)


# ---- hashes of rows --------------------------------------------------------------------------------
def value_hashes(enc, table: pa.Table, tokens: np.ndarray | None = None) -> np.ndarray:
    """uint64 per row: a hash of its modelled values (numbers in the codec's exact units, levels by
    their index among the schema's categories). Equal values, equal hashes; computed the same way
    for real and decoded rows, so a synthetic row that copies a real one hashes alike. `tokens`
    (the rows' tokens, when the caller has them): a category column without a rare token takes its
    level index from them (token - null slot) instead of looking every row up again."""
    from synthgen import exclusive
    from synthgen.copies import token_hashes
    from synthgen.encoders.columns import NumericCodec, lookup
    from synthgen.schema import plain_values, temporal_ints

    table = enc.schema.to_native(table)  # codec columns (dates, numbers, yes/no held as strings) parsed
    rewritten = enc.rewritten  # their tokens do not say their written levels (a lookup, a nesting)
    keys = np.empty((table.num_rows, len(enc.codecs)), dtype=np.int64, order="F")  # filled and hashed by column
    for j, (name, codec) in enumerate(enc.codecs.items()):
        col = table.column(name)
        if name in enc.groups:  # a one-hot group: its code, from all its flags (synthgen/exclusive.py)
            k, null = lookup(exclusive.codes(table, enc.groups[name]), codec.dictionary)
        elif name in enc.offsets or name in enc.durations:  # modelled from another date: its own instants
            k, null, _ = temporal_ints(plain_values(col))
        elif isinstance(codec, NumericCodec):
            u, null = codec.units(col)
            k = u.view(np.int64) if u.dtype == np.float64 else u.astype(np.int64, copy=False)
        elif tokens is not None and codec.n_rare == 0 and name not in rewritten:  # index = token - base
            k = tokens[:, j].astype(np.int64) - int(codec.has_null)
            null = k < 0
        else:
            k, null = lookup(col, codec.dictionary)
            k[k < 0] = _UNKNOWN_KEY  # a level beyond the schema's stored ones
        keys[:, j] = np.where(null, _NULL_KEY, k)
    return token_hashes(keys)


def _sorted_unique(h: np.ndarray) -> np.ndarray:
    return _distinct(np.sort(h))


def _distinct(h: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array."""
    return h[np.concatenate([[True], h[1:] != h[:-1]])] if len(h) else h


class SortedHashes:
    """Membership in a sorted array of distinct uint64 hashes (memory-mapped from disk)."""

    def __init__(self, path: Path):
        self.sorted = np.load(path, mmap_mode="r")

    def contains(self, values: np.ndarray) -> np.ndarray:
        if not len(self.sorted) or not len(values):
            return np.zeros(len(values), dtype=bool)
        i = np.minimum(np.searchsorted(self.sorted, values), len(self.sorted) - 1)
        return np.asarray(self.sorted[i]) == values


# ---- encode ------------------------------------------------------------------------------------------
def _encode_part(task) -> tuple[int, str]:
    """One Parquet part -> its token shard and its two sorted hash arrays (files in the staging folder),
    ENCODE_BATCH rows at a time: a worker holds one batch and the part's tokens, not the part."""
    from synthgen.copies import guarded_positions, token_hashes
    from synthgen.encoders import TabularEncoder

    part, out, i, state, dtype = task
    enc = TabularEncoder.from_dict(state)
    hashed = guarded_positions(enc)
    with pq.ParquetFile(part, read_dictionary=dictionary_columns(enc)) as pf:
        n = pf.metadata.num_rows
        tokens = np.empty((n, len(enc.codecs)), dtype=dtype)
        th, vh = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
        at = 0
        for batch in pf.iter_batches(batch_size=ENCODE_BATCH, use_threads=False):
            table = enc.schema.to_native(pa.Table.from_batches([batch]))  # parsed once for both below
            tok = enc.encode(table, order="F")
            b = at + len(tok)
            tokens[at:b], th[at:b], vh[at:b] = tok, token_hashes(tok, hashed), value_hashes(enc, table, tok)
            at = b
    np.save(out / f"tokens-{i:06d}.npy", tokens)
    np.save(out / f".th-{i:06d}.npy", _sorted_unique(th))
    np.save(out / f".vh-{i:06d}.npy", _sorted_unique(vh))
    return n, _sha256(out / f"tokens-{i:06d}.npy")


def dictionary_columns(enc) -> list[str]:
    """Category columns read as their files' dictionaries: encoded and hashed per level (lookup)."""
    from synthgen.encoders.columns import CategoryCodec

    return [
        name
        for name, codec in enc.codecs.items()
        if isinstance(codec, CategoryCodec)
        and name not in enc.groups  # a one-hot group's column is a number column in the files
        and not enc.schema.column(name).codec
        and name not in enc.offsets
        and name not in enc.durations
    ]


def _sha256(path: Path) -> str:
    from synthgen.io import file_sha256

    return file_sha256(path)


def _merge_hashes(folder: Path, prefix: str, n: int, out: Path) -> int:
    """Merge the parts' sorted hash arrays into one sorted distinct array; remove the parts. Memory:
    one array of every part's hashes (8 bytes a row, sorted in place) and its distinct values."""
    files = [folder / f"{prefix}-{i:06d}.npy" for i in range(n)]
    sizes = [np.load(f, mmap_mode="r").shape[0] for f in files]
    merged, at = np.empty(sum(sizes), dtype=np.uint64), 0
    for f, size in zip(files, sizes):
        merged[at : at + size] = np.load(f, mmap_mode="r")
        at += size
    merged.sort(kind="stable")  # timsort merges the parts' sorted runs: 0.15 s for 10 x 1M, quicksort 0.85 s
    distinct = _distinct(merged)
    np.save(out, distinct)
    for f in files:
        f.unlink()
    return len(distinct)


def stream_encode(cfg, paths, settings: dict) -> dict:
    """Fit the encoder on the prepared sample, encode every training part into a shard, build the copy
    index; writes encoder/encoder.json and encoded/ (each replaced whole)."""
    from synthgen.copies import guarded_positions
    from synthgen.encoders import TabularEncoder
    from synthgen.io import staged_dir
    from synthgen.schema import TableSchema

    info = read_stream_info(paths.prepared)
    schema = TableSchema.load(paths.schema)
    enc = TabularEncoder.fit(pq.read_table(paths.prepared / SAMPLE_FILE), schema, **settings)
    with staged_dir(paths.encoder_dir) as d:
        enc.save(d / "encoder.json")
    enc_sha = _sha256(paths.encoder)
    dtype = token_dtype(enc.layout.cardinalities)
    state = enc.to_dict()
    parts = info["train_parts"]
    workers = int(cfg.stream.workers or os.cpu_count() or 1)
    with staged_dir(encoded_dir(paths)) as d:
        tasks = [(paths.train_table / p["path"], d, i, state, dtype) for i, p in enumerate(parts)]
        if workers > 1 and len(tasks) > 1:
            import multiprocessing as mp

            with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context("spawn")) as pool:
                done = list(pool.map(_encode_part, tasks))
        else:
            done = [_encode_part(t) for t in tasks]
        shards = [
            {"path": f"tokens-{i:06d}.npy", "first_row": p["first_row"], "rows": rows, "sha256": sha}
            for i, (p, (rows, sha)) in enumerate(zip(parts, done))
        ]
        n_tok = _merge_hashes(d, ".th", len(parts), d / "copy-tokens.npy")
        _merge_hashes(d, ".vh", len(parts), d / "copy-values.npy")
        holdout = pq.read_table(paths.prepared / HOLDOUT_SAMPLE_FILE)
        values = SortedHashes(d / "copy-values.npy")
        allowed = float(values.contains(value_hashes(enc, holdout)).mean()) if holdout.num_rows else 0.0
        del values
        manifest = {
            "version": 1,
            "rows": sum(s["rows"] for s in shards),
            "columns": list(enc.layout.columns),
            "dtype": dtype.name,
            "shard_rows": info["shard_rows"],
            "shards": shards,
            "copy_index": {
                "tokens": "copy-tokens.npy",
                "token_columns": guarded_positions(enc),  # the positions its token hashes cover
                "values": "copy-values.npy",
                "distinct_token_rows": n_tok,
                "holdout_copy_share": allowed,
                "holdout_rows_checked": holdout.num_rows,
            },
            "encoder_sha256": enc_sha,
        }
        (d / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    log.info(
        "encoded %d training rows into %d shard(s) (%s) in %s",
        manifest["rows"],
        len(shards),
        dtype.name,
        encoded_dir(paths),
    )
    return manifest


def remove_stale(paths) -> None:
    """A non-streamed encode leaves no shards of an earlier streamed one behind."""
    shutil.rmtree(encoded_dir(paths), ignore_errors=True)


def load_manifest(paths) -> dict:
    """The shards' manifest, checked against the encoder it was written with."""
    from synthgen.io import read_json_artifact

    m = read_json_artifact(encoded_dir(paths) / MANIFEST, "token shard manifest", "encode")
    if not Path(paths.encoder).exists() or _sha256(paths.encoder) != m.get("encoder_sha256"):
        raise SynthgenError(
            f"{encoded_dir(paths)}: the token shards were made with another encoder; rerun `synthgen encode`"
        )
    return m


# ---- training ----------------------------------------------------------------------------------------
class ShardTokens:
    """The token shards of a manifest; rows addressed by (shard, start, stop). Rows are read with
    positional reads, not a memory map: pages a map has touched count in the process's resident
    memory, so an epoch over a map grows RSS to the shards' size; reads leave them to the page cache."""

    def __init__(self, folder: Path, manifest: dict):
        self.paths = [Path(folder) / s["path"] for s in manifest["shards"]]
        self.first = [s["first_row"] for s in manifest["shards"]]
        self.lengths = [int(s["rows"]) for s in manifest["shards"]]
        self.n_rows = int(manifest["rows"])
        self.n_columns = len(manifest["columns"])
        self.dtype = np.dtype(manifest["dtype"])
        self.offsets = [_npy_data_offset(p) for p in self.paths]
        self._fds: dict[int, int] = {}

    def read(self, shard: int, start: int, stop: int) -> np.ndarray:
        """[stop - start, C] rows of one shard, in its dtype."""
        fd = self._fds.get(shard)
        if fd is None:
            fd = self._fds[shard] = os.open(self.paths[shard], os.O_RDONLY)
        row = self.n_columns * self.dtype.itemsize
        data = os.pread(fd, (stop - start) * row, self.offsets[shard] + start * row)
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, self.n_columns)

    def __getstate__(self):  # file descriptors do not travel to dataloader workers; they reopen
        return {**self.__dict__, "_fds": {}}

    def __del__(self):
        for fd in getattr(self, "_fds", {}).values():
            os.close(fd)


def _npy_data_offset(path: Path) -> int:
    """Where a .npy file's data starts (after its header)."""
    with open(path, "rb") as f:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
        return f.tell()


def _blocks(tokens: ShardTokens) -> list[tuple[int, int, int]]:
    return [(s, a, min(a + BLOCK_ROWS, n)) for s, n in enumerate(tokens.lengths) for a in range(0, n, BLOCK_ROWS)]


class ShardTrainSet:
    """An iterable of int64 token batches [B, C] for one rank; see the module docstring."""

    def __init__(self, tokens: ShardTokens, val_threshold: float, batch_size: int, seed: int, rank: int, world: int):
        self.tokens, self.thr, self.bs, self.seed = tokens, val_threshold, int(batch_size), int(seed)
        self.rank, self.world, self.epoch = rank, world, 0
        self.blocks = _blocks(tokens)
        self.train_rows = np.array([int((~self._val_mask(b)).sum()) for b in self.blocks], dtype=np.int64)

    def _val_mask(self, block) -> np.ndarray:
        s, a, b = block
        return unit_floats(row_hashes(self.seed, VAL_STREAM, self.tokens.first[s] + a, b - a)) < self.thr

    def _deal(self, epoch: int) -> list[list[int]]:
        order = seeding.numpy_rng(seeding.SHARD_DEAL, self.seed, epoch).permutation(len(self.blocks))
        return [order[r :: self.world].tolist() for r in range(self.world)]

    def __len__(self) -> int:
        """Batches per epoch, the same on every rank (the rank with the fewest training rows sets it)."""
        dealt = self._deal(self.epoch)
        return int(min(self.train_rows[d].sum() for d in dealt) // self.bs) if all(dealt) else 0

    def __iter__(self):
        import torch

        n_batches, mine = len(self), self._deal(self.epoch)[self.rank]
        rng = seeding.numpy_rng(seeding.SHARD_SHUFFLE, self.seed, self.epoch, self.rank)
        self.epoch += 1
        carry, done = np.empty((0, self.tokens.n_columns), dtype=np.int64), 0
        for g in range(0, len(mine), SHUFFLE_BLOCKS):
            parts = [carry]
            for i in mine[g : g + SHUFFLE_BLOCKS]:
                s, a, b = self.blocks[i]
                rows = self.tokens.read(s, a, b)
                parts.append(rows[~self._val_mask(self.blocks[i])].astype(np.int64))
            buf = np.concatenate(parts)
            buf = buf[rng.permutation(len(buf))]
            k = 0
            while k + self.bs <= len(buf) and done < n_batches:
                yield torch.from_numpy(buf[k : k + self.bs])
                k += self.bs
                done += 1
            carry = buf[k:]
            if done >= n_batches:
                return


def shard_datamodule(paths, batch_size: int, val_share: float, seed: int, val_max_rows: int):
    """A LightningDataModule over the shards: training batches [tokens [B, C]] per rank, and the
    validation rows (in memory, at most val_max_rows) for early stopping."""
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, IterableDataset, TensorDataset

    manifest = load_manifest(paths)
    tokens = ShardTokens(encoded_dir(paths), manifest)
    n = tokens.n_rows
    n_val = min(int(round(n * float(val_share))), int(val_max_rows)) if n >= 10 else 0
    thr = n_val / n if n else 0.0

    class _TrainSet(IterableDataset):
        def __init__(self, inner):
            self.inner = inner

        def __iter__(self):
            return (([b]) for b in self.inner)  # batches are lists of tensors, as TensorDataset gives

        def __len__(self):
            return len(self.inner)

    class ShardDataModule(pl.LightningDataModule):
        def train_dataloader(self):
            rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            inner = ShardTrainSet(tokens, thr, batch_size, seed, rank, world)
            if len(inner) == 0:
                raise SynthgenError(
                    f"{n} training rows give no batch of {batch_size} rows on each of {world} "
                    f"rank(s); use fewer processes or a smaller model.tabular.batch_size"
                )
            return DataLoader(_TrainSet(inner), batch_size=None)

        def val_dataloader(self):
            probe = ShardTrainSet(tokens, thr, batch_size, seed, 0, 1)
            rows = [tokens.read(s, a, b)[probe._val_mask((s, a, b))] for s, a, b in probe.blocks]
            val = np.concatenate(rows).astype(np.int64) if rows else np.empty((0, tokens.n_columns), np.int64)
            if not len(val):  # too few rows for a validation split: one training row stands in
                val = tokens.read(0, 0, 1).astype(np.int64)
            return DataLoader(TensorDataset(torch.from_numpy(val)), batch_size=4096)

    return ShardDataModule()


# ---- generation --------------------------------------------------------------------------------------
class ShardCopyGuard:
    """synthgen.copies.CopyGuard's interface over the hash indexes built at encode time."""

    def __init__(self, paths, enc, max_rounds: int = 10):
        m = load_manifest(paths)
        folder = encoded_dir(paths)
        self.enc, self.columns, self.max_rounds = enc, list(enc.layout.columns), max_rounds
        self.train_tokens = SortedHashes(folder / m["copy_index"]["tokens"])
        self.train_values = SortedHashes(folder / m["copy_index"]["values"])
        self.allowed_share = float(m["copy_index"]["holdout_copy_share"])
        self.token_columns = m["copy_index"].get("token_columns")  # None: an index of every column's tokens

    def copies(self, tokens: np.ndarray, table: pa.Table) -> np.ndarray:
        from synthgen.copies import token_hashes

        candidates = np.flatnonzero(self.train_tokens.contains(token_hashes(tokens, self.token_columns)))
        if not len(candidates):
            return candidates
        rows = table.take(pa.array(candidates))
        return candidates[self.train_values.contains(value_hashes(self.enc, rows, tokens[candidates]))]


def invalid_shards(paths) -> list[str]:
    """Names of shards whose bytes no longer match the manifest (empty: all valid)."""
    m = load_manifest(paths)
    return [s["path"] for s in m["shards"] if _sha256(encoded_dir(paths) / s["path"]) != s["sha256"]]
