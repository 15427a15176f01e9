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

from benchmarks.tuner.suite import open_results, paired_cells


def load_rows(paths: list[str]) -> dict:
    """(problem, method, workers, seed) -> the stored row with the longest curve (a run to a larger
    budget serves a smaller one, as in the suite); among equally long ones, the first read."""
    rows: dict = {}
    for path in paths:
        with open_results(path) as lines:
            for line in lines:
                r = json.loads(line)
                key = (r["problem"], r["method"], r["workers"], r["seed"])
                if key not in rows or len(r["log10_regret"]) > len(rows[key]["log10_regret"]):
                    rows[key] = r
    return rows


def table(rows: dict, candidates: list[str], baseline: str, problems: list[str], budgets: list[int],
          workers: int, seeds: range) -> str:
    """The markdown table, each cell from the suite's own paired statistics (suite.paired_cells)."""
    chosen = [r for r in rows.values() if r["workers"] == workers and r["seed"] in seeds]
    out = ["| candidate | problem | " + " | ".join(f"budget {b}" for b in budgets) + " |",
           "|---|---|" + "---|" * len(budgets)]
    for candidate in candidates:
        pair = [r for r in chosen if r["method"] in (candidate, baseline)]
        found = {(c["problem"], c["budget"]): c for c in paired_cells(pair, budgets, ours=candidate)
                 if c["peer"] == baseline}
        for problem in problems:
            out.append(f"| `{candidate}` | {problem} | "
                       + " | ".join(_cell(found.get((problem, b)), len(seeds)) for b in budgets) + " |")
    return "\n".join(out)


def _cell(c: dict | None, seeds: int) -> str:
    if c is None:
        return "-"
    verdict = "tie" if c["verdict"] == "tie" else f"**{c['verdict']}**"
    note = "" if c["seeds"] == seeds else f" ({c['seeds']} seeds)"
    return f"{c['diff']:+.2f} ± {c['diff_se']:.2f} {verdict}{note}"


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
    text = table(load_rows(args.json.split(",")), args.candidates.split(","), args.baseline,
                 args.problems.split(","), [int(b) for b in args.budgets.split(",")], args.workers,
                 range(first, last + 1))
    print(text)
    return text


if __name__ == "__main__":
    main()
