"""The training step, written once: `Stepper.step()` is one generator iteration of S >= 1 runs.

A stepper holds S member runs (`Trainer`s) that differ only in their seed and trains them
as one: every score is (S, B), every loss and statistic (S,). A run alone is S = 1 and
steps with its own modules (compiled where it compiled them), optimisers and random
streams; a seed ensemble (wgan_core.training.ensemble.Ensemble) is the same step over
stacked modules, and adds only how its members' weights are stacked and written back.
A run alone drops the member axis (scores (B,), losses ()): the select, stack and sum
that split S members cost a toy step 4-8% on a 2-core CPU (benchmarks/compare.py,
results/throughput/compare.csv), and a run alone has nothing to split. Where the two shapes
differ is one small class each (`Alone`, `Members`: the stepper's `axis`), not branches in the step.

One iteration = n_critic critic updates, then one generator update:

  critic step i (rows [i*n, (i+1)*n) of the iteration's draws, n = S*B, member-major):
    loss_s = loss.critic(D(x)_s, D(G(z))_s) + penalty_weight * penalty_every * penalty_s
    penalty_s = the mean of member s's per-sample penalty terms (penalties.Constraint.member_penalties),
    only on lazy-regularisation steps; then constraint.after_critic_step (weight clipping)
  generator step: loss_s = loss.generator(D(G(z'))_s [, D(x)_s]) on a fresh latent batch.

Summing the members' losses before one backward pass gives each member its own gradient
(members share no weights), and Adam, RMSprop and clipping act elementwise, so member s
computes exactly what its single run computes (tests/test_ensemble.py checks bit-identity).

Speed (benchmarks/throughput.py): the step never reads a value back to the host; running
sums of the statistics stay on the device and are read at evaluation time. The critic-step
fakes come from generator forwards under no_grad; the critic's parameters stop requiring
grad during the generator step (no critic weight gradients there); on a GPU, real and fake
go through the critic in one forward (`Trainer.joint_forward`).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from ..penalties import penalty_scale
from .protocol import Member
from .stats import STAT_NAMES, RunningStats


class Alone:
    """The member axis of a run alone: none. Scores (B,), losses (), statistics (4,); the run's own tensors.

    Every place where S = 1 and S > 1 differ in shape is a method of this class and of `Members`,
    so the step below is written once for both.
    """

    size = 1

    def scores(self, flat: Tensor) -> Tensor:
        """(B, 1) or (B,) critic scores -> fp32 (B,)."""
        return flat.float().reshape(-1)

    def each(self, fn, a: Tensor, b: Tensor | None = None) -> Tensor:
        """fn of the (B,) scores: ()."""
        return fn(a, b)

    def total(self, loss: Tensor) -> Tensor:
        """What backward starts from: the loss itself."""
        return loss

    def interleave(self, draws: list[tuple[Tensor, Tensor]], b: int, k: int) -> tuple[Tensor, Tensor]:
        """The run's (real, z) draws are already in step order."""
        return draws[0]

    def cat(self, parts: list[Tensor]) -> Tensor:
        """The run's rows, as they are."""
        return parts[0]

    def zeros(self, like: Tensor) -> Tensor:
        """No penalty: ()."""
        return like


class Members(Alone):
    """The member axis of S > 1 seeds stepped as one: scores (S, B), losses (S,), statistics (S, 4)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def scores(self, flat: Tensor) -> Tensor:
        """(S*B, 1) or (S*B,) member-major -> fp32 (S, B)."""
        return flat.float().reshape(self.size, -1)

    def each(self, fn, a: Tensor, b: Tensor | None = None) -> Tensor:
        """fn of each member's (B,) scores: (S,)."""
        return torch.stack([fn(a[s], None if b is None else b[s]) for s in range(self.size)])

    def total(self, loss: Tensor) -> Tensor:
        """The sum over members: members share no weights, so each gets its own loss's gradient."""
        return loss.sum()

    def interleave(self, draws: list[tuple[Tensor, Tensor]], b: int, k: int) -> tuple[Tensor, Tensor]:
        """Each member's k batches of b -> k critic batches of S*b rows, member-major within each."""
        real = torch.cat([r[i * b : (i + 1) * b] for i in range(k) for r, _ in draws])
        z = torch.cat([z[i * b : (i + 1) * b] for i in range(k) for _, z in draws])
        return real, z

    def cat(self, parts: list[Tensor]) -> Tensor:
        """Members' (B, ...) rows -> (S*B, ...), member-major."""
        return torch.cat(parts)

    def zeros(self, like: Tensor) -> Tensor:
        """No penalty: (S,)."""
        return torch.zeros(self.size, device=like.device)


