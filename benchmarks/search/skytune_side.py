"""skytune on DynamoDB Local: loading through the domain write path, searching through the search
use case (`tracking.run_search.search`, what the API route calls), capacity from ConsumedCapacity."""
from __future__ import annotations

import importlib.util
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.capacity import capacity_meter
from benchmarks.search.data import SyntheticRun
from skytune.local.runtime import LocalStack
from skytune.local.synth import synthesise
from skytune.local.template import stack_name
from skytune.tracking import experiments, run_search, runs
from skytune.tracking.ids import new_ulid
from skytune.tracking.records import ExperimentInput, LogBatch, RunInput, RunStatus, SearchRequest


def synthesised_assembly(root: Path) -> Path:
    """The stack template, synthesised into a temporary folder. The CDK app needs aws-cdk-lib, which
    the bench venv (the MLflow peer's) does not carry: then the project venv (`make install`)
    synthesises, with the same `synthesise` function."""
    out_dir = root / "build" / "bench-cdk.out"  # one folder, overwritten: a temp folder per run leaked 100 MB each
    if importlib.util.find_spec("aws_cdk") is not None:
        return synthesise(root, out_dir, "bench")
    project_python = root / ".venv" / "bin" / "python"
    code = "import sys; from pathlib import Path; from skytune.local.synth import synthesise; " \
           "synthesise(Path(sys.argv[1]), Path(sys.argv[2]), 'bench')"
    subprocess.run([str(project_python), "-c", code, str(root), str(out_dir)], check=True, cwd=root)
    return out_dir


NOW = datetime(2027, 1, 15, tzinfo=timezone.utc)


def check_bulk_matches_domain(side: "SkytuneSide", data: list[SyntheticRun]) -> int:
    """Load `data` both ways into two scratch experiments and require identical run items.
    Returns the number of runs compared."""
    side.create_experiment("check-domain")
    side.create_experiment("check-bulk")
    side.load_domain("check-domain", data)
    side.load_bulk("check-bulk", data)
    domain, bulk = side.raw_run_items("check-domain"), side.raw_run_items("check-bulk")
    if domain != bulk:
        different = sorted(name for name in domain.keys() | bulk.keys() if domain.get(name) != bulk.get(name))
        raise AssertionError(f"bulk-loaded run items differ from the domain path's for {different[:5]}")
    return len(domain)


