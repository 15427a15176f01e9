"""The index's stream consumer: DynamoDB Streams records of the tracking and metrics tables -> which
runs (and experiments) changed -> `IndexStore.fold` once per experiment.

Records are never applied as data: a record only says *which* run changed. The fold re-reads each
changed run through the repository (consistent reads, after taking the experiment's lock), so a
replayed batch, a duplicate, or records arriving out of order (the tracking and metrics tables
have separate streams) all end in the run's current state. A record names its run by a `run_id`
attribute in its new or old image (run items, memberships, links, metric summary items) or by its
key (`RUN#<run_id>...`); its `experiment` attribute, when present, says which index to update,
which is how a deleted run (no longer readable) is found and removed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skytune.index.store import FoldStats, IndexStore

log = logging.getLogger(__name__)


def _string(image: Mapping[str, Any] | None, name: str) -> str | None:
    value = (image or {}).get(name)
    return value.get("S") if isinstance(value, Mapping) else None


def run_id_of_key(pk: str | None) -> str | None:
    if pk and pk.startswith("RUN#"):
        return pk[4:].split("#", 1)[0] or None
    return None


@dataclass
class Changes:
    runs: dict[str, set[str]] = field(default_factory=dict)  # run_id -> experiments it was seen in
    experiments: dict[str, str] = field(default_factory=dict)  # experiment -> last event name
    first_sequence: dict[tuple[str, str], int] = field(default_factory=dict)  # ("run"|"exp", id) -> seq

    def _seen(self, kind: str, name: str, sequence: int) -> None:
        key = (kind, name)
        self.first_sequence[key] = min(self.first_sequence.get(key, sequence), sequence)


def collect(records: Iterable[Mapping[str, Any]]) -> Changes:
    changes = Changes()
    for record in records:
        body = record.get("dynamodb") or {}
        keys, new, old = body.get("Keys") or {}, body.get("NewImage"), body.get("OldImage")
        sequence = int(body.get("SequenceNumber") or 0)
        pk, sk = _string(keys, "pk"), _string(keys, "sk")
        if pk and pk.startswith("EXP#") and sk == "EXP":
            name = pk[4:]
            changes.experiments[name] = record.get("eventName", "MODIFY")
            changes._seen("exp", name, sequence)
            continue
        run_id = _string(new, "run_id") or _string(old, "run_id") or run_id_of_key(pk)
        if not run_id:
            continue
        hints = changes.runs.setdefault(run_id, set())
        hints.update(name for name in (_string(new, "experiment"), _string(old, "experiment")) if name)
        changes._seen("run", run_id, sequence)
    return changes


@dataclass
class ApplyResult:
    folded: dict[str, FoldStats] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    failed_sequences: list[int] = field(default_factory=list)  # the first record of each failed experiment


def apply(index: IndexStore, repo, records: Iterable[Mapping[str, Any]]) -> ApplyResult:
    """Fold a batch of stream records into the indexes. An experiment whose fold fails is reported
    by its first record's sequence number (the caller returns the smallest as the batch item
    failure, so Lambda retries from there); the others are done."""
    changes = collect(records)
    result = ApplyResult()
    unknown = [run_id for run_id, hints in changes.runs.items() if not hints]
    if unknown:
        for record in repo.run_records(sorted(unknown), consistent=True):
            changes.runs[record["run_id"]].add(record["experiment"])
    per_experiment: dict[str, list[str]] = {}
    for run_id, hints in changes.runs.items():
        for experiment in hints:
            per_experiment.setdefault(experiment, []).append(run_id)
    for experiment, event in changes.experiments.items():
        try:
            if repo.get_experiment(experiment) is None:
                index.remove_experiment(experiment)
                result.dropped.append(experiment)
                per_experiment.pop(experiment, None)
            elif event == "REMOVE":  # deleted and created again within the batch: start afresh
                result.folded[experiment] = index.rebuild(experiment)
                per_experiment.pop(experiment, None)
        except Exception:  # noqa: BLE001 - reported as a batch item failure, retried by Lambda
            log.exception("index of experiment %r: dropping failed", experiment)
            result.failed_sequences.append(changes.first_sequence[("exp", experiment)])
    for experiment, run_ids in sorted(per_experiment.items()):
        try:
            result.folded[experiment] = index.fold(experiment, run_ids)
        except Exception:  # noqa: BLE001 - reported as a batch item failure, retried by Lambda
            log.exception("index of experiment %r: fold of %d runs failed", experiment, len(run_ids))
            result.failed_sequences.append(min(changes.first_sequence[("run", r)] for r in run_ids))
    return result
