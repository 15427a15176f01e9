"""Run search: skytune (DynamoDB Local) against MLflow's SQLite tracking store, same runs, same query.

    .venv-bench/bin/python -m benchmarks.search.run [--runs 10000] [--growth 1000,10000,30000] [--quick]

Query: `params.optimizer = 'adam' OR metrics.val_loss.min < 0.2` sorted by `metrics.val_acc.max DESC`
((a) the first page of 100; (b) every page of 1,000). Latency p50/p90 over `--repeats` repetitions,
the two systems alternating so load from other processes hits both alike; skytune's read capacity
from DynamoDB Local's ConsumedCapacity. Sizes above `--runs` (the growth series) are measured on
skytune only. See README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.search.data import synthetic_runs  # noqa: E402
from benchmarks.search.mlflow_side import MlflowSide  # noqa: E402
from benchmarks.search.skytune_side import SkytuneSide, check_bulk_matches_domain  # noqa: E402

SKYTUNE_FILTER = "params.optimizer = 'adam' OR metrics.val_loss.min < 0.2"
SKYTUNE_ORDER = "metrics.val_acc.max DESC"
MLFLOW_HALVES = ("params.optimizer = 'adam'", "metrics.val_loss_min < 0.2")
MLFLOW_ORDER = "metrics.val_acc_max DESC"
FIRST_PAGE, SCAN_PAGE = 100, 1000
PROFILE = None  # --profile


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(p50, p90) in milliseconds; p90 by linear interpolation between order statistics."""
    ordered = sorted(seconds)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return statistics.median(ordered) * 1000, p90 * 1000


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def same_answer(skytune_rows: list[dict], mlflow_runs: list) -> None:
    """Both systems must return the same runs in the same order of val_acc max (ties may differ:
    skytune breaks them by run_id, the MLflow merge by MLflow's run id)."""
    ours = [(row["name"], row["metrics.val_acc.max"]) for row in skytune_rows]
    theirs = [(run.info.run_name, run.data.metrics["val_acc_max"]) for run in mlflow_runs]
    if sorted(ours) != sorted(theirs) or [v for _, v in ours] != [v for _, v in theirs]:
        raise AssertionError(f"skytune and MLflow disagree: {ours[:3]} vs {theirs[:3]} ({len(ours)} vs {len(theirs)} runs)")


def measure_size(skytune: SkytuneSide, mlflow: MlflowSide | None, experiment: str, repeats: int,
                 scan_repeats: int, scan: bool = True) -> dict:
    result: dict = {"index": skytune.build_index(experiment)}
    print(f"  index built: {result['index']}", file=sys.stderr, flush=True)
    cases = (("first page, cold", FIRST_PAGE, False, repeats, True), ("first page, warm", FIRST_PAGE, False, repeats, False),
             ("full scan, warm", SCAN_PAGE, True, scan_repeats, False))
    for label, limit, all_pages, reps, cold in cases if scan else cases[:2]:
        # The metered run is the first latency sample too (ReturnConsumedCapacity costs nothing to notice).
        started = time.perf_counter()
        ours_rows, capacity = skytune.metered_query(experiment, SKYTUNE_FILTER, SKYTUNE_ORDER, limit, all_pages, cold)
        ours, theirs = [time.perf_counter() - started], []
        entry = {"rows": len(ours_rows), "rcu": capacity["rcu"], "requests": capacity["requests"]}
        compare = mlflow is not None and not (label == "first page, warm")  # MLflow's figure: the cold row's
        if compare:
            started = time.perf_counter()
            same_answer(ours_rows, mlflow.query(experiment, MLFLOW_HALVES, MLFLOW_ORDER, "val_acc_max", limit, all_pages))
            theirs.append(time.perf_counter() - started)
        for _ in range(reps - 1):
            ours.append(timed(lambda: skytune.query(experiment, SKYTUNE_FILTER, SKYTUNE_ORDER, limit, all_pages, cold)))
            if compare:
                theirs.append(timed(lambda: mlflow.query(experiment, MLFLOW_HALVES, MLFLOW_ORDER, "val_acc_max", limit, all_pages)))
        entry["skytune_ms"] = percentiles(ours)
        entry["mlflow_ms"] = percentiles(theirs) if theirs else None
        entry["repeats"] = reps
        result[label] = entry
        print(f"  {label}: {entry}", file=sys.stderr, flush=True)
    result["first page, warm"]["mlflow_ms"] = result["first page, cold"]["mlflow_ms"]
    if PROFILE is not None:  # one more cold first page, under cProfile (after the timed ones)
        import cProfile

        cProfile.runctx("skytune.query(experiment, SKYTUNE_FILTER, SKYTUNE_ORDER, FIRST_PAGE, False, True)",
                        globals(), locals(), str(PROFILE))
    result["fold"] = skytune.fold_cost(experiment, 1000)
    print(f"  fold: {result['fold']}", file=sys.stderr, flush=True)
    return result


