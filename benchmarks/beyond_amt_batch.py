"""Round 5: batches with the extended optimiser (issue 15 §3), before and after the fantasy fix.

    nice -n 19 python -m benchmarks.beyond_amt_batch build/beyond_batch.jsonl dtlz2-6d-3obj,branin-currin
    # round 13: the default against candidates in boxes around the Pareto set, one process
    nice -n 19 python -m benchmarks.beyond_amt_batch build/r13_batch.jsonl dtlz2-6d-3obj,branin-currin round5,box40 1

Each call of :func:`suggest_extended` asks for 4 configurations (the first call: 4 Sobol points),
so the 2nd-4th picks of a batch see the earlier ones as kriging-believer fantasies; 32 evaluations,
20 seeds, log10 hypervolume regret at 16 and 32 (as :mod:`benchmarks.beyond_amt`). Variants:
``round5`` (the code as it is) and ``round4-fantasy``: the round-4 ``_front``, which normalised the
fantasies a second time (re-created here, since the fix removed it); round 13's ``box40``: the
candidates in boxes of side 0.4 around the Pareto set (``pareto_box=0.4``). Appends JSON lines to OUT.
"""

from __future__ import annotations

import json
import multiprocessing
import sys

import numpy as np

import benchmarks.beyond_amt as b  # first: single-threaded BLAS
from skytune.optimize import extended as E
from skytune.optimize.extended import Goal, suggest_extended

ROUND5_FRONT = E._Models._front
OPTIONS = {"round5": {}, "round4-fantasy": {}, "box40": {"pareto_box": 0.4},
           "box40-half": {"pareto_box": 0.4, "pareto_box_share": 0.5}}


def round4_front(self):
    """Round 4's ``_Models._front``: fantasies normalised twice."""
    points = [self.y[self.feasible]]
    if self.fantasy_y:
        points.append((np.array(self.fantasy_y) - self.norm_low) / self.norm_span)
    front = np.vstack(points)
    return front[E.pareto_mask(front)]


def run(args: tuple) -> dict:
    problem_name, variant, seed = args
    E._Models._front = round4_front if variant == "round4-fantasy" else ROUND5_FRONT
    problem = b.PARTS["multiobjective"][problem_name](seed)
    space = b.parse_space(problem.ranges)
    goals = [Goal(m) for m in problem.objectives]
    history, evaluated, scores = [], [], {}
    while len(evaluated) < 32:
        for config in suggest_extended(space, history, [], 4, seed, objectives=goals, index=len(history),
                                       **OPTIONS[variant]):
            metrics = problem.function(config)
            history.append(E.Outcome(config, metrics))
            evaluated.append(metrics)
        if len(evaluated) in (16, 32):
            scores[len(evaluated)] = b.score(problem, evaluated)
    return {"problem": problem_name, "method": variant, "seed": seed, "scores": scores}


def main(argv: list[str]) -> None:
    out, problems = argv[0], argv[1].split(",")
    variants = argv[2].split(",") if len(argv) > 2 else ["round5", "round4-fantasy"]
    processes = int(argv[3]) if len(argv) > 3 else 2
    tasks = [(p, v, s) for p in problems for v in variants for s in range(20)]
    with multiprocessing.Pool(processes) as pool, open(out, "a") as sink:
        for result in pool.imap_unordered(run, tasks):
            sink.write(json.dumps(result) + "\n")
            sink.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
