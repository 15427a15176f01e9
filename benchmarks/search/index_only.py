"""The experiment index at sizes whose run items take too long to load into DynamoDB Local here.

    .venv-bench/bin/python -m benchmarks.search.index_only --runs 100000 [--repeats 5] [--data-dir DIR]

With `--data-dir` DynamoDB Local keeps its tables in DIR, and a later run of the same size measures
the index written there again instead of rewriting it (writing took 232-519 s on the loaded machine).

Loading 100,000 runs (1.1 million run and summary items) ran at ~25 runs/s on the shared 2-core
machine (over an hour), so this writes the *index* of those runs only: the rows `IndexStore.rebuild`
computes from run records (`format.index_row` of the records `DynamoRepository.iter_run_records`
yields), written by the rebuild's own generation writer. First it proves the rows identical to a
real rebuild's on a sample (bulk-loaded run items, `rebuild`, every group decoded). Then the first
page of the benchmark query, with the columns the query reads (a projection: no run item is read,
so the figure is the index's part; a page shown with every column adds the page's own rows, which
do not depend on the experiment's size: measured at 10,000 runs by `benchmarks.search.run`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity import capacity_meter  # noqa: E402
from benchmarks.search.data import synthetic_runs  # noqa: E402
from benchmarks.search.run import SKYTUNE_FILTER, SKYTUNE_ORDER, percentiles  # noqa: E402
from benchmarks.search.skytune_side import NOW, SkytuneSide  # noqa: E402

COLUMNS = "name, params.optimizer, metrics.val_loss.min, metrics.val_acc.max"


def records(experiment: str, data, run_ids) -> list[dict]:
    """What `iter_run_records` yields for bulk-loaded runs (`SkytuneSide.load_bulk`'s items)."""
    from skytune.metrics.summary import Summary

    return [{"run_id": run_id, "name": run.name, "experiment": experiment, "status": "Completed", "trials": [],
             "parent": None, "source": None, "created_at": NOW, "start_time": NOW, "end_time": NOW,
             "params": dict(run.params), "tags": {},
             "metric_summaries": {metric: Summary.of((value, step, ts) for step, ts, value in series).to_json()
                                  for metric, series in run.series.items()}}
            for run, run_id in zip(data, run_ids)]


def check_rows_match_rebuild(side: SkytuneSide, count: int = 200) -> int:
    from skytune.index import format as fmt

    experiment = "index-only-check"
    side.create_experiment(experiment)
    data = synthetic_runs(count, seed=3)
    side.load_bulk(experiment, data)
    side.index.rebuild(experiment)
    rebuilt = {}
    for chunk in side.index.snapshot(experiment).chunks:
        rebuilt.update(chunk.rows())
    ours = {row["id"]: row for row in (fmt.index_row(record, side.index.summaries)
                                       for record in records(experiment, data, side.run_ids(experiment, count)))}
    ours = fmt_roundtrip(ours)
    if ours != rebuilt:
        different = [run_id for run_id in ours if ours[run_id] != rebuilt.get(run_id)]
        raise AssertionError(f"computed index rows differ from the rebuild's for {different[:3]}")
    return count


def fmt_roundtrip(rows: dict) -> dict:
    """Rows through encode -> decode (JSON keeps what the index keeps: e.g. tuples become lists)."""
    from skytune.index import format as fmt

    blobs = fmt.encode(list(rows.values()))
    chunk = fmt.Chunk(fmt.decode_group(blobs["a"]), blobs)
    for group in set(blobs) - {"a"}:
        chunk.add(group, fmt.decode_group(blobs[group]))
    return chunk.rows()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="DynamoDB Local's data folder (default: in memory): an index "
                        "written there by an earlier run of the same size is measured again without rewriting it")
    parser.add_argument("--profile", type=Path, help="also profile one cold first page (cProfile stats to this file)")
    args = parser.parse_args()
    from skytune.index import IndexStore
    from skytune.index import format as fmt
    from skytune.index import search as indexed
    from skytune.index.items import IndexChunkItem, index_pk
    from skytune.tracking import run_search
    from skytune.tracking.records import SearchRequest

    side = SkytuneSide(ROOT, args.data_dir)
    try:
        experiment = f"index-only-{args.runs}"
        kept = args.data_dir is not None and side.index._manifest(experiment, consistent=True) is not None
        if kept:
            checked, written, build_wcu = "an earlier run (kept)", float("nan"), float("nan")
        else:
            checked = check_rows_match_rebuild(side)
            print(f"computed rows identical to a rebuild's on {checked} runs", file=sys.stderr, flush=True)
            side.create_experiment(experiment)
            started = time.perf_counter()
            data = synthetic_runs(args.runs)
            rows = [fmt.index_row(record, side.index.summaries) for record in records(experiment, data, side.run_ids(experiment, args.runs))]
            del data
            prepared = time.perf_counter() - started
            started = time.perf_counter()
            with capacity_meter() as meter, side.index._locked(experiment):
                side.index._write_generation(experiment, None, rows)
            written = time.perf_counter() - started
            build_wcu = meter["wcu"]
            del rows
        items = list(IndexChunkItem.query(index_pk(experiment), IndexChunkItem.sk.startswith("G")))
        size = sum(len(item.blob) for item in items)
        print(f"index of {args.runs:,} runs written in {written:.0f} s ({build_wcu:,.0f} WCU), {len(items):,} items, "
              f"{size / 1024:,.0f} KB", file=sys.stderr, flush=True)
        request = SearchRequest(experiments=[experiment], filter=SKYTUNE_FILTER, order_by=SKYTUNE_ORDER, columns=COLUMNS,
                                limit=100)
        results = {}
        warm = IndexStore(side.repo)
        for label in ("cold", "warm"):
            seconds, rcu = [], []
            for _ in range(args.repeats):
                index = IndexStore(side.repo) if label == "cold" else warm
                indexed._results = indexed._Results()  # evaluated afresh every time
                with capacity_meter() as meter:
                    began = time.perf_counter()
                    page, _runs, _cursor = run_search.search(side.repo, side.store_factory(), request, index)
                    seconds.append(time.perf_counter() - began)
                rcu.append(meter["rcu"])
                assert len(page) == 100
            results[label] = (percentiles(seconds), statistics.median(rcu), rcu[0])
            if args.profile and label == "cold":
                import cProfile

                indexed._results = indexed._Results()
                cProfile.runctx("run_search.search(side.repo, side.store_factory(), request, IndexStore(side.repo))",
                                globals(), locals(), str(args.profile))
            print(f"first page, {label}: {results[label]}", file=sys.stderr, flush=True)
    finally:
        side.stop()
    print(f"Command: `.venv-bench/bin/python -m benchmarks.search.index_only {' '.join(sys.argv[1:])}`\n")
    print(f"Index of {args.runs:,} runs: {size / 1024:,.0f} KB in {len(items):,} group items, written in {written:.0f} s "
          f"for {build_wcu:,.0f} WCU (rows identical to a rebuild's on {checked} runs).")
    print("\n| runs | first page (100 rows, query's columns) | p50 / p90 (ms) | RCU (median; first) | repeats |")
    print("|---:|---|---:|---:|---:|")
    for label, ((p50, p90), rcu, first) in results.items():
        print(f"| {args.runs:,} | {label} container | {p50:,.0f} / {p90:,.0f} | {rcu:,.1f}; {first:,.1f} | {args.repeats} |")


if __name__ == "__main__":
    main()
