"""Reading and writing experiment indexes (items: skytune.index.items; chunks: skytune.index.format).

Writers of the index are the stream consumer (`fold`: the runs that changed) and `rebuild` (all runs
of an experiment, from the tracking table). Both hold the experiment's lock item, so folds of one
experiment never interleave, and both read the runs *after* taking it, through the repository's
read path (consistent reads), so the newest fold always writes the newest state: replayed or
out-of-order stream records cannot roll a run back.

Readers (`snapshot`) read the manifest (one consistent GetItem) and then only the chunks whose
version differs from the ones decoded earlier in this process; a warm container answers a query on
an unchanged index for 1 RCU. A chunk that is missing, fails its checksum or does not decode makes
the reader rebuild the experiment's index before answering: never a silently wrong answer.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from skytune.errors import Conflict
from skytune.index import format as fmt
from skytune.index import rows as row_format
from skytune.index import series as sv
from skytune.index.items import (
    LOCK_SK,
    MANIFEST_SK,
    ROW_PREFIX,
    IndexChunkItem,
    IndexLockItem,
    IndexManifestItem,
    IndexRowItem,
    chunk_sk,
    index_pk,
    row_sk,
)
from skytune.threads import on_threads as _on_threads

log = logging.getLogger(__name__)

#: A bucket's largest column group aims below this; past SPLIT_BYTES the experiment's buckets double.
#: Small groups keep a fold's write cost low (a fold rewrites the groups whose content changed:
#: 1 WCU per KB), big ones keep reads efficient (a read is charged per 4 KB of each item);
#: DynamoDB's item limit (400 KB) is far above both.
TARGET_BYTES = 8 * 1024  # of a bucket's largest column group
SPLIT_BYTES = 16 * 1024
LOCK_SECONDS = 120  # longer than the consumer's timeout: a crashed holder's lock expires, a live one's never does
_BATCH_GET_MAX = 100


class IndexBusy(Conflict):
    """Another writer holds the experiment's index lock for longer than we waited."""


def bucket_of(run_id: str, buckets: int) -> int:
    return fmt.checksum(run_id.encode()) % buckets


@dataclass(frozen=True)
class ExperimentSnapshot:
    experiment: str
    build: str
    version: int
    chunks: tuple[fmt.Chunk, ...]
    gen: int = 0

    @property
    def token(self) -> tuple[str, str, int]:
        return (self.experiment, self.build, self.version)

    def runs(self) -> Iterable[fmt.IndexedRun]:
        for chunk in self.chunks:
            yield from chunk.runs


@dataclass
class FoldStats:
    upserted: int = 0
    removed: int = 0
    chunks_written: int = 0
    rebuilt: bool = False


class _Cached:
    __slots__ = ("build", "chunks")

    def __init__(self, build: str) -> None:
        self.build = build
        self.chunks: dict[int, tuple[int, fmt.Chunk]] = {}


