"""What the index's series columns cost the stream consumer: runs with real series (loaded through
log-batch), each then logs one more `val_loss` point through log-batch (its own WCU: ingestion's),
and the consumer folds those runs (its WCU and RCU, apart), in one batch of `--changed` runs and
for one run alone, with the series columns and, for comparison, with an index that holds none
(`IndexStore(series=...)` reading nothing: round 3's consumer).

    .venv/bin/python -m benchmarks.search.series_fold [--runs 2000] [--changed 1000]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity import capacity_meter  # noqa: E402
from benchmarks.search.data import synthetic_runs  # noqa: E402
from benchmarks.search.skytune_side import NOW, SkytuneSide  # noqa: E402


def records(experiment: str, run_ids: list[str]) -> list[dict]:
    """Each run's record as the metrics table's stream delivers a commit (the consumer reads only
    which run changed)."""
    out = []
    for sequence, run_id in enumerate(run_ids):
        keys = {"pk": {"S": f"RUN#{run_id}#P"}, "sk": {"S": f"B#x#{sequence:08d}"}}
        out.append({"eventName": "INSERT", "dynamodb": {"Keys": keys, "NewImage": {**keys, "run_id": {"S": run_id}},
                                                          "SequenceNumber": str(sequence)}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--changed", type=int, default=1000)
    args = parser.parse_args()
    from skytune.index import IndexStore
    from skytune.index.consumer import apply
    from skytune.metrics import MetricStore
    from skytune.tracking import runs
    from skytune.tracking.records import LogBatch

    side = SkytuneSide(ROOT)
    result: dict = {"runs": args.runs}
    try:
        for label, series in (("series columns", None), ("no series columns", lambda run_id, metrics: {})):
            experiment = f"fold-{label.replace(' ', '-')}"
            side.create_experiment(experiment)
            side.load_with_series(experiment, synthetic_runs(args.runs, seed=3))
            index = IndexStore(side.repo, series=series)
            started = time.perf_counter()
            with capacity_meter() as meter:
                index.rebuild(experiment)
            entry = result[label] = {"rebuild_s": round(time.perf_counter() - started, 1), "rebuild_wcu": meter["wcu"],
                                     "rebuild_rcu": meter["rcu"]}
            run_ids = [record["run_id"] for _, record in zip(range(args.changed + 1), side.repo.iter_run_records(experiment))]
            local = threading.local()

            def log(pair):
                step, run_id = pair
                if not hasattr(local, "store"):
                    local.store = MetricStore(seed=step)
                point = {"name": "val_loss", "step": 100, "timestamp": 1_900_000_000_000, "value": 0.01 * (step % 50)}
                runs.log_batch(side.repo, local.store, run_id, LogBatch(metrics=[point]), now=NOW)

            with capacity_meter() as meter:
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(log, enumerate(run_ids)))
            entry["ingest_wcu_per_point"] = round(meter["wcu"] / len(run_ids), 3)
            for kind, ids in (("batch", run_ids[1:]), ("single", run_ids[:1])):
                started = time.perf_counter()
                with capacity_meter() as meter:
                    outcome = apply(index, side.repo, records(experiment, ids))
                assert not outcome.failed_sequences
                entry[kind] = {"runs": len(ids), "seconds": round(time.perf_counter() - started, 1), "wcu": meter["wcu"],
                               "rcu": meter["rcu"]}
            print(label, entry, file=sys.stderr, flush=True)
    finally:
        side.stop()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
