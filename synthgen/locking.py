"""One pipeline run per output folder: a lock on `paths.out_dir`.

Two runs writing into one folder would mix their outputs silently (prepared data from one,
metrics from the other). Each stage holds `<out_dir>/.synthgen.lock` while it runs: an advisory
`flock` on the file, which the kernel releases when the holder exits, however it exits, so a lock
left by a killed run is never in force (stale); the file records the holder's pid, host and stage
for the message a second run prints. The lock is re-entrant within a process (`synthgen run`
holds it around its stages), and handed to the stage subprocesses `synthgen run` starts under
DDP through SYNTHGEN_LOCK_OWNER (the holder's pid, checked against the file). DDP workers that
Lightning re-launches (LOCAL_RANK/NODE_RANK > 0) and torchrun/srun ranks other than global rank 0
take no lock: rank 0 holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from synthgen.errors import SynthgenError

LOCK_NAME = ".synthgen.lock"
OWNER_ENV = "SYNTHGEN_LOCK_OWNER"  # "<pid>:<lock path>" of a parent that holds the lock for us
_held: dict[str, list] = {}  # lock path -> [fd, depth] for the locks this process holds


def _is_worker() -> bool:
    """A process other than global rank 0's launcher (as pipeline._is_launcher: Lightning's re-launched
    ranks, torchrun/srun ranks of trainer=multinode): it runs under rank 0's lock."""
    return any(os.environ.get(k, "0") != "0" for k in ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID"))


def lock_path(out_dir: Path) -> Path:
    return Path(out_dir) / LOCK_NAME


def read_owner(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _held_by_parent(path: Path) -> bool:
    """True when the parent process (`synthgen run` under DDP) holds this lock for us."""
    pid, _, held = os.environ.get(OWNER_ENV, "").partition(":")
    return held == str(path) and pid == str(os.getppid()) and str(read_owner(path).get("pid")) == pid


@contextmanager
def out_dir_lock(out_dir: Path, stage: str):
    """Hold the lock on `out_dir` for `stage`; a one-line SynthgenError when another run holds it.

    Creates out_dir if needed and removes it again on release when it is still empty, so a stage
    that fails on bad input leaves nothing behind.
    """
    out_dir = Path(out_dir)
    path = lock_path(out_dir)
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    if _is_worker() or _held_by_parent(path):
        yield
        return
    created = not out_dir.exists()
    fd = _acquire(out_dir, path, stage)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        del _held[key]
        _release(fd, path, out_dir if created else None)


def _acquire(out_dir: Path, path: Path, stage: str) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = read_owner(path)
            who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
            if owner.get("stage"):
                who += f" (synthgen {owner['stage']}, started {owner.get('started', '?')})"
            raise SynthgenError(
                f"paths.out_dir={out_dir} is in use by {who}; wait for it to finish or choose another paths.out_dir"
            ) from None
        # The holder before us may have removed the file between our open and our flock: then we
        # locked a file nobody else will see, so try again on the current one.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "stage": stage,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(owner).encode(), 0)
    return fd


def _release(fd: int, path: Path, remove_if_empty: Path | None) -> None:
    try:
        path.unlink(missing_ok=True)  # unlink before unlocking: a waiter re-checks the inode
    finally:
        os.close(fd)
    if remove_if_empty is not None:
        try:
            remove_if_empty.rmdir()  # only when empty (a failed first stage leaves nothing behind)
        except OSError:
            pass


def child_env(out_dir: Path) -> dict:
    """Environment for a stage subprocess that runs under this process's lock on out_dir."""
    return {**os.environ, OWNER_ENV: f"{os.getpid()}:{lock_path(out_dir)}"}