class IndexStore:
    """`repo`: a tracking repository (`run_records(ids, consistent=True)`, `iter_run_records(exp)`,
    `get_experiment(name)`); `summaries`: stored metric summary -> public statistics; `series`:
    (run_id, metrics) -> metric -> (steps, values), read consistently (the series columns,
    skytune.index.series; default: the metric store's `run_series`)."""

    def __init__(self, repo, summaries: Callable[[Any], dict] | None = None,
                 series: Callable[[str, list[str]], dict] | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 lock_wait_s: float = 20.0) -> None:
        if summaries is None:
            from skytune.metrics import public_summary as summaries
        if series is None:
            def series(run_id: str, metrics: list[str]) -> dict:
                from skytune.metrics import MetricStore

                return MetricStore().run_series(run_id, metrics)
        self.repo = repo
        self.summaries = summaries
        self.series = series
        self.clock = clock
        self.sleep = sleep
        self.lock_wait_s = lock_wait_s
        self._cache: dict[str, _Cached] = {}
        self._cache_lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------
    def snapshot(self, experiment: str, groups: frozenset[str] | None = None) -> ExperimentSnapshot:
        """The experiment's index, decoded (the column `groups` given, None: all); built first
        when missing, rebuilt when corrupt."""
        for _attempt in range(3):
            manifest = self._manifest(experiment, consistent=True)
            if manifest is None:
                log.warning("index of experiment %r missing: building it", experiment)
                self.rebuild(experiment)
                continue
            try:
                return self._load(experiment, manifest, groups)
            except _Moved:
                continue  # a rebuild or split switched generations while we read: read again
            except fmt.ChunkCorrupt as error:
                log.error("index of experiment %r corrupt (%s): rebuilding it", experiment, error)
                self.rebuild(experiment)
        raise IndexBusy(f"the index of experiment {experiment!r} kept changing while being read; retry",
                        field="experiments")

    def _load(self, experiment: str, manifest: IndexManifestItem, groups: frozenset[str] | None) -> ExperimentSnapshot:
        gen, buckets = int(manifest.gen), int(manifest.buckets)
        versions = {int(bucket): int(version) for bucket, version in _plain(manifest.chunks).items()}
        with self._cache_lock:
            cached = self._cache.get(experiment)
            if cached is None or cached.build != manifest.build:
                cached = self._cache[experiment] = _Cached(manifest.build)
            have = dict(cached.chunks)
        fresh = self._read_chunks(experiment, gen, range(buckets), versions, groups, have, int(manifest.version))
        with self._cache_lock:
            cached.chunks.update(fresh)
            have.update(fresh)
        chunks = tuple(have[b][1] for b in range(buckets))
        return ExperimentSnapshot(experiment, manifest.build, int(manifest.version), chunks, gen)

    def _read_chunks(self, experiment: str, gen: int, buckets: Iterable[int], versions: dict[int, int],
                     groups: frozenset[str] | None, have: dict[int, tuple[int, fmt.Chunk]] | None = None,
                     seen: int = -1) -> dict[int, tuple[int, fmt.Chunk]]:
        """The chunks of `buckets` with (at least) `groups` loaded, reusing `have` where its
        version is current. Returns the chunks read or extended."""
        have = have or {}
        stale = [b for b in buckets if b not in have or have[b][0] < versions.get(b, 0)]
        out: dict[int, tuple[int, fmt.Chunk]] = {}
        expected = {(b, "a"): versions.get(b, 0) for b in stale}
        for key, item in self._get_items(experiment, gen, expected).items():
            chunk = fmt.Chunk(fmt.decode_group(item.blob, int(item.crc)))
            out[key[0]] = (int(item.version), chunk)
        current = {**{b: have[b] for b in buckets if b in have and b not in out}, **out}
        wanted = {(b, group): chunk.present[group] for b, (_version, chunk) in current.items()
                  for group in sorted(fmt.select_groups(groups, chunk.present) - chunk.loaded)}
        for (b, group), item in self._get_items(experiment, gen, wanted, exact=True, seen=seen).items():
            current[b][1].add(group, fmt.decode_group(item.blob, int(item.crc)))
            out[b] = current[b]
        return out

    def complete(self, snapshot: ExperimentSnapshot, chunks: Iterable[fmt.Chunk]) -> bool:
        """Load every column group of these chunks of `snapshot` (the versions it was read at).
        False when the index changed meanwhile (the caller reads the runs elsewhere)."""
        wanted = {(b, group): chunk.present[group] for b, chunk in enumerate(snapshot.chunks) if chunk in chunks
                  for group in sorted(fmt.row_groups(chunk.present) - chunk.loaded)}
        try:
            items = self._get_items(snapshot.experiment, snapshot.gen, wanted, exact=True, seen=snapshot.version)
            for (b, group), item in items.items():
                snapshot.chunks[b].add(group, fmt.decode_group(item.blob, int(item.crc)))
        except (_Moved, fmt.ChunkCorrupt):
            return False
        return True

    def _get_items(self, experiment: str, gen: int, expected: dict[tuple[int, str], int],
                   exact: bool = False, seen: int = -1) -> dict[tuple[int, str], IndexChunkItem]:
        """BatchGet (eventually consistent: half the RCU) of chunk group items {(bucket, group):
        version}; an item older than expected is read again consistently; a missing one (or, when
        `exact`, one of another version) is a corrupt index, or a concurrent rewrite (`_Moved`)."""
        pk = index_pk(experiment)
        keys = list(expected)
        found: dict[tuple[int, str], IndexChunkItem] = {}
        batches = [[(pk, chunk_sk(gen, b, group)) for b, group in keys[start:start + _BATCH_GET_MAX]]
                   for start in range(0, len(keys), _BATCH_GET_MAX)]
        for items in _on_threads(lambda batch: list(IndexChunkItem.batch_get(batch)), batches):
            for item in items:
                found[(int(item.bucket), item.group)] = item
        for key in keys:
            item = found.get(key)
            if item is None or int(item.version) < expected[key]:
                try:
                    found[key] = IndexChunkItem.get(pk, chunk_sk(gen, *key), consistent_read=True)
                except IndexChunkItem.DoesNotExist:
                    found.pop(key, None)
        missing = [key for key in keys if key not in found or (exact and int(found[key].version) != expected[key])]
        if missing:
            current = self._manifest(experiment, consistent=True)
            if current is None or int(current.gen) != gen or (exact and int(current.version) != seen):
                raise _Moved()
            raise fmt.ChunkCorrupt(f"chunk groups {missing[:5]} of generation {gen} are missing or inconsistent")
        return found

    def records(self, runs: Sequence[tuple[str, str]]) -> dict[str, dict]:
        """run_id -> record (`repo.run_records`' shape) of these (experiment, run_id) from the
        index's row items (skytune.index.rows): one BatchGetItem per 100, eventually consistent. Runs
        without a stored row, or whose row does not decode, are left out (read them from the tables)."""
        keys = [(index_pk(experiment), row_sk(run_id)) for experiment, run_id in dict.fromkeys(runs)]
        batches = [keys[start:start + _BATCH_GET_MAX] for start in range(0, len(keys), _BATCH_GET_MAX)]
        found: dict[str, dict] = {}
        for items in _on_threads(lambda batch: list(IndexRowItem.batch_get(batch)), batches):
            for item in items:
                blob = bytes(item.blob)
                record = row_format.decode(blob) if fmt.checksum(blob) == int(item.crc) else None
                if record is not None and index_pk(record.get("experiment", "")) == item.pk \
                        and row_sk(record.get("run_id", "")) == item.sk:
                    found[record["run_id"]] = record
                else:
                    log.error("index row %s of %s does not decode: reading the run from the tables", item.sk, item.pk)
        return found

    def _write_rows(self, experiment: str, records: Sequence[dict], removed: Iterable[str] = ()) -> None:
        """Store the rows of these records (the runs of `experiment`); delete those of `removed`
        and of any record whose row cannot be stored (so no older row of it is ever read)."""
        pk = index_pk(experiment)
        with IndexRowItem.batch_write() as batch:
            for record in records:
                blob = row_format.encode(record)
                if blob is None:
                    batch.delete(IndexRowItem(pk, row_sk(record["run_id"])))
                else:
                    batch.save(IndexRowItem(pk, row_sk(record["run_id"]), crc=fmt.checksum(blob), blob=blob))
            for run_id in removed:
                batch.delete(IndexRowItem(pk, row_sk(run_id)))

    def _row_ids(self, experiment: str) -> list[str]:
        """The run ids of the experiment's row items (keys only)."""
        return [item.sk[len(ROW_PREFIX):] for item in IndexRowItem.query(
            index_pk(experiment), IndexRowItem.sk.startswith(ROW_PREFIX), attributes_to_get=["pk", "sk"])]

    def run_count(self, experiment: str) -> int | None:
        """How many runs the experiment's index holds (its manifest's count, kept by every fold and
        rebuild: one eventually consistent read); None when it has no index yet."""
        manifest = self._manifest(experiment, consistent=False)
        return None if manifest is None else int(manifest.runs or 0)

    def _manifest(self, experiment: str, consistent: bool) -> IndexManifestItem | None:
        try:
            return IndexManifestItem.get(index_pk(experiment), MANIFEST_SK, consistent_read=consistent)
        except IndexManifestItem.DoesNotExist:
            return None

    # -- writing ------------------------------------------------------------------------------
    def fold(self, experiment: str, run_ids: Iterable[str]) -> FoldStats:
        """Bring the index of `experiment` up to date for these runs: each is re-read and upserted,
        or removed when it no longer exists in that experiment."""
        run_ids = sorted(set(run_ids))
        with self._locked(experiment):
            manifest = self._manifest(experiment, consistent=True)
            if manifest is None:
                if self.repo.get_experiment(experiment) is None:
                    return FoldStats()  # deleted experiment: nothing to index
                return self._rebuild_locked(experiment, None)
            records = {r["run_id"]: r for r in self.repo.run_records(run_ids, consistent=True)}
            gen, buckets = int(manifest.gen), int(manifest.buckets)
            by_bucket: dict[int, list[str]] = {}
            for run_id in run_ids:
                by_bucket.setdefault(bucket_of(run_id, buckets), []).append(run_id)
            versions = {int(b): int(v) for b, v in _plain(manifest.chunks).items()}
            try:
                current = self._read_chunks(experiment, gen, sorted(by_bucket), versions, None, None, int(manifest.version))
            except (fmt.ChunkCorrupt, _Moved):
                return self._rebuild_locked(experiment, manifest)
            stats, changed, delta = FoldStats(), {}, 0
            mine = [record for record in records.values() if record["experiment"] == experiment]
            fresh = {row["id"]: row for row in self._rows(mine)}
            for bucket, ids in by_bucket.items():
                version, chunk = current[bucket]
                rows = chunk.rows()
                before = len(rows)
                for run_id in ids:
                    record = records.get(run_id)
                    if record is not None and record["experiment"] == experiment:
                        rows[run_id] = fresh[run_id]
                        stats.upserted += 1
                    elif rows.pop(run_id, None) is not None:
                        stats.removed += 1
                delta += len(rows) - before
                old = fmt.encode(chunk.rows().values())
                changed[bucket] = (version + 1, list(rows.values()), fmt.encode(rows.values()), old)
            # The rows first: a reader that sees the new chunks then finds rows at least as new.
            self._write_rows(experiment, mine, [run_id for run_id in run_ids if run_id not in fresh])
            if any(fmt.splits(blobs) > SPLIT_BYTES for _v, _rows, blobs, _old in changed.values()):
                return self._split_locked(experiment, manifest, changed)
            with IndexChunkItem.batch_write() as batch:
                for bucket, (version, rows, blobs, old) in changed.items():
                    # Only the groups whose bytes changed, plus "a" (it carries the bucket's version);
                    # the others keep their version, which readers accept as current (<=).
                    rewritten = {g: blob for g, blob in blobs.items() if g == "a" or old.get(g) != blob}
                    kept = current[bucket][1].present
                    present = {g: version if g in rewritten else kept[g] for g in blobs}
                    for item in _chunk_items(experiment, gen, bucket, version, rows, rewritten, present):
                        batch.save(item)
                        stats.chunks_written += 1
                    for group in set(old) - set(blobs):  # e.g. the last run with a tag left the bucket
                        batch.delete(IndexChunkItem(index_pk(experiment), chunk_sk(gen, bucket, group)))
            chunk_versions = _plain(manifest.chunks)
            chunk_versions.update({str(bucket): version for bucket, (version, *_rest) in changed.items()})
            IndexManifestItem(index_pk(experiment), MANIFEST_SK, gen=gen, build=manifest.build, buckets=buckets,
                              version=int(manifest.version) + 1, runs=int(manifest.runs or 0) + delta,
                              chunks=chunk_versions).save()  # we hold the lock: a plain put
            return stats

    def rebuild(self, experiment: str) -> FoldStats:
        """Rebuild the experiment's index from the tracking table (a new generation of chunks)."""
        with self._locked(experiment):
            return self._rebuild_locked(experiment, self._manifest(experiment, consistent=True))

    def remove_experiment(self, experiment: str) -> int:
        """The experiment was deleted: delete its index."""
        with self._locked(experiment):
            return self.drop(experiment)

    def drop(self, experiment: str) -> int:
        """Delete the experiment's index (its experiment was deleted). Returns items deleted."""
        deleted = 0
        with IndexChunkItem.batch_write() as batch:
            for item in IndexChunkItem.query(index_pk(experiment), IndexChunkItem.sk.startswith("G")):
                batch.delete(item)
                deleted += 1
        with IndexRowItem.batch_write() as batch:
            for run_id in self._row_ids(experiment):
                batch.delete(IndexRowItem(index_pk(experiment), row_sk(run_id)))
                deleted += 1
        try:
            IndexManifestItem(index_pk(experiment), MANIFEST_SK).delete(condition=IndexManifestItem.pk.exists())
            deleted += 1
        except DeleteError:
            pass
        with self._cache_lock:
            self._cache.pop(experiment, None)
        return deleted

    def _rebuild_locked(self, experiment: str, manifest: IndexManifestItem | None) -> FoldStats:
        if self.repo.get_experiment(experiment) is None:
            self.drop(experiment)
            return FoldStats(rebuilt=True)
        records = list(self.repo.iter_run_records(experiment))
        rows = self._rows(records)
        kept = {record["run_id"] for record in records}
        self._write_rows(experiment, records, [run_id for run_id in self._row_ids(experiment) if run_id not in kept])
        self._write_generation(experiment, manifest, rows)
        return FoldStats(upserted=len(rows), rebuilt=True)

    def _rows(self, records: list[dict]) -> list[dict]:
        """Index rows of these run records, with the series of the metrics `series.wanted` picks,
        read after the records (so at least as new as their summaries) on threads."""
        rows = [fmt.index_row(record, self.summaries) for record in records]
        reads = [(row, metrics) for row in rows if (metrics := sv.wanted(fmt.series_points(row)))]
        for (row, _metrics), found in zip(reads, _on_threads(lambda read: self.series(read[0]["id"], read[1]), reads,
                                                              _SERIES_THREADS)):
            row["s"] = {metric: [list(steps), list(values)] for metric, (steps, values) in sorted(found.items())
                        if metric in row["m"]}
        return rows

    def _split_locked(self, experiment: str, manifest: IndexManifestItem, changed: dict) -> FoldStats:
        """A chunk outgrew SPLIT_BYTES: re-bucket every run into a new generation."""
        gen, buckets = int(manifest.gen), int(manifest.buckets)
        versions = {int(b): int(v) for b, v in _plain(manifest.chunks).items()}
        rows = [row for _v, changed_rows, _blobs, _p in changed.values() for row in changed_rows]
        rest = [b for b in range(buckets) if b not in changed]
        for _version, chunk in self._read_chunks(experiment, gen, rest, versions, None, None, int(manifest.version)).values():
            rows.extend(chunk.rows().values())
        self._write_generation(experiment, manifest, rows)
        return FoldStats(upserted=len(rows), rebuilt=True)

    def _write_generation(self, experiment: str, manifest: IndexManifestItem | None, rows: list[dict]) -> None:
        old_gen = None if manifest is None else int(manifest.gen)
        gen = (old_gen or 0) + 1
        buckets = 1
        # From a sample: encoding 100,000 rows only to size the buckets took minutes. The loop
        # below checks the real sizes (and doubles the buckets when the sample was too kind).
        step = max(1, len(rows) // 2000)
        estimate = fmt.splits(fmt.encode(rows[::step], series=False)) * step
        while estimate / buckets > TARGET_BYTES:
            buckets *= 2
        while True:
            grouped: dict[int, list[dict]] = {b: [] for b in range(buckets)}
            for row in rows:
                grouped[bucket_of(row["id"], buckets)].append(row)
            blobs = {b: fmt.encode(bucket_rows, series=False) for b, bucket_rows in grouped.items()}
            if max(fmt.splits(groups) for groups in blobs.values()) <= SPLIT_BYTES:
                break
            buckets *= 2
        for b, bucket_rows in grouped.items():  # series parts are sized on their own: encoded once
            blobs[b].update(sv.encode(sorted(bucket_rows, key=lambda row: row["id"])))
        with IndexChunkItem.batch_write() as batch:
            for b, groups in blobs.items():
                for item in _chunk_items(experiment, gen, b, 1, grouped[b], groups, dict.fromkeys(groups, 1)):
                    batch.save(item)
        IndexManifestItem(index_pk(experiment), MANIFEST_SK, gen=gen, build=uuid.uuid4().hex, buckets=buckets,
                          version=(0 if manifest is None else int(manifest.version)) + 1, runs=len(rows),
                          chunks={str(b): 1 for b in range(buckets)}).save()
        if old_gen is not None:
            prefix = f"G{old_gen:06d}#"
            with IndexChunkItem.batch_write() as batch:
                for item in IndexChunkItem.query(index_pk(experiment), IndexChunkItem.sk.startswith(prefix)):
                    batch.delete(item)

    @contextmanager
    def _locked(self, experiment: str):
        owner = uuid.uuid4().hex
        deadline = self.clock() + self.lock_wait_s
        while True:
            now = self.clock()
            try:
                IndexLockItem(index_pk(experiment), LOCK_SK, owner=owner, expires=int(now) + LOCK_SECONDS).save(
                    condition=IndexLockItem.pk.does_not_exist() | (IndexLockItem.expires < int(now)))
                break
            except PutError as error:
                if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
                    raise
                if now >= deadline:
                    raise IndexBusy(f"the index of experiment {experiment!r} is being written; retry",
                                    field="experiments") from None
                self.sleep(0.05)
        try:
            yield
        finally:
            try:
                IndexLockItem(index_pk(experiment), LOCK_SK).delete(condition=IndexLockItem.owner == owner)
            except DeleteError:
                log.warning("lock of index %r was taken over before release", experiment)


#: A fold's or rebuild's series reads (two Queries a run) overlap on threads of their own.
_SERIES_THREADS = 16


class _Moved(Exception):
    """The manifest switched to another generation while chunks were being read."""


def _chunk_items(experiment: str, gen: int, bucket: int, version: int, rows: Sequence[dict],
                 blobs: dict[str, bytes], present: dict[str, int]) -> list[IndexChunkItem]:
    """The items of a bucket's groups; the "a" group's document also lists every group of the
    bucket with its item's version (compressed with the ids: a DynamoDB map of ~150 group names
    was as large as the ids themselves)."""
    blobs = {**blobs, "a": fmt.encode_ids(sorted(row["id"] for row in rows), present)}
    return [IndexChunkItem(index_pk(experiment), chunk_sk(gen, bucket, group), gen=gen, bucket=bucket, group=group,
                           version=version, crc=fmt.checksum(blob), count=len(rows), blob=blob)
            for group, blob in blobs.items()]


def _plain(value: Any) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})
