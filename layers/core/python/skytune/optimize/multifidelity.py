"""Hyperband with asynchronous successive halving (ASHA) as a stopping rule.

Contract (stateless, like everything here):

* Every new trial is launched with the full budget ``max_resource`` (epochs, or any increasing
  integer the trial reports) and a **bracket** ``b = Hyperband.bracket_of(trial_index)``, where
  ``trial_index`` is the trial's 0-based launch order in the job. Configurations come from
  :func:`skytune.optimize.suggest` with strategy ``"Hyperband"`` (random by default, or any
  other strategy via ``base=``).
* Bracket ``b`` has rungs ``r_b * eta^k < max_resource`` with ``r_b = min_resource * eta^b``.
  Each time a trial reports an intermediate value, the engine calls
  :meth:`Hyperband.should_stop`: when that report is the first at or past a rung, the trial
  continues only if its value there is among the best ``max(1, floor(m / eta))`` of the ``m``
  trials of its bracket that reached the rung (itself included); otherwise it is stopped.
  This is ASHA (Li et al., 2020) in its stopping form, which needs no checkpoints: a trial that
  keeps winning simply runs on. Brackets differ in how early they start judging, which is
  Hyperband's hedge against misleading early values (Li et al., 2018).
* ``n_brackets=1`` gives plain ASHA. Trials are assigned to brackets in proportion to
  Hyperband's bracket sizes ``n_b ~ eta^b / (b + 1)`` (more trials where they are cut early).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from skytune.optimize.observation import Objective, Observation, sign_for

Curve = Sequence[tuple[int, float]]


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    rung: int | None  # the resource level judged by this call, None when no rung was crossed
    reason: str


@dataclass(frozen=True)
class Hyperband:
    min_resource: int = 1
    max_resource: int = 81
    reduction_factor: int = 3
    n_brackets: int | None = None  # None: floor(log_eta(max/min)) + 1, Hyperband's count

    def __post_init__(self) -> None:
        if self.min_resource < 1 or self.max_resource <= self.min_resource:
            raise ValueError("need 1 <= min_resource < max_resource")
        if self.reduction_factor < 2:
            raise ValueError("reduction_factor must be at least 2")
        if self.n_brackets is not None and not 1 <= self.n_brackets <= self.max_brackets:
            raise ValueError(f"n_brackets must be in 1..{self.max_brackets}")

    @property
    def max_brackets(self) -> int:
        ratio = self.max_resource / self.min_resource
        return int(math.floor(math.log(ratio, self.reduction_factor) + 1e-9)) + 1

    @property
    def brackets(self) -> int:
        return self.n_brackets or self.max_brackets

    def rungs(self, bracket: int) -> list[int]:
        """Resource levels at which trials of ``bracket`` are judged."""
        levels, r = [], self.min_resource * self.reduction_factor**bracket
        while r < self.max_resource:
            levels.append(int(r))
            r *= self.reduction_factor
        return levels

    def _weights(self) -> list[int]:
        s_max = self.brackets - 1
        # Hyperband's n_s = ceil((s_max + 1) / (s + 1) * eta^s) configurations for the bracket
        # that starts at max_resource * eta^-s; our bracket b starts at min_resource * eta^b.
        return [math.ceil((s_max + 1) / (s_max - b + 1) * self.reduction_factor ** (s_max - b))
                for b in range(self.brackets)]

    def bracket_of(self, trial_index: int) -> int:
        """Deterministic bracket for the trial launched ``trial_index``-th (0-based).

        Bracket ``b`` (judged from ``min_resource * eta^b``) gets a share proportional to
        Hyperband's ``n_b``; the cycle interleaves brackets so that any prefix is balanced.
        """
        weights = self._weights()
        cycle = sorted(
            ((k + 0.5) / w, b) for b, w in enumerate(weights) for k in range(w)
        )
        return cycle[trial_index % len(cycle)][1]

    def should_stop(self, curve: Curve, bracket: int, peer_curves: Sequence[Curve],
                    objective: Objective) -> StopDecision:
        """Judge the trial whose latest report is the last point of ``curve``.

        ``peer_curves``: the curves of the other trials in the same bracket (running, completed
        or stopped). Only the report that first reaches a rung triggers a decision, so calling
        this after every ingested value judges each rung once.
        """
        if not curve:
            return StopDecision(False, None, "no report yet")
        ordered = sorted(curve)
        last_step = ordered[-1][0]
        previous_step = ordered[-2][0] if len(ordered) > 1 else -math.inf
        crossed = [r for r in self.rungs(bracket) if previous_step < r <= last_step]
        if not crossed:
            return StopDecision(False, None, "no rung reached by this report")
        rung = crossed[-1]
        sign = sign_for(objective)
        mine = sign * ordered[-1][1]
        peers = [sign * v for c in peer_curves if (v := value_at(c, rung)) is not None]
        ranked = sorted(peers + [mine])
        keep = max(1, len(ranked) // self.reduction_factor)
        if mine <= ranked[keep - 1]:
            return StopDecision(False, rung, f"in the top {keep} of {len(ranked)} at {rung}")
        return StopDecision(True, rung, f"not in the top {keep} of {len(ranked)} at {rung}")

    def decide(self, running: Sequence[Observation], others: Sequence[Observation],
               objective: Objective, trial_indices: dict) -> list:
        """Batch form: ids of running trials to stop now.

        ``running`` and ``others`` carry ``trial_id`` and ``curve``; ``trial_indices`` maps each
        ``trial_id`` to its launch index (which fixes its bracket).
        """
        everyone = list(running) + list(others)
        stops = []
        for trial in running:
            bracket = self.bracket_of(trial_indices[trial.trial_id])
            peers = [o.curve for o in everyone if o.trial_id != trial.trial_id
                     and self.bracket_of(trial_indices[o.trial_id]) == bracket]
            if self.should_stop(trial.curve, bracket, peers, objective).stop:
                stops.append(trial.trial_id)
        return stops


def value_at(curve: Curve, step: int) -> float | None:
    """The value reported at the first step >= ``step`` (a trial reporting every 2 epochs is
    judged at rung 3 by its epoch-4 value); None if the curve never got there."""
    for s, v in sorted(curve):
        if s >= step:
            return v
    return None
