"""What the table and image chunk writers share: the Lightning hook and the completeness check."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from pytorch_lightning.callbacks import BasePredictionWriter


class ChunkWriter(BasePredictionWriter):
    """Base of the chunk writers (writers/__init__.py): `write_chunk` once per predicted chunk, on
    whichever rank predicted it; `finish` on rank 0 once every chunk is written -> the manifest dict."""

    def __init__(self, out_dir: Path, seed: int):
        super().__init__(write_interval="batch")
        self.out_dir, self.seed = Path(out_dir), seed

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        self.write_chunk(pl_module, prediction, batch, prediction["chunk"], int(batch["start"][0]))

    def write_chunk(self, model, prediction: dict, batch: dict, chunk: int, start: int) -> None:
        """Write one chunk's files (rows/images start .. start + n - 1) atomically into out_dir."""
        raise NotImplementedError

    def finish(self, chunks: list, info: dict) -> dict:
        """Check every chunk, write the manifest (recording `info`) and return it."""
        raise NotImplementedError


def read_chunks(
    chunks, path_of: Callable[[int], Path], read: Callable[[Path], tuple[int, object]], unit: str = "rows"
) -> Iterator[tuple[int, int, Path, object]]:
    """The one completeness check: for each planned (chunk, first row, count), the chunk's file
    `path_of(chunk)` must exist and `read(path)` -> (count found, contents) must find `count`.
    Yields (chunk, first row, path, contents) in plan order; RuntimeError naming the chunk and
    the file otherwise (a rank died or wrote short; pipeline.generate then drops the staging folder)."""
    for chunk, start, n in chunks:
        path = path_of(chunk)
        if not path.exists():
            raise RuntimeError(f"chunk {chunk} was not written: {path}")
        found, contents = read(path)
        if found != n:
            raise RuntimeError(f"chunk {chunk} has {found} {unit}, expected {n}: {path}")
        yield chunk, start, path, contents
