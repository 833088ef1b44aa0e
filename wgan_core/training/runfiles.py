"""One run's directory while it trains: config.json, metrics.csv, checkpoints, final.json.

`RunFiles` is what the training loop (wgan_core.training.loop) drives, one per run or ensemble
member, so a run writes the same files however it was trained; what differs by job kind (a GAN
run's artifacts and model.pt, another kind's own files) is the trainer's `finish_run`
(protocol.RunContract). `finished_final` checks that a directory holds this config's run and whether it has
finished.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError, JsonConfig
from ..fileio import read_rows, write_json, write_rows
from ..rundir import checkpoints
from ..rundir.tblog import TensorBoardLog
from ..runtime import check_out_dir
from .protocol import RunContract


def finished_final(config: JsonConfig, out: Path) -> dict[str, Any] | None:
    """The stored final.json of a finished run in out (after checking out holds this config), or None."""
    check_out_dir(config, out)
    if not (out / "final.json").exists():
        return None
    try:
        return json.loads((out / "final.json").read_text())
    except ValueError:
        raise ConfigError(f"out: {out}/final.json is corrupt; delete it to run that run again") from None


class RunFiles:
    """One run's directory while it trains: config.json, metrics.csv, checkpoints, final.json.

    Opening it resumes the trainer from the latest readable checkpoint (a damaged one falls
    back to the previous, with a warning; none readable: a one-line ConfigError) and drops
    metrics rows written after that checkpoint. `train` drives one; a seed ensemble
    (wgan_core.training.ensemble) drives one per member, so both write the same files.
    """

    def __init__(self, trainer: RunContract, out: Path, log=print) -> None:
        self.trainer, self.out, self.log = trainer, out, log
        c = self.config = trainer.config
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "config.json").exists():
            write_json(out / "config.json", c.to_dict())
        self.ckpt_path, self.metrics_path = out / "checkpoint.pt", out / "metrics.csv"
        elapsed, self.train_time = 0.0, 0.0
        rows = read_rows(self.metrics_path)
        state = checkpoints.load(self.ckpt_path, required=(*trainer.checkpoint_keys, "elapsed"), log=log)
        # Each stop and resume of this run: {signal, stopped_at, resumed_at}; a crash (kill -9, a lost
        # node) has no stop entry, only the step it resumed from. Goes into final.json: work lost = stopped_at - resumed_at.
        self.interruptions: list[dict[str, Any]] = []
        self.resumed = state is not None
        if state is not None:
            trainer.load_state_dict(state)  # moves it to the training device
            elapsed, self.train_time = float(state["elapsed"]), float(state["train_time"])
            rows = [r for r in rows if int(r["step"]) <= trainer.step_count]  # drop rows written after the checkpoint
            self.interruptions = list(state.get("interruptions", []))
            if self.interruptions and "resumed_at" not in self.interruptions[-1]:
                self.interruptions[-1]["resumed_at"] = trainer.step_count
            else:
                self.interruptions.append({"signal": None, "stopped_at": None, "resumed_at": trainer.step_count})
            log(f"resuming {out} at step {trainer.step_count}")
        else:
            rows = []
        self.rows = rows
        write_rows(self.metrics_path, rows)
        self.t0 = time.perf_counter() - elapsed
        # For final.json's cpu_share: this process's CPU seconds per wall second since the run (re)opened. With one
        # torch thread, well below 1 means the run waited for a core (other work shared the machine).
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self.tb = TensorBoardLog(out, trainer.step_count if self.resumed else None) if getattr(c, "tensorboard", False) else None
        self.ensemble: dict[str, Any] | None = None  # set by a seed ensemble: recorded in final.json

    def add_row(self) -> dict[str, Any]:
        """Evaluate now and append the row to metrics.csv (and the TensorBoard log)."""
        row = self.trainer.evaluate()
        row["wall_time_s"] = time.perf_counter() - self.t0
        row["train_time_s"] = self.train_time
        self.rows.append(row)
        write_rows(self.metrics_path, self.rows)
        if self.tb is not None:
            self.tb.add_row(row, self.trainer.last_samples)
        return row

    def start(self) -> None:
        if self.trainer.step_count == 0 and not self.rows:
            self.add_row()  # the untrained baseline: step 0

    def save_checkpoint(self) -> None:
        state = self.trainer.state_dict()
        state["elapsed"], state["train_time"] = time.perf_counter() - self.t0, self.train_time
        state["interruptions"] = self.interruptions
        checkpoints.save(state, self.ckpt_path)

    def stop(self, signum: int) -> None:
        """A stop signal: record it and save a checkpoint at this step."""
        self.interruptions.append({"signal": signal.Signals(signum).name, "stopped_at": self.trainer.step_count})
        self.save_checkpoint()
        self.close()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None

    def finish(self, diverged: int | None) -> dict[str, Any]:
        """Write final.json (and the trainer's files: `finish_run`); returns final.json as stored."""
        self.close()
        c, trainer, out, rows = self.config, self.trainer, self.out, self.rows
        final: dict[str, Any] = {
            "status": "diverged" if diverged is not None else "ok",
            "steps": diverged if diverged is not None else trainer.step_count,
            "wall_time_s": time.perf_counter() - self.t0,
            "train_time_s": self.train_time,
            trainer.rate_key: trainer.step_count / self.train_time if self.train_time > 0 else math.nan,
            "cpu_share": (time.process_time() - self._cpu0) / max(time.perf_counter() - self._wall0, 1e-9),
            "torch_threads": torch.get_num_threads(),
            "variant": c.label,
            "run_id": c.run_id(),
        }
        if self.interruptions:
            final["interruptions"] = self.interruptions
        if self.ensemble is not None:
            final["ensemble"] = self.ensemble
        if diverged is not None:
            self.log(f"run diverged: non-finite loss at step {diverged}")
        # The trainer's own files and final metrics (a GAN run: FID/KID, the report's artifacts, model.pt).
        final["metrics"] = trainer.finish_run(out, rows, diverged)
        write_json(out / "final.json", final)
        checkpoints.discard(self.ckpt_path)  # model.pt and final.json replace it
        return json.loads((out / "final.json").read_text())  # as stored: NaN becomes None


__all__ = ["RunFiles", "finished_final"]
