"""MLflow in a helper process, so that opening it costs a run no wall time.

Importing MLflow and its SQLite store takes ~2.5 s of one core (mlflow 1.6 s, the SQLAlchemy store
1.2 s; benchmarks/sizing.md, fixed costs). A thread cannot hide it: two threads importing at once
took 10.2-10.5 s against 7.8-8.8 s one after the other (the import lock and the GIL). A process can:
train starts this helper before it imports Lightning (3.5-4.4 s on one core), so the store is open
when training starts, and the run's own process never imports MLflow. One helper serves every stage
of the process that started it (train, generate, evaluate in `synthgen run` or a notebook); it ends
when that process closes its pipe or exits.

Requests are pickled tuples (operation, arguments, wants_reply) on the helper's stdin; replies
("ok", value) or ("error", one line) on its stdout. Requests run in order, so a reply also says
that every request before it has been logged; an error in a request nobody waits for (a metric
logged during training) is reported by the next reply. The operations are the functions of
synthgen/tracking.py, run with the process that owns the runs as their `synthgen.pid`.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from synthgen.errors import SynthgenError


class TrackingError(SynthgenError):
    """MLflow refused a request (or its helper process ended); the message is MLflow's, on one line."""


class Agent:
    """The parent's end of one helper process."""

    def __init__(self):
        package_root = str(Path(__file__).resolve().parent.parent)  # where `synthgen` is importable from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._unanswered = 0  # writes sent since the last reply (a reply means all before it are done)
        self.proc = subprocess.Popen(
            # the owner's script name: MLflow's context tags (source, git commit) read sys.argv[0]
            [sys.executable, "-m", "synthgen.tracking_agent", str(self.owner), sys.argv[0] if sys.argv else ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None and os.getpid() == self.owner  # a forked child starts its own

    def send(self, op: str, *args) -> None:
        """Queue `op(*args)` without waiting (its error, if any, comes back with the next call)."""
        with self._lock:
            self._write(op, args, False)
            self._unanswered += op not in WARM_UPS

    def call(self, op: str, *args):
        """Run `op(*args)` in the helper after everything queued before it; its value, or TrackingError."""
        with self._lock:
            self._write(op, args, True)
            try:
                status, value = pickle.load(self.proc.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise TrackingError(self._ended()) from None
            self._unanswered = 0
        if status == "error":
            raise TrackingError(value)
        return value

    def _write(self, op: str, args: tuple, wants_reply: bool) -> None:
        try:
            pickle.dump((op, args, os.getcwd(), wants_reply), self.proc.stdin)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise TrackingError(self._ended()) from None

    def _ended(self) -> str:
        code = self.proc.wait()
        return f"MLflow's helper process ended (exit code {code}; its message is above); run the stage again"

    def close(self, timeout: float = 60.0) -> None:
        """Let the helper finish the writes queued, then end it; with none queued (a stage that stopped
        before logging anything), end it at once rather than wait for its imports."""
        if self.proc.poll() is not None:
            return
        if not self._unanswered:
            self.proc.kill()
            self.proc.wait()
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


_shared: Agent | None = None


def shared() -> Agent:
    """This process's helper, started on first use (or again if it ended); it starts importing MLflow
    at once, so call this before other slow work the stage does anyway."""
    global _shared
    if _shared is None or not _shared.alive():
        _shared = Agent()
        atexit.register(_shared.close)
    return _shared


WARM_UPS = ("prepare_model_log",)  # requests that write nothing: a helper left with only these may be ended


# ---- the helper process --------------------------------------------------------------------------
# What a request may run: functions of synthgen/tracking.py called as f(cfg, paths, *rest), `paths` being
# the request's config's RunPaths
OPERATIONS = (
    "prepare_model_log",
    "open_train_run",
    "log_params",
    "log_step_metrics",
    "log_image",
    "terminate_run",
    "finish_train_run",
    "log_child_run",
    "log_evaluation",
)


def serve(owner: int, requests, replies) -> None:
    """Answer pickled requests (op, (cfg, *rest), cwd, wants_reply) from `requests` until it closes."""
    from synthgen import tracking
    from synthgen.paths import RunPaths

    tracking.OWNER_PID = owner
    tracking.warm()  # MLflow and its store import now, while the owner imports Lightning
    pending = None  # the first error of a request nobody waited for
    while True:
        try:
            op, args, cwd, wants_reply = pickle.load(requests)
        except EOFError:
            return
        try:
            if op not in OPERATIONS:
                raise ValueError(f"unknown operation {op!r}")
            os.chdir(cwd)  # relative paths mean what they mean in the owner
            cfg, *rest = args
            reply = ("ok", getattr(tracking, op)(cfg, RunPaths.from_config(cfg), *rest))
        except Exception as e:  # noqa: BLE001 - every failure goes back to the owner as one line
            reply = ("error", " ".join(f"MLflow: {type(e).__name__}: {e}".split())[:2000])
        if not wants_reply:
            pending = pending or (reply if reply[0] == "error" else None)
            continue
        if pending:
            reply, pending = pending, None
        pickle.dump(reply, replies)
        replies.flush()


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything MLflow prints goes to stderr; stdout carries the replies alone
    owner, sys.argv = int(sys.argv[1]), sys.argv[2:3]
    serve(owner, sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
