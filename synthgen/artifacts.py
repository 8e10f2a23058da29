"""Reading what an earlier stage wrote, with one-line errors naming the file and the stage to rerun.

A stage's inputs under paths.out_dir can be damaged after the fact (a copy cut short, a full disk,
an edit by hand). Whatever the damage (truncated, emptied, garbage, valid JSON of the wrong shape),
the reader's own exception is turned into one SynthgenError: `<file>: ...; rerun `synthgen <stage>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from synthgen.errors import SynthgenError


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0][:160] if text else "") or type(e).__name__


def load_artifact(path: Path, what: str, stage: str, load: Callable):
    """`load(path)`; a missing file or any failure while reading it -> one line naming it and `stage`."""
    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"{what} not found: {path}; run `synthgen {stage}` first")
    try:
        return load(path)
    except SynthgenError:
        raise
    except Exception as e:  # noqa: BLE001  (any failure to read this one file means the file is bad)
        raise SynthgenError(
            f"{path}: damaged or not a synthgen {what} ({type(e).__name__}: {_first_line(e)}); rerun `synthgen {stage}`"
        ) from None


def read_parquet(path: Path, stage: str, what: str = "Parquet table"):
    """The table at `path` (a file or a folder of parts), with the columns a streamed prepare kept as
    dictionaries decoded to their source types (io.decoded)."""
    import pyarrow.parquet as pq

    from synthgen.io import decoded

    return decoded(load_artifact(path, what, stage, pq.read_table))


def check_synthetic(folder: Path) -> dict:
    """The manifest of a generated table, after checking that every shard it lists is there with
    its rows and hash (a truncated or swapped shard is caught here, not deep inside the metrics)."""
    from synthgen.io import file_sha256, read_json_artifact
    from synthgen.writers.table import MANIFEST

    folder = Path(folder)
    path = folder / MANIFEST
    manifest = load_artifact(
        path, "synthetic-data manifest", "generate", lambda p: read_json_artifact(p, "manifest", "generate")
    )
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(files, list)
        or not files
        or not all(
            isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str) for f in files
        )
    ):
        raise SynthgenError(
            f"{path}: not a synthgen manifest (no list of files with hashes); rerun `synthgen generate`"
        )
    for f in files:
        shard = folder / f["path"]
        if Path(f["path"]).name != f["path"] or not shard.is_file():
            raise SynthgenError(f"{shard}: listed in {path} but missing; rerun `synthgen generate`")
        if file_sha256(shard) != f["sha256"]:
            raise SynthgenError(
                f"{shard}: changed since it was written (its hash differs from {path}); rerun `synthgen generate`"
            )
    return manifest