class SkytuneSide:
    def __init__(self, root: Path, data_dir: Path | None = None) -> None:
        assembly = synthesised_assembly(root)
        # No stream polling: the bench builds each index once after its bulk load (`build_index`) and
        # measures the stream consumer's folds on its own (`fold_cost`).
        self.stack = LocalStack(assembly_dir=assembly, stack_name=stack_name("bench"), data_dir=data_dir,
                                tuning_enabled=False, streams_enabled=False).start()
        from skytune import storage
        from skytune.metrics import MetricStore
        from skytune.settings import Settings
        from skytune.storage.repository import DynamoRepository

        environment = next(f.environment for f in self.stack.functions.specs.values() if "TRACKING_TABLE" in f.environment)
        index_table = next(f.environment["INDEX_TABLE"] for f in self.stack.functions.specs.values()
                           if "INDEX_TABLE" in f.environment)
        storage.bind(Settings.model_validate({**environment, "INDEX_TABLE": index_table}))
        self.repo = DynamoRepository()
        self.store_factory = MetricStore
        from skytune.index import IndexStore

        self.index = IndexStore(self.repo)  # a warm API container's: decoded chunks kept between queries

    def stop(self) -> None:
        self.stack.stop()

    # -- loading -------------------------------------------------------------------------
    def create_experiment(self, experiment: str) -> None:
        experiments.create_experiment(self.repo, ExperimentInput(name=experiment))

    @staticmethod
    def run_ids(experiment: str, count: int) -> list[str]:
        """ULIDs from a seeded generator, so the order of ties (by run_id) is reproducible."""
        ids = random.Random(experiment)
        return [new_ulid(1_800_000_000_000 + i, ids.randbytes(10)) for i in range(count)]

    def load_domain(self, experiment: str, data: list[SyntheticRun], threads: int = 4) -> dict:
        """The domain write path: per run, create_run (params included; one transaction with the
        name claim) then log_batch with its 10 series (one metric-store transaction writing the
        segments and the summaries). About 0.1-0.6 s a run on DynamoDB Local here: too slow for
        10,000 runs, so it loads a sample that `load_bulk` is checked against."""
        run_ids = self.run_ids(experiment, len(data))
        local = threading.local()  # a MetricStore per thread: each one opens its own client

        def load_one(index: int) -> None:
            run = data[index]
            created = runs.create_run(self.repo, RunInput(experiment=experiment, name=run.name, params=run.params,
                                                          status=RunStatus.COMPLETED, start_time=NOW, end_time=NOW),
                                      now=NOW, new_id=lambda: run_ids[index])
            points = [{"name": metric, "step": step, "timestamp": ts, "value": value}
                      for metric, series in run.series.items() for step, ts, value in series]
            if not hasattr(local, "store"):
                local.store = self.store_factory(seed=index)
            runs.log_batch(self.repo, local.store, created.run_id, LogBatch(metrics=points), now=NOW)

        with capacity_meter() as meter:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(load_one, range(len(data))))
        return {"wcu": meter["wcu"], "requests": dict(meter["requests"])}

    def load_bulk(self, experiment: str, data: list[SyntheticRun], threads: int = 4, slice_runs: int = 500) -> dict:
        """The items the domain path leaves behind, written with BatchWriteItem: the run item (as
        `DynamoRepository.insert_run` builds it, plus the summaries `MetricStore` computes with the
        same `Summary` class) and the run's name claim. The series segments are left out: this
        search never reads them. `check_bulk_matches_domain` proves the run items identical.
        Slices of runs are written on `threads` threads (100,000 runs: 1.1 million items)."""
        run_ids = self.run_ids(experiment, len(data))
        slices = [(data[start:start + slice_runs], run_ids[start:start + slice_runs])
                  for start in range(0, len(data), slice_runs)]
        with capacity_meter() as meter:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda part: self._write_bulk(experiment, *part), slices))
        return {"wcu": meter["wcu"], "requests": dict(meter["requests"])}

    def load_with_series(self, experiment: str, data: list[SyntheticRun], threads: int = 8) -> dict:
        """For `.at(k)` queries, which read series: the run items bulk-written as `load_bulk` does
        (without summaries), then every run's points through the domain's log-batch (`runs.log_batch`:
        the metric store writes the segments and the summaries), on threads."""
        from skytune.metrics import MetricStore

        run_ids = self.run_ids(experiment, len(data))
        slices = [(data[start:start + 500], run_ids[start:start + 500]) for start in range(0, len(data), 500)]

        local = threading.local()  # a MetricStore per thread: each one opens its own client

        def log(index: int) -> None:
            run = data[index]
            points = [{"name": metric, "step": step, "timestamp": ts, "value": value}
                      for metric, series in run.series.items() for step, ts, value in series]
            if not hasattr(local, "store"):
                local.store = MetricStore(seed=index)
            runs.log_batch(self.repo, local.store, run_ids[index], LogBatch(metrics=points), now=NOW)

        with capacity_meter() as meter:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda part: self._write_bulk(experiment, *part, summaries=False), slices))
                list(pool.map(log, range(len(data))))
        return {"wcu": meter["wcu"], "requests": dict(meter["requests"])}

    @staticmethod
    def _write_bulk(experiment: str, data: list[SyntheticRun], run_ids: list[str], summaries: bool = True) -> None:
        from skytune.metrics.items import MetricSummaryItem
        from skytune.metrics.summary import Summary
        from skytune.storage.items import RunItem, RunNameItem

        with RunItem.batch_write() as runs_batch, RunNameItem.batch_write() as names_batch, \
                MetricSummaryItem.batch_write() as summaries_batch:
            for run, run_id in zip(data, run_ids):
                runs_batch.save(RunItem(
                    *RunItem.key(run_id), gsi1pk=RunItem.listing_key(experiment), gsi1sk=run_id, run_id=run_id,
                    experiment=experiment, name=run.name, trials=None, parent=None, status=RunStatus.COMPLETED.value,
                    start_time=NOW, end_time=NOW, source=None, client_token=None, params=dict(run.params), tags={},
                    inputs=[], outputs=[], created_at=NOW, updated_at=NOW,
                ))
                names_batch.save(RunNameItem(*RunNameItem.key(experiment, run.name), run_id=run_id))
                for metric, series in run.series.items() if summaries else ():  # the metric store's summary items
                    summaries_batch.save(MetricSummaryItem(
                        MetricSummaryItem.partition(run_id), metric, run_id=run_id, experiment=experiment,
                        metric=metric, version=1,
                        summary=Summary.of((value, step, ts) for step, ts, value in series).to_json()))

    def raw_run_items(self, experiment: str) -> dict[str, dict]:
        """run name -> the stored run item (DynamoDB JSON) without the attributes that name the
        experiment or the run id."""
        from skytune.metrics.items import MetricSummaryItem
        from skytune.storage.items import RunItem

        client = self.stack.dynamodb_client()
        items, key = {}, None
        while True:
            extra = {"ExclusiveStartKey": key} if key else {}
            page = client.query(TableName=RunItem.Meta.table_name, IndexName="gsi1",
                                KeyConditionExpression="gsi1pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": RunItem.listing_key(experiment)}}, **extra)
            for item in page["Items"]:
                items[item["name"]["S"]] = {k: v for k, v in item.items()
                                            if k not in ("pk", "gsi1pk", "gsi1sk", "run_id", "experiment")}
            key = page.get("LastEvaluatedKey")
            if not key:
                return items

    # -- the index -----------------------------------------------------------------------
    def build_index(self, experiment: str) -> dict:
        """Build the experiment's index from its run items (what `skytune reindex` does)."""
        from skytune.index.items import IndexChunkItem, index_pk

        started = time.perf_counter()
        with capacity_meter() as meter:
            self.index.rebuild(experiment)
        seconds = time.perf_counter() - started
        chunks = [item for item in IndexChunkItem.query(index_pk(experiment), IndexChunkItem.sk.startswith("G"))]
        return {"seconds": seconds, "wcu": meter["wcu"], "rcu": meter["rcu"], "chunks": len(chunks),
                "bytes": sum(len(item.blob) for item in chunks)}

    def fold_cost(self, experiment: str, runs_changed: int) -> dict:
        """The stream consumer's cost for `runs_changed` changed runs in one Lambda batch (each run's
        record as the tracking table's stream delivers it), and for one changed run alone. Each run
        changes as a log batch changes it: its `val_loss` summary gets one more point."""
        from skytune.index.consumer import apply
        from skytune.metrics.summary import Summary
        from skytune.metrics.items import MetricSummaryItem

        records = [record for _, record in zip(range(runs_changed), self.repo.iter_run_records(experiment))]
        for record in records:
            summary = Summary.from_json(record["metric_summaries"]["val_loss"])
            summary.add(0.05, summary.next_step, 1_900_000_000_000)
            MetricSummaryItem(MetricSummaryItem.partition(record["run_id"]), "val_loss").update(
                actions=[MetricSummaryItem.summary.set(summary.to_json()), MetricSummaryItem.version.add(1)])
        run_ids = [record["run_id"] for record in records]

        def record(run_id: str, sequence: int) -> dict:
            keys = {"pk": {"S": MetricSummaryItem.partition(run_id)}, "sk": {"S": "val_loss"}}  # the summary item's record
            image = {**keys, "run_id": {"S": run_id}, "experiment": {"S": experiment}}
            return {"eventName": "MODIFY", "dynamodb": {"Keys": keys, "NewImage": image, "OldImage": image,
                                                         "SequenceNumber": str(sequence)}}

        result = {}
        for label, ids in (("batch", run_ids[1:]), ("single", run_ids[:1])):
            started = time.perf_counter()
            with capacity_meter() as meter:
                outcome = apply(self.index, self.repo, [record(run_id, i) for i, run_id in enumerate(ids)])
            assert not outcome.failed_sequences
            result[label] = {"runs": len(ids), "seconds": time.perf_counter() - started, "wcu": meter["wcu"],
                             "rcu": meter["rcu"]}
        return result

    # -- searching -----------------------------------------------------------------------
    def query(self, experiment: str, filter_text: str, order_by: str, limit: int, all_pages: bool,
              cold: bool = False) -> list[dict]:
        """Through the index. `cold`: a new container (nothing decoded yet); otherwise decoded
        chunks are kept, but each query is evaluated afresh (its first page is never a cached result)."""
        from skytune.index import IndexStore
        from skytune.index import search as indexed

        index = IndexStore(self.repo) if cold else self.index
        indexed._results = indexed._Results()
        rows, cursor = [], None
        while True:
            request = SearchRequest(experiments=[experiment], filter=filter_text, order_by=order_by, limit=limit, cursor=cursor)
            page, _runs, cursor = run_search.search(self.repo, self.store_factory(), request, index)
            rows.extend(page)
            if not all_pages or cursor is None:
                return rows

    def scan_query(self, experiment: str, filter_text: str, order_by: str, limit: int) -> list[dict]:
        """The first page without the index (a Query of every run item): the round-1 path."""
        request = SearchRequest(experiments=[experiment], filter=filter_text, order_by=order_by, limit=limit)
        return run_search.search(self.repo, self.store_factory(), request)[0]

    def candidates_capacity(self, experiment: str) -> float:
        """RCU of reading every run item of the experiment (the Query under every search page)."""
        with capacity_meter() as meter:
            for _record in self.repo.iter_run_records(experiment):
                pass
        return meter["rcu"]

    def metered_query(self, *args, **kwargs) -> tuple[list[dict], dict]:
        with capacity_meter() as meter:
            rows = self.query(*args, **kwargs)
        return rows, {"rcu": meter["rcu"], "requests": sum(meter["requests"].values())}
