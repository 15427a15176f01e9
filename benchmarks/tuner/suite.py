"""The broad optimiser suite: many problems, every method in the same run, paired by seed.

    python -m benchmarks.tuner.suite --seeds 20 --budget 50 --workers 1 --jobs 2 \\
        --json build/suite.jsonl --markdown benchmarks/tuner/suite.md
    python -m benchmarks.tuner.suite --smoke      # seconds; part of `make test` (tests/unit/bench)
    python -m benchmarks.tuner.suite --methods Bayesian,Bayesian+portfolio --ours Bayesian+portfolio \
        --problems hartmann3 --json build/dev.jsonl   # a candidate (methods.VARIANTS) vs the default

Each (problem, method, workers, seed) run is one task on ``--jobs`` single-threaded processes; with
``--json`` finished runs are appended as they end and reused, so an interrupted run resumes. Seed
``s`` shifts the synthetic functions the same way for every method, and the methods see the same
trial durations (asynchronous runs), so the comparison is paired: the tables give each method's
mean log10 regret with its standard error, and skytune's Bayesian strategy minus each peer, seed by
seed, with the standard error of that difference. A cell is a win (loss) when the paired mean
difference is below (above) -2 (+2) standard errors, otherwise it is inside the noise (tie).

The scikit-learn tasks have no known optimum: their metric is log10 of the best cross-validated
error found (lower is better), paired in the same way.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.tuner.loop import run_one  # noqa: E402
from benchmarks.tuner.suite_problems import DEVELOPMENT, SKLEARN, SUITE, SYNTHETIC, make_problem  # noqa: E402

PEERS = ("OptunaGP", "OptunaTPE", "Ax", "Random")
OURS = "Bayesian"


def make_method(name: str, problem, seed: int, parallel: bool):
    from benchmarks.tuner.methods import make_method as make

    return make(name, problem, seed, parallel)


def _task(args: tuple) -> dict:
    problem_name, method_name, workers, seed, budget = args
    problem = make_problem(problem_name, seed)
    method = make_method(method_name, problem, seed, parallel=workers > 1)
    started = time.perf_counter()
    result = run_one(method, problem, budget, workers, seed)
    return {"problem": problem_name, "method": method_name, "workers": workers, "seed": seed,
            "budget": budget, "seconds": time.perf_counter() - started,
            "log10_regret": result["log10_regret"], "ask_median": float(np.median(result["ask_seconds"]))}


def open_results(path: str, mode: str = "rt"):
    """The raw results, plain or gzipped (``.gz``: how they are kept in benchmarks/tuner/data, so a
    later round can pair new runs with them instead of re-running every peer; appending to a gzip
    file adds a member, which reading joins)."""
    return gzip.open(path, mode) if path.endswith(".gz") else open(path, mode)


def _load(path: str | None) -> list[dict]:
    if not path or not os.path.exists(path):
        return []
    with open_results(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def paired_cells(results: list[dict], budgets: list[int], ours: str = OURS) -> list[dict]:
    """One row per (workers, problem, budget, peer): means with standard errors, and the paired
    difference ours - peer over the seeds both ran, with its standard error and a verdict."""
    by: dict[tuple, dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        by[(r["workers"], r["problem"])][r["method"]][r["seed"]] = r["log10_regret"]
    rows = []
    for (workers, problem), table in sorted(by.items()):
        if ours not in table:
            continue
        for budget in budgets:
            for peer in sorted(m for m in table if m != ours):
                seeds = sorted(s for s in table[ours] if s in table[peer]
                               and len(table[ours][s]) >= budget and len(table[peer][s]) >= budget)
                if len(seeds) < 2:
                    continue
                a = np.array([table[ours][s][budget - 1] for s in seeds])
                b = np.array([table[peer][s][budget - 1] for s in seeds])
                diff = a - b
                se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
                mean = float(diff.mean())
                verdict = "win" if mean < -2 * se else "loss" if mean > 2 * se else "tie"
                if se == 0.0 and mean == 0.0:
                    verdict = "tie"
                rows.append({"workers": workers, "problem": problem, "budget": budget, "peer": peer,
                             "seeds": len(seeds), "ours": float(a.mean()),
                             "ours_se": float(a.std(ddof=1) / np.sqrt(len(a))),
                             "peer_mean": float(b.mean()), "peer_se": float(b.std(ddof=1) / np.sqrt(len(b))),
                             "diff": mean, "diff_se": se, "verdict": verdict})
    return rows


def render(results: list[dict], budgets: list[int], command: str, elapsed: float, jobs: int,
           ours: str = OURS, ran: int | None = None) -> str:
    """``ran``: how many of ``results`` this invocation ran (0: all read from stored runs)."""
    rows = paired_cells(results, budgets, ours)
    seeds = sorted({r["seed"] for r in results})
    timing = ("all read from stored results (this invocation ran none; " if ran == 0 else
              f"{elapsed / 60:.1f} min wall time for this invocation on {jobs} processes (")
    lines = [
        "# Optimiser suite (paired, same run)", "",
        f"Command: `{command}`  ",
        f"{len(seeds)} seeds, {len(results)} runs, {timing}Python {platform.python_version()}, "
        "single-threaded BLAS).  ",
        "Metric: log10 simple regret of the best value found after the budget (synthetic functions, "
        "shifted randomly per seed; floored at -12), or log10 of the best cross-validated error "
        f"(scikit-learn tasks). Lower is better. `{ours}` is skytune's; `diff` = {ours} - peer "
        "per seed, mean +- standard error; win/loss = beyond 2 standard errors, else tie (inside the noise).", "",
    ]
    for workers in sorted({r["workers"] for r in rows}):
        mode = "sequential" if workers == 1 else f"{workers} trials in flight (asynchronous)"
        for budget in budgets:
            cells = [r for r in rows if r["workers"] == workers and r["budget"] == budget]
            if not cells:
                continue
            peers = sorted({r["peer"] for r in cells})
            lines += [f"## {mode}, budget {budget}", "",
                      f"| problem | {ours} | " + " | ".join(f"{p} | diff vs {p}" for p in peers) + " |",
                      "|---" * (2 + 2 * len(peers)) + "|"]
            for problem in sorted({r["problem"] for r in cells}, key=lambda p: SUITE.index(p) if p in SUITE else 99):
                mine = [r for r in cells if r["problem"] == problem]
                first = max(mine, key=lambda r: r["seeds"])  # our column over the most seeds paired
                row = f"| {problem} | {first['ours']:.2f} +- {first['ours_se']:.2f} |"
                for peer in peers:
                    r = next((r for r in mine if r["peer"] == peer), None)
                    if r is None:
                        row += " - | - |"
                        continue
                    note = "" if r["seeds"] == len(seeds) else f" ({r['seeds']} seeds)"
                    row += (f" {r['peer_mean']:.2f} +- {r['peer_se']:.2f} | {r['diff']:+.2f} +- "
                            f"{r['diff_se']:.2f} **{r['verdict']}**{note} |")
                lines.append(row)
            lines.append("")
            tally = []
            for peer in peers:
                verdicts = [r["verdict"] for r in cells if r["peer"] == peer]
                tally.append(f"vs {peer}: {verdicts.count('win')} wins, {verdicts.count('tie')} ties, "
                             f"{verdicts.count('loss')} losses")
            lines += ["; ".join(tally) + ".", ""]
    asks: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if "ask_median" in r:
            asks[r["method"]].append(r["ask_median"])
    if asks:
        lines += ["## Seconds per suggestion (wall time, median over runs of each run's median ask)", "",
                  "| method | runs | median s/ask | vs " + ours + " |", "|---|---|---|---|"]
        base = float(np.median(asks[ours])) if ours in asks else None
        for method in sorted(asks, key=lambda m: (m != ours, m)):
            med = float(np.median(asks[method]))
            ratio = f"{med / base:.1f}x" if base else "-"
            lines.append(f"| {method} | {len(asks[method])} | {med:.3f} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", default="50", help="comma-separated; the largest is run, the others read off")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--methods", default=",".join((OURS, *PEERS)))
    parser.add_argument("--problems", default=",".join(SYNTHETIC))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--smoke", action="store_true",
                        help="2 seeds, budget 8, two small problems, skytune methods only (seconds)")
    parser.add_argument("--json", help="append raw results here (JSON lines); runs already there are reused")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--ours", default=OURS,
                        help="the method every other one is paired against (e.g. a candidate variant)")
    parser.add_argument("--rename", default="",
                        help="old=new,... relabel methods in the loaded results (e.g. a variant that "
                             "became the default); applied before --methods selects")
    parser.add_argument("--report-only", action="store_true",
                        help="render what --json holds for these problems and methods; run nothing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.budget, args.methods, args.problems, args.jobs = 2, "8", "Bayesian,Random", "branin2,levy6int", 1
    budgets = sorted(int(b) for b in args.budget.split(","))
    problems = args.problems.split(",")
    unknown = [p for p in problems if p not in SUITE and p not in DEVELOPMENT]
    if unknown:
        parser.error(f"unknown problems {unknown}; the suite has {', '.join(SUITE)} "
                     f"(development problems: {', '.join(DEVELOPMENT)})")
    tasks = [(p, m, int(w), s, max(budgets)) for p in problems for w in args.workers.split(",")
             for m in args.methods.split(",") for s in range(args.seeds)]
    # problem by problem (in the order given), so an interrupted run leaves whole problems with
    # every method; within one, the slow model-based methods first
    tasks.sort(key=lambda t: (problems.index(t[0]), t[1] not in ("OptunaGP", OURS)))
    # a run to a larger budget serves a smaller one (its curve is read off at the smaller budget);
    # shorter runs are reported at the budgets they reach, and rerun when the budget asks for more
    results = _load(args.json)
    renames = dict(pair.split("=", 1) for pair in args.rename.split(",") if pair)
    for r in results:
        r["method"] = renames.get(r["method"], r["method"])
    done = {(r["problem"], r["method"], r["workers"], r["seed"]) for r in results
            if r.get("budget", 0) >= max(budgets)}
    wanted = {t[:4] for t in tasks}
    results = [r for r in results if (r["problem"], r["method"], r["workers"], r["seed"]) in wanted]
    todo = [] if args.report_only else [t for t in tasks if t[:4] not in done]
    started = time.perf_counter()
    if args.jobs == 1:
        finished = map(_task, todo)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(args.jobs)
        finished = pool.imap_unordered(_task, todo)
    try:
        for i, r in enumerate(finished, 1):
            results.append(r)
            if args.json:
                with open_results(args.json, "at") as f:
                    f.write(json.dumps(r) + "\n")
            print(f"[{i}/{len(todo)}] {r['problem']} {r['method']} w={r['workers']} seed={r['seed']} "
                  f"{r['seconds']:.1f}s", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    command = "python -m benchmarks.tuner.suite " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(results, budgets, command, time.perf_counter() - started, args.jobs, args.ours, ran=len(todo))
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return text


if __name__ == "__main__":
    main()