AT_FILTER = "metrics.val_loss.at(3) < 0.5"
AT_ORDER = "metrics.val_loss.at(3)"
AT_PAGE = 100


def measure_steps(skytune: SkytuneSide, size: int, repeats: int) -> dict:
    """A `.at(k)` filter and sort key over `size` runs with real series, every page of 100: the
    first page (a new container: every run's series is read) and the later pages (the same
    container: the first page's matches are kept, no series read again). MLflow has no
    step-indexed filter (its `metrics.x` is the latest value): skytune only."""
    from benchmarks.capacity import capacity_meter
    from skytune.index import search as indexed
    from skytune.tracking import run_search
    from skytune.tracking.records import SearchRequest

    experiment = f"steps-{size}"
    skytune.create_experiment(experiment)
    started = time.perf_counter()
    loaded = skytune.load_with_series(experiment, synthetic_runs(size, seed=2))
    result: dict = {"runs": size, "load_s": time.perf_counter() - started, "load_wcu": loaded["wcu"],
                    "index": skytune.build_index(experiment), "first": [], "later": [], "pages": 0}
    print(f"  steps: loaded and indexed: {result}", file=sys.stderr, flush=True)
    for repeat in range(repeats):
        from skytune.index import IndexStore

        index = IndexStore(skytune.repo)  # a new container each repeat
        indexed._results = indexed._Results()
        cursor, page = None, 0
        while True:
            request = SearchRequest(experiments=[experiment], filter=AT_FILTER, order_by=AT_ORDER, limit=AT_PAGE,
                                    cursor=cursor)
            with capacity_meter() as meter:
                began = time.perf_counter()
                _rows, _runs, cursor = run_search.search(skytune.repo, skytune.store_factory(), request, index)
                elapsed = time.perf_counter() - began
            (result["first"] if page == 0 else result["later"]).append(elapsed)
            if repeat == 0:
                result.setdefault("rcu", []).append(meter["rcu"])
            page += 1
            if cursor is None:
                break
        result["pages"] = page
    print(f"  steps: {result['pages']} pages, first {percentiles(result['first'])}, later {percentiles(result['later'])}",
          file=sys.stderr, flush=True)
    return result


