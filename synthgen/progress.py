"""Progress as log lines: one per training epoch (losses, elapsed, ETA) and one per generated chunk
(rows so far, rows/s). Lightning's bar redraws one terminal line, which a log file or CI output
shows as nothing for minutes; these lines read well anywhere."""

from __future__ import annotations

import logging
import sys
import time

from pytorch_lightning.callbacks import Callback

log = logging.getLogger("synthgen")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def is_terminal() -> bool:
    return sys.stderr.isatty()


class EpochLog(Callback):
    """`epoch 3/30 train_loss 1.2345 val_loss 1.3010 elapsed 0:01:02 ETA 0:08:40` after each epoch.

    ETA assumes the remaining epochs take the mean time of those done; early stopping may end
    training sooner, so it is an upper bound.
    """

    def __init__(self, max_epochs: int):
        self.max_epochs = int(max_epochs)
        self.start = self.first_epoch = None

    def on_train_start(self, trainer, pl_module):
        self.start, self.first_epoch = time.monotonic(), trainer.current_epoch  # resumed runs start later

    def on_train_epoch_end(self, trainer, pl_module):
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch + 1
        elapsed = time.monotonic() - self.start
        done = max(1, epoch - self.first_epoch)
        eta = elapsed / done * max(0, self.max_epochs - epoch)
        losses = " ".join(
            f"{k} {float(v):.4f}" for k, v in sorted(trainer.callback_metrics.items()) if k.endswith("loss")
        )
        log.info("epoch %d/%d %s elapsed %s ETA %s", epoch, self.max_epochs, losses, _clock(elapsed), _clock(eta))


class RowProgress(Callback):
    """`generated 100,000/500,000 rows (21,340 rows/s)` after each chunk (rows on this process)."""

    def __init__(self, chunks, unit: str = "rows"):
        self.chunks, self.unit = chunks, unit
        self.done = self.total = 0
        self.start = None

    def on_predict_start(self, trainer, pl_module):
        mine = self.chunks[trainer.global_rank :: trainer.world_size]  # as ChunkDataModule deals them
        self.total, self.done, self.start = sum(n for _, _, n in mine), 0, time.monotonic()

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        out = outputs.get("output") if isinstance(outputs, dict) else None
        self.done += len(out) if out is not None else 0
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        rank = f" (rank {trainer.global_rank})" if trainer.world_size > 1 else ""
        log.info(
            "generated %s/%s %s (%s %s/s)%s",
            f"{self.done:,}",
            f"{self.total:,}",
            self.unit,
            f"{rate:,.0f}",
            self.unit,
            rank,
        )


class LossCurve(Callback):
    """<model dir>/losses.csv: epoch, train_loss, val_loss, one row per finished epoch (what every
    family logs per epoch; an empty cell where one is missing, e.g. val_loss under DP). The DVC
    pipeline plots it with x=epoch (dvc.yaml, top-level plots). A resumed run keeps the earlier rows."""

    COLUMNS = ("epoch", "train_loss", "val_loss")

    def __init__(self, path):
        from pathlib import Path

        self.path, self.rows = Path(path), []

    def on_train_start(self, trainer, pl_module):
        import csv

        self.rows = []
        if trainer.current_epoch > 0 and self.path.exists():  # resumed: the epochs already done
            with self.path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < trainer.current_epoch]

    def on_train_epoch_end(self, trainer, pl_module):
        import csv

        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        m = trainer.callback_metrics
        self.rows.append(
            {"epoch": trainer.current_epoch, **{k: f"{float(m[k]):.6g}" if k in m else "" for k in self.COLUMNS[1:]}}
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.COLUMNS)
            w.writeheader()
            w.writerows(self.rows)