class Stepper:
    """S member runs at one step, trained as one; `Stepper([trainer])` steps a run alone (S = 1).

    The loop talks to a stepper through `step` (which adds the step's statistics to the members'
    own, `stats.RunningStats`) and `write_back` (the members get the weights and the step count:
    then they evaluate, checkpoint or finish): `protocol.Stepping`.
    """

    def __init__(self, members: list[Member]) -> None:
        assert len(members) == 1, "several members step as an Ensemble (wgan_core.training.ensemble)"
        m = members[0]
        self._common(members)
        self.generator, self.critic = m.generator, m.critic  # the modules that train
        self.call_g, self.call_d = m.call_g, m.call_d  # what the step calls: compiled where the run compiled them
        self.opt_g, self.opt_d = m.opt_g, m.opt_d
        self.eps = m.eps_gen  # the penalty's interpolation weights: the run's own stream
        self.joint_forward = m.joint_forward

    def _common(self, members: list[Member]) -> None:
        steps = {m.step_count for m in members}
        assert len(steps) == 1, f"members at different steps: {steps}"
        m0 = members[0]
        self.members, self.size = list(members), len(members)
        self.axis = Alone() if self.size == 1 else Members(self.size)  # where S = 1 and S > 1 differ in shape
        self.config, self.device = m0.config, m0.device
        self.loss, self.constraint = m0.loss, m0.constraint
        self.step_count = m0.step_count
        self.zeros = self.axis.zeros(m0.zero)  # no penalty: () or (S,)
        self.stats = RunningStats.stacked([m.stats for m in members])  # the members' own: a run alone's, or rows of one stack

    def write_back(self) -> None:
        """Members get their step (an ensemble's override adds weights and optimiser states); their statistics are theirs already."""
        for m in self.members:
            m.step_count = self.step_count

    # ------------------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def critic_inputs(self) -> tuple[Tensor, Tensor]:
        """real (k*S*B, ...) and z (k*S*B, z_dim): critic step i's S*B rows member-major, each member's from its own streams."""
        draws = [m.draw_critic_inputs() for m in self.members]  # each member draws as its single run does
        return self.axis.interleave(draws, self.config.batch_size, self.config.n_critic)

    @torch.no_grad()
    def fakes(self, z: Tensor) -> Tensor:
        """Every member's G(z) for a critic step, z (S*B, z_dim) -> (S*B, ...); no graph: the critic step does not train G.

        One forward per critic batch, not one for all k: on a 2-core CPU (DCGAN 28x28, width 64)
        5 forwards of 64 took 67 ms and one of 320 took 95 ms; and batch-norm statistics then
        come from batches of B, as in the generator step.
        """
        with self._autocast():
            return self.call_g(z)

    def critic_step(self, real: Tensor, fake: Tensor, with_penalty: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """One critic update of every member on real and fake (S*B, ...). Returns (loss, W estimate, penalty), each (S,) (() alone), detached."""
        c, S, D, ax = self.config, self.size, self.call_d, self.axis
        b, shape = real.shape[0] // S, real.shape[1:]
        penalty = self.zeros
        with self._autocast():
            if self.joint_forward:  # one critic forward for both halves of every member
                both = torch.stack([real.reshape(S, b, *shape), fake.reshape(S, b, *shape)], 1)  # (S, 2, B, ...)
                scores = D(both.reshape(S * 2 * b, *shape)).reshape(S, 2, b)
                s_real, s_fake = ax.scores(scores[:, 0]), ax.scores(scores[:, 1])
            else:
                s_real, s_fake = ax.scores(D(real)), ax.scores(D(fake))  # (S, B): fp32 losses under bf16 autocast
            loss = ax.each(self.loss.critic, s_real, s_fake)  # (S,)
            if self.constraint.penalises and with_penalty:
                penalty = self.constraint.member_penalties(D, real, fake, self.eps, S)  # (S,) unweighted, each member's own
                loss = loss + penalty_scale(c) * penalty
        self.opt_d.zero_grad(set_to_none=True)
        ax.total(loss).backward()  # members share no weights: each gets its own loss's gradient
        self.opt_d.step()
        if self.constraint.after_critic_step is not None:
            self.constraint.after_critic_step(self.critic, c)  # clipping is elementwise: per member alike
        return loss.detach(), (s_real.mean(-1) - s_fake.mean(-1)).detach(), penalty.detach()

    def generator_step(self, real: Tensor | None = None) -> Tensor:
        """One generator update of every member on a fresh latent batch each. Returns the losses (S,) (() alone), detached.

        real (S*B, ...): the last critic step's real batch, scored only for losses whose generator
        needs the real scores (relativistic pairing); it draws nothing from any stream.
        """
        ax = self.axis
        self.critic.requires_grad_(False)  # only d loss / d x is needed: no critic weight gradients
        try:
            zs = [m.draw_generator_latents() for m in self.members]
            z = ax.cat(zs)  # (S*B, z_dim)
            with self._autocast():
                s_fake = ax.scores(self.call_d(self.call_g(z)))  # (S, B)
                s_real = None
                if self.loss.generator_needs_real and real is not None:
                    s_real = ax.scores(self.call_d(real))  # (S, B): constant for G, paired with the fakes by position
                loss = ax.each(self.loss.generator, s_fake, s_real)  # (S,)
            self.opt_g.zero_grad(set_to_none=True)
            ax.total(loss).backward()
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        return loss.detach()

    def step(self) -> Tensor:
        """One generator iteration of every member: n_critic critic updates, then one generator update.

        Returns the iteration's statistics (S, 4) ((4,) alone), added to the members' running statistics.
        """
        k, every = self.config.n_critic, self.config.penalty_every
        real, z = self.critic_inputs()  # (k*n, ...), (k*n, z_dim): n = S*B rows per critic step
        n = real.shape[0] // k
        penalty = None  # the last penalty this iteration computed: a lazy run computes none on most steps
        for i in range(k):
            part = slice(i * n, (i + 1) * n)
            fake = self.fakes(z[part]).to(real.dtype)  # (n, ...)
            lazy = (self.step_count * k + i) % every == 0  # the critic step's index over the run: no extra state to checkpoint
            loss_d, w_est, pen = self.critic_step(real[part], fake, with_penalty=lazy)
            if lazy:
                penalty = pen
        loss_g = self.generator_step(real[part])
        self.step_count += 1
        # Statistics stay on the device (no host sync in the step); read at evaluation time.
        return self.stats.add(loss_d, loss_g, w_est, penalty, self.step_count)  # (S, 4), (4,) alone

__all__ = ["STAT_NAMES", "Alone", "Members", "Stepper"]