def markdown(sizes, loads, results, matches, check_runs, or_refusal) -> str:
    lines = [f"Command: `.venv-bench/bin/python -m benchmarks.search.run {' '.join(sys.argv[1:])}`".rstrip(), ""]
    lines.append(f"Query: skytune `{SKYTUNE_FILTER}` ordered by `{SKYTUNE_ORDER}`; MLflow "
                 f"`{MLFLOW_HALVES[0]}` and `{MLFLOW_HALVES[1]}` (MLflow refuses OR: \"{or_refusal}\"), each ordered by "
                 f"`{MLFLOW_ORDER}`, merged on the client. Both return the same runs in the same order (checked).")
    lines.append("")
    lines.append(f"Bulk-loaded run items checked identical to the domain write path's on {check_runs} runs.")
    lines.append("")
    lines.append("| runs | matching runs | skytune load (s) | MLflow load (s) | index build (s) | index size (KB) | chunks | build WCU | build RCU |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        mlflow_load = f"{loads[size]['mlflow']:.0f}" if loads[size].get("mlflow") is not None else "-"
        built = results[size]["index"]
        lines.append(f"| {size:,} | {matches[size]:,} | {loads[size]['skytune']:.0f} | {mlflow_load} | {built['seconds']:.1f} | "
                     f"{built['bytes'] / 1024:,.0f} | {built['chunks']} | {built['wcu']:,.0f} | {built['rcu']:,.0f} |")
    lines.append("")
    lines.append("| runs | query | skytune p50 / p90 (ms) | MLflow p50 / p90 (ms) | skytune / MLflow (p50) | skytune RCU per query | DynamoDB requests | repeats |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        for label in ("first page, cold", "first page, warm", "full scan, warm"):
            entry = results[size].get(label)
            if entry is None:
                continue
            ours = "{:,.0f} / {:,.0f}".format(*entry["skytune_ms"])
            theirs = "{:,.0f} / {:,.0f}".format(*entry["mlflow_ms"]) if entry["mlflow_ms"] else "-"
            ratio = f"{entry['skytune_ms'][0] / entry['mlflow_ms'][0]:.2f}x" if entry["mlflow_ms"] else "-"
            lines.append(f"| {size:,} | {label} ({entry['rows']:,} rows) | {ours} | {theirs} | {ratio} | "
                         f"{entry['rcu']:,.1f} | {entry['requests']} | {entry['repeats']} |")
    lines.append("")
    lines.append("| runs | stream consumer: runs changed in one batch | seconds | WCU | RCU | WCU per run |")
    lines.append("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        for label in ("batch", "single"):
            fold = results[size]["fold"][label]
            lines.append(f"| {size:,} | {fold['runs']:,} | {fold['seconds']:.2f} | {fold['wcu']:,.0f} | {fold['rcu']:,.0f} | "
                         f"{fold['wcu'] / fold['runs']:,.1f} |")
    return "\n".join(lines) + "\n"


def _reproducible(argv: list[str]) -> list[str]:
    """The arguments that shape the figures (not where files are kept)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--mlflow-dir", "--data-dir", "--markdown"):
            skip = True
        else:
            out.append(arg)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="size compared with MLflow")
    parser.add_argument("--growth", default="1000,10000,30000", help="sizes measured on skytune (MLflow up to --runs)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 and 1,000 runs, 3 repeats: a smoke run")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--steps", type=int, default=0, help="also measure a .at(k) filter and sort over this many runs "
                        "with real series (every page)")
    parser.add_argument("--steps-repeats", type=int, default=2)
    parser.add_argument("--scan-max", type=int, default=30_000, help="measure the full scan up to this size")
    parser.add_argument("--data-dir", type=Path, help="DynamoDB Local's data folder (default: in memory). 100,000 runs "
                        "outgrow its in-memory heap: give a fresh folder on tmpfs")
    parser.add_argument("--mlflow-dir", type=Path, help="keep MLflow's SQLite databases here and reuse them in later runs "
                        "(its load of 10,000 runs takes minutes; the query is what is compared)")
    parser.add_argument("--profile", type=Path, help="cProfile one more cold first page at each size (stats to this file)")
    parser.add_argument("--json", type=Path, help="also write the first page's cost at the largest size here (for benchmarks.cost)")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.quick:
        args.runs, args.growth, args.repeats = 1000, "300,1000", 3
    sizes = sorted({args.runs, *(int(size) for size in args.growth.split(","))} - {0})

    # DynamoDB Local runs -inMemory; SQLite on tmpfs (when the machine has one) is its in-memory
    # counterpart, and keeps MLflow's per-commit fsyncs from dominating its load time.
    shm = Path("/dev/shm")
    kept = args.mlflow_dir is not None
    if kept:
        args.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow = MlflowSide(args.mlflow_dir if kept else Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None)))
    skytune = SkytuneSide(ROOT, args.data_dir)
    loads, results, matches = {}, {}, {}
    try:
        check_runs = check_bulk_matches_domain(skytune, synthetic_runs(20, seed=1))
        or_refusal = None
        for size in sizes:
            data = synthetic_runs(size)
            matches[size] = sum(run.params["optimizer"] == "adam" or run.summary("val_loss", "min") < 0.2 for run in data)
            experiment = f"runs-{size}"
            skytune.create_experiment(experiment)
            loads[size] = {"skytune": timed(lambda: skytune.load_bulk(experiment, data))}
            compared = size <= args.runs
            if compared:
                loads[size]["mlflow"] = timed(lambda: mlflow.load_bulk(experiment, data))
                or_refusal = or_refusal or mlflow.supports_or(experiment)
            print(f"{size:,} runs loaded: {loads[size]}", file=sys.stderr, flush=True)
            # Above --runs only skytune.
            results[size] = measure_size(skytune, mlflow if compared else None, experiment,
                                         args.repeats if compared else 5, args.repeats if compared else 1,
                                         scan=size <= args.scan_max)
            print(f"{size:,} runs measured: {results[size]}", file=sys.stderr, flush=True)
        if args.steps:
            steps = measure_steps(skytune, args.steps, args.steps_repeats)
    finally:
        skytune.stop()
        if not kept:
            shutil.rmtree(mlflow.folder, ignore_errors=True)  # tmpfs is memory
    text = markdown(sizes, loads, results, matches, check_runs, or_refusal)
    if args.steps:
        first, later = percentiles(steps["first"]), percentiles(steps["later"])
        text += (f"\n`.at(k)`: filter `{AT_FILTER}` ordered by `{AT_ORDER}`, {steps['runs']:,} runs with series "
                 f"(loaded through log-batch in {steps['load_s']:.0f} s), {steps['pages']} pages of {AT_PAGE}:\n\n"
                 "| runs | first page p50 / p90 (ms) | later pages p50 / p90 (ms) | RCU first page | RCU later pages (sum) | repeats |\n"
                 "|---:|---:|---:|---:|---:|---:|\n"
                 f"| {steps['runs']:,} | {first[0]:,.0f} / {first[1]:,.0f} | {later[0]:,.0f} / {later[1]:,.0f} | "
                 f"{steps['rcu'][0]:,.1f} | {sum(steps['rcu'][1:]):,.1f} | {len(steps['first'])} |\n")
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        largest = max(results)
        first_page = results[largest]["first page, cold"]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": f"python -m benchmarks.search.run {' '.join(_reproducible(sys.argv[1:]))}",
            "runs": largest, "query": f"{SKYTUNE_FILTER} ORDER BY {SKYTUNE_ORDER}",
            "rcu_first_page": first_page["rcu"], "seconds_first_page": first_page["skytune_ms"][0] / 1000,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
