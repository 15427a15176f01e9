"""Sequential and asynchronous-parallel optimisation loops on simulated time."""

from __future__ import annotations

import heapq
import math
import time

import numpy as np

from benchmarks.tuner.problems import Problem

REGRET_FLOOR = 1e-12  # log10 regret is clipped at -12: below it we are measuring rounding


def run_one(method, problem: Problem, budget: int, workers: int, seed: int) -> dict:
    """Evaluate ``budget`` trials with ``workers`` in flight.

    Trial durations are drawn from a seeded log-normal, so completions arrive out of order the
    same way for every method. Returns the best-so-far log10 regret after each completed
    evaluation and the wall time of every ask.
    """
    durations = np.random.default_rng([seed, 0xD0]).lognormal(0.0, 0.5, budget)
    clock, launched, running, best = 0.0, 0, [], math.inf
    curve, ask_seconds = [], []
    while len(curve) < budget:
        while len(running) < workers and launched < budget:
            started = time.perf_counter()
            handle, config = method.ask()
            ask_seconds.append(time.perf_counter() - started)
            value = problem.function(config)
            heapq.heappush(running, (clock + durations[launched], launched, handle, value))
            launched += 1
        clock, _, handle, value = heapq.heappop(running)
        method.tell(handle, value)
        best = min(best, value)
        curve.append(math.log10(max(best - problem.optimum, REGRET_FLOOR)))
    return {"log10_regret": curve, "ask_seconds": ask_seconds}
