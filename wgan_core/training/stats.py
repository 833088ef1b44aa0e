"""A run's running statistics between evaluations, on the device: the step adds to them, the run owns them.

    sums (4,)          sums of STAT_NAMES over the steps since the last evaluation
    bad_step ()        the first step with a non-finite statistic, -1 if none
    last_penalty ()    the unweighted penalty of the last critic step that computed one (lazy regularisation)

S runs stepped as one (a seed ensemble) add to one stacked copy, (S, 4), (S,), (S,), whose rows
*are* each run's tensors (views): every run reads its own statistics at any time, and nothing is
copied back. The step never reads them back to the host (no device sync); evaluations do.
"""

from __future__ import annotations

import torch
from torch import Tensor

STAT_NAMES = ("critic_loss", "generator_loss", "wasserstein", "penalty")


class RunningStats:
    """One run's statistics (4,), (), (); or S runs' stacked, (S, 4), (S,), (S,)."""

    def __init__(self, sums: Tensor, bad_step: Tensor, last_penalty: Tensor) -> None:
        self.sums, self.bad_step, self.last_penalty = sums, bad_step, last_penalty

    @classmethod
    def zeros(cls, device: torch.device) -> RunningStats:
        return cls(torch.zeros(len(STAT_NAMES), device=device), torch.full((), -1, dtype=torch.int64, device=device), torch.zeros((), device=device))

    @classmethod
    def stacked(cls, runs: list[RunningStats]) -> RunningStats:
        """One stacked copy of S runs' statistics; each run's tensors become its row of it. A run alone keeps its own."""
        if len(runs) == 1:
            return runs[0]
        joint = cls(torch.stack([r.sums for r in runs]), torch.stack([r.bad_step for r in runs]), torch.stack([r.last_penalty.reshape(()) for r in runs]))
        for s, r in enumerate(runs):
            r.sums, r.bad_step, r.last_penalty = joint.sums[s], joint.bad_step[s], joint.last_penalty[s]
        return joint

    def add(self, loss_d: Tensor, loss_g: Tensor, w_est: Tensor, penalty: Tensor | None, step: int) -> Tensor:
        """Add one step's statistics (each (S,), () alone); penalty None: no critic step of this one computed it.

        Returns the step's statistics (S, 4), (4,) alone. In place, so that the runs' rows see them.
        """
        if penalty is not None:
            self.last_penalty.copy_(penalty)
        stats = torch.stack([loss_d, loss_g, w_est, self.last_penalty], -1).float()
        self.sums += stats
        bad = ~torch.isfinite(stats).all(-1)
        self.bad_step.masked_fill_(bad & (self.bad_step < 0), step)  # in place: one op, and the runs' rows see it
        return stats

    def take_means(self, n: int) -> list[float]:
        """Means over the n steps since the last evaluation (NaN when n = 0), and start summing afresh."""
        means = (self.sums / n).tolist() if n else [float("nan")] * len(STAT_NAMES)
        self.sums.zero_()
        return means

    def state_dict(self) -> dict[str, Tensor]:
        """Copies (a row of a stacked copy would save the whole stack)."""
        return {"sums": self.sums.clone(), "bad_step": self.bad_step.clone(), "last_penalty": self.last_penalty.clone()}

    @classmethod
    def from_state(cls, s: dict[str, Tensor], device: torch.device) -> RunningStats:
        zero = torch.zeros((), device=device)
        return cls(s["sums"].to(device), s["bad_step"].to(device), s["last_penalty"].to(device) if "last_penalty" in s else zero)  # older checkpoints lack it


__all__ = ["STAT_NAMES", "RunningStats"]
