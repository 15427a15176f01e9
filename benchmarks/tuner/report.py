"""Tables from raw benchmark results: mean/median log10 regret, average rank, ask latency."""

from __future__ import annotations

import platform
from collections import defaultdict

import numpy as np


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1 = best) of a 1-D array, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        tie = values == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def render(results: list[dict], budgets: list[int], command: str, elapsed: float,
           jobs: int) -> str:
    by_key: dict[tuple, dict[str, dict[int, list]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        by_key[(r["workers"], r["problem"])][r["method"]][r["seed"]] = r
    methods = sorted({r["method"] for r in results})
    seeds = sorted({r["seed"] for r in results})
    lines = [
        "# Tuner benchmark results", "",
        f"Command: `{command}`  ",
        f"{len(seeds)} seeds, {len(results)} runs, {elapsed / 60:.1f} min wall time on {jobs} "
        f"processes (Python {platform.python_version()}, single-threaded BLAS).  ",
        "Cells: mean / median log10 simple regret (best found - optimum, floored at 1e-12) "
        "after the given number of completed evaluations; rank = average rank over seeds "
        "(1 = best); ask = median seconds per suggestion over the whole run.", "",
    ]
    for workers in sorted({k[0] for k in by_key}):
        mode = "sequential" if workers == 1 else f"{workers} trials in flight (asynchronous)"
        lines += [f"## {mode}", ""]
        for problem in sorted({k[1] for k in by_key}):
            table = by_key[(workers, problem)]
            header = "| method | " + " | ".join(f"{b} evals: mean / median (rank)" for b in budgets)
            lines += [f"### {problem}", "", header + " | ask s |",
                      "|---" * (len(budgets) + 2) + "|"]
            ranks = {}
            for b in budgets:
                matrix = np.array([[table[m][s]["log10_regret"][b - 1] for m in methods]
                                   for s in seeds if all(s in table[m] for m in methods)])
                ranks[b] = np.mean([_ranks(row) for row in matrix], axis=0) if len(matrix) else None
            for i, m in enumerate(methods):
                runs = list(table[m].values())
                cells = []
                for b in budgets:
                    vals = np.array([r["log10_regret"][b - 1] for r in runs])
                    rank = f"{ranks[b][i]:.2f}" if ranks[b] is not None else "-"
                    cells.append(f"{vals.mean():.2f} / {np.median(vals):.2f} ({rank})")
                ask = np.median(np.concatenate([r["ask_seconds"] for r in runs]))
                lines.append(f"| {m} | " + " | ".join(cells) + f" | {ask:.3f} |")
            lines.append("")
    return "\n".join(lines)
