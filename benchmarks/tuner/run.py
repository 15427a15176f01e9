"""Run the optimiser benchmark and print (and optionally write) the result tables.

    python -m benchmarks.tuner.run --seeds 20 --jobs 2 --markdown benchmarks/tuner/RESULTS.md
    python -m benchmarks.tuner.run --quick

Every (problem, method, workers, seed) run is one task; tasks go to ``--jobs`` processes, each
single-threaded (BLAS and torch), so results do not depend on the machine's core count.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from benchmarks.tuner.loop import run_one  # noqa: E402
from benchmarks.tuner.methods import ALL_METHODS, make_method  # noqa: E402
from benchmarks.tuner.problems import PROBLEMS  # noqa: E402
from benchmarks.tuner.report import render  # noqa: E402


def _task(args: tuple[str, str, int, int, int]) -> dict:
    problem_name, method_name, workers, seed, budget = args
    problem = PROBLEMS[problem_name]
    method = make_method(method_name, problem, seed, parallel=workers > 1)
    started = time.perf_counter()
    result = run_one(method, problem, budget, workers, seed)
    return {"problem": problem_name, "method": method_name, "workers": workers, "seed": seed,
            "seconds": time.perf_counter() - started, **result}


def _load(path: str | None, tasks: list[tuple]) -> list[dict]:
    """Earlier results for these tasks (same budget) from a JSON-lines file, if any."""
    if not path or not os.path.exists(path):
        return []
    wanted = {t[:4]: t[4] for t in tasks}
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if wanted.get((r["problem"], r["method"], r["workers"], r["seed"]))
            == len(r["log10_regret"])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", default="30,50,100")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--methods", default=",".join(ALL_METHODS))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 seeds, budget 30: a smoke run")
    parser.add_argument("--json", help="append raw results here (JSON lines) as runs finish; "
                        "runs already in the file are reused, so an interrupted run resumes")
    parser.add_argument("--markdown", help="write the tables here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets = 3, "30"
    budgets = [int(b) for b in args.budgets.split(",")]
    tasks = [(p, m, int(w), s, max(budgets))
             for p in args.problems.split(",") for w in args.workers.split(",")
             for m in args.methods.split(",") for s in range(args.seeds)]
    # Longest tasks first so that the pool does not end on one straggler.
    tasks.sort(key=lambda t: (t[1] != "OptunaGP", t[1] != "Bayesian"))
    results = _load(args.json, tasks)
    done = {(r["problem"], r["method"], r["workers"], r["seed"]) for r in results}
    todo = [t for t in tasks if t[:4] not in done]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for i, r in enumerate(pool.imap_unordered(_task, todo), 1):
            results.append(r)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
            print(f"[{i}/{len(todo)}] {r['problem']} {r['method']} w={r['workers']} "
                  f"seed={r['seed']} {r['seconds']:.1f}s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started  # this invocation only, when resuming
    command = "python -m benchmarks.tuner.run " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(results, budgets, command, elapsed, args.jobs)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
