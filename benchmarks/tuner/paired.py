"""Compact paired differences between stored suite runs: candidate minus baseline, per problem and budget.

    python -m benchmarks.tuner.paired --json build/r5_all.jsonl,build/r6_dev.jsonl \\
        --candidates Bayesian+mixnoise10 --baseline Bayesian+mcmc --problems levy8,branin2 --seeds 0-19

Reads the JSON lines that ``benchmarks.tuner.suite`` writes (several files; for each (problem, method,
workers, seed) the longest run stored), and prints a markdown table: mean of
the per-seed difference in log10 regret at each budget +- its standard error, **win**/**loss** beyond 2
standard errors, else tie. The suite's ``--report-only`` renders whole tables against one method; this
compares many candidates with one baseline, and on a chosen range of seeds (a replication on fresh seeds).
"""

from __future__ import annotations

import argparse
import json
import math


def load_rows(paths: list[str]) -> dict:
    """(problem, method, workers, seed) -> the stored row with the longest curve (a run to a larger
    budget serves a smaller one, as in the suite); among equally long ones, the first read."""
    rows: dict = {}
    for path in paths:
        with open(path) as lines:
            for line in lines:
                r = json.loads(line)
                key = (r["problem"], r["method"], r["workers"], r["seed"])
                if key not in rows or len(r["log10_regret"]) > len(rows[key]["log10_regret"]):
                    rows[key] = r
    return rows


def load(paths: list[str]) -> dict:
    return {key: row["log10_regret"] for key, row in load_rows(paths).items()}


def cell(curves: dict, problem: str, candidate: str, baseline: str, budget: int, workers: int,
         seeds: range) -> str:
    diffs = []
    for seed in seeds:
        a = curves.get((problem, candidate, workers, seed))
        b = curves.get((problem, baseline, workers, seed))
        if a is not None and b is not None and len(a) >= budget and len(b) >= budget:
            diffs.append(a[budget - 1] - b[budget - 1])
    if len(diffs) < 2:
        return "-"
    mean = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
    verdict = "**win**" if mean < -2 * se else "**loss**" if mean > 2 * se else "tie"
    note = "" if len(diffs) == len(seeds) else f" ({len(diffs)} seeds)"
    return f"{mean:+.2f} ± {se:.2f} {verdict}{note}"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, help="comma-separated JSON-lines files")
    parser.add_argument("--candidates")
    parser.add_argument("--baseline")
    parser.add_argument("--problems")
    parser.add_argument("--budgets", default="30,50")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seeds", default="0-19", help="first-last, inclusive")
    parser.add_argument("--pool", help="only write the joined rows (one per run, as load_rows keeps them) "
                                       "to this JSON-lines file, for the suite's --report-only")
    args = parser.parse_args(argv)
    if args.pool:
        with open(args.pool, "w") as out:
            out.writelines(json.dumps(row) + "\n" for row in load_rows(args.json.split(",")).values())
        return args.pool
    if not (args.candidates and args.baseline and args.problems):
        parser.error("--candidates, --baseline and --problems are required (unless --pool)")
    first, last = (int(v) for v in args.seeds.split("-"))
    seeds = range(first, last + 1)
    budgets = [int(b) for b in args.budgets.split(",")]
    curves = load(args.json.split(","))
    out = ["| candidate | problem | " + " | ".join(f"budget {b}" for b in budgets) + " |",
           "|---|---|" + "---|" * len(budgets)]
    for candidate in args.candidates.split(","):
        for problem in args.problems.split(","):
            cells = [cell(curves, problem, candidate, args.baseline, b, args.workers, seeds) for b in budgets]
            out.append(f"| `{candidate}` | {problem} | " + " | ".join(cells) + " |")
    text = "\n".join(out)
    print(text)
    return text


if __name__ == "__main__":
    main()
