"""The PynamoDB implementation of the tracking repositories (item layout: storage/items.py).

Multi-item invariants (a run and its name claim, trial memberships, parent link) are written in one
DynamoDB transaction; edits of one item read it, apply the change in Python (so limits such as the
tag count are checked on the result) and write it back on the condition that `updated_at` has not
moved, so concurrent edits never lose each other's changes (the loser gets 409 and retries).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.expressions.condition import size
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from skytune.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from skytune.storage import _region
from skytune.storage.items import (
    ArtifactLinkItem,
    ChildLinkItem,
    ExperimentItem,
    RunItem,
    RunNameItem,
    TrialItem,
    TrialMembershipItem,
    experiment_pk,
    run_pk,
)
from skytune.tracking.records import Artifact, Experiment, Run, RunStatus, Trial

_BATCH_GET_MAX = 100


# -- cursors of list endpoints ----------------------------------------------------------------------
# A cursor is DynamoDB's LastEvaluatedKey with a check value bound to the listing that made it:
# "<base64url(JSON key)>.<base64url(12-byte BLAKE2b of listing + key)>". A cursor that was altered,
# cut, or made by another listing (another experiment, trial, or index) fails the check and is a 400
# naming `cursor`. The check value is not a secret (a determined client could recompute it), so the
# decoded key is also validated: exactly the key attributes of the queried index, non-empty strings,
# and the listing's own partition value, so the worst a forged cursor can do is start the same
# listing at another position. Stdlib only (hashlib, base64): nothing to configure or rotate.
CURSOR_MAX_LENGTH = 4096
_CURSOR_CHECK = b"skytune-list-cursor-v1"
_KEY_VALUE_MAX_LENGTH = 2048  # DynamoDB's limit for a partition key (sort keys: 1024 bytes)
TABLE_KEYS = frozenset({"pk", "sk"})
LISTING_INDEX_KEYS = TABLE_KEYS | {"gsi1pk", "gsi1sk"}


@dataclass(frozen=True)
class Listing:
    """The query a cursor belongs to: the partition it reads and the key attributes of its index."""

    partition_attribute: str
    partition_value: str
    key_attributes: frozenset[str]

    @classmethod
    def of_index(cls, partition_value: str) -> "Listing":
        return cls("gsi1pk", partition_value, LISTING_INDEX_KEYS)

    @classmethod
    def of_table(cls, partition_value: str) -> "Listing":
        return cls("pk", partition_value, TABLE_KEYS)

    def check_value(self, payload: bytes) -> bytes:
        name = f"{self.partition_attribute}={self.partition_value}".encode()
        return hashlib.blake2b(name + b"\x00" + payload, key=_CURSOR_CHECK, digest_size=12).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(last_evaluated_key: dict | None, listing: Listing) -> str | None:
    if not last_evaluated_key:
        return None
    payload = json.dumps(last_evaluated_key, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(listing.check_value(payload))}"


def _bad_cursor(reason: str) -> InvalidInput:
    return InvalidInput(f"cursor is not one this listing returned ({reason}); "
                        "pass back the next_cursor of the previous page unchanged", field="cursor")


def decode_cursor(cursor: str | None, listing: Listing) -> dict | None:
    if cursor is None or cursor == "":
        return None
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise _bad_cursor(f"longer than {CURSOR_MAX_LENGTH} characters")
    payload_text, _, check_text = cursor.partition(".")
    try:
        payload, check = _unb64(payload_text), _unb64(check_text)
    except (ValueError, binascii.Error):
        raise _bad_cursor("not base64url") from None
    if _b64(payload) != payload_text or _b64(check) != check_text:  # base64 is malleable: one spelling only
        raise _bad_cursor("altered")
    if not hmac.compare_digest(check, listing.check_value(payload)):
        raise _bad_cursor("altered, or made by another listing")
    try:
        key = json.loads(payload)
    except ValueError:  # only reachable with a forged check value
        raise _bad_cursor("not JSON") from None
    if not isinstance(key, dict) or set(key) != listing.key_attributes:
        raise _bad_cursor("not a key of this listing")
    for value in key.values():
        text = value.get("S") if isinstance(value, dict) and len(value) == 1 else None
        if not isinstance(text, str) or not 0 < len(text) <= _KEY_VALUE_MAX_LENGTH:
            raise _bad_cursor("not a key of this listing")
    if key[listing.partition_attribute]["S"] != listing.partition_value:
        raise _bad_cursor("made by another listing")
    return key


def _conditional_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _too_large(error: Exception) -> bool:
    """DynamoDB refuses an item over 400 KB with a ValidationException that says so."""
    message = str(getattr(error, "cause_response_message", "") or "").lower()
    return getattr(error, "cause_response_code", None) == "ValidationException" and "item size" in message


def _reasons(error: TransactWriteError) -> list[str | None]:
    return [getattr(reason, "code", None) if reason else None for reason in (error.cancellation_reasons or [])]


def _plain(value: Any) -> Any:
    """A PynamoDB raw MapAttribute/ListAttribute value as plain dicts and lists."""
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _merge_tags(current: dict[str, str], patch: dict[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class _Transaction:
    """A DynamoDB write transaction whose operations carry labels, so a cancellation maps back to
    what failed. (PynamoDB sends condition checks, then deletes, puts and updates, whatever the call
    order, and DynamoDB reports reasons in the order sent.)"""

    _KINDS = ("check", "delete", "put", "update")

    def __init__(self) -> None:
        self._operations: dict[str, list[tuple[Any, Any]]] = {kind: [] for kind in self._KINDS}

    def check(self, label: Any, model_cls, key: tuple[str, str], condition) -> None:
        self._operations["check"].append((label, lambda t: t.condition_check(model_cls, *key, condition=condition)))

    def delete(self, label: Any, item, condition=None) -> None:
        self._operations["delete"].append((label, lambda t: t.delete(item, condition=condition)))

    def put(self, label: Any, item, condition=None) -> None:
        self._operations["put"].append((label, lambda t: t.save(item, condition=condition)))

    def update(self, label: Any, item, actions: list, condition=None) -> None:
        self._operations["update"].append((label, lambda t: t.update(item, actions=actions, condition=condition)))

    def commit(self) -> list[Any]:
        """[] on success, else the labels of the operations whose condition failed. Any other
        failure is raised."""
        ordered = [operation for kind in self._KINDS for operation in self._operations[kind]]
        try:
            with TransactWrite(connection=Connection(region=_region())) as transaction:
                for _label, apply in ordered:
                    apply(transaction)
        except TransactWriteError as error:
            failed = [label for (label, _), code in zip(ordered, _reasons(error)) if code == "ConditionalCheckFailed"]
            if not failed:
                raise
            return failed
        return []


class DynamoRepository:
    # -- experiments ----------------------------------------------------------------------
    def insert_experiment(self, experiment: Experiment) -> bool:
        pk, sk = ExperimentItem.key(experiment.name)
        item = ExperimentItem(pk, sk, gsi1sk=experiment.name, **experiment.model_dump())
        try:
            item.save(condition=ExperimentItem.pk.does_not_exist())
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def get_experiment(self, name: str) -> Experiment | None:
        item = self._experiment_item(name)
        return None if item is None else _experiment(item)

    def list_experiments(self, limit: int, cursor: str | None) -> tuple[list[Experiment], str | None]:
        listing = Listing.of_index("EXPERIMENTS")
        page = ExperimentItem.listing.query("EXPERIMENTS", limit=limit, last_evaluated_key=decode_cursor(cursor, listing))
        experiments = [_experiment(item) for item in page]
        return experiments, encode_cursor(page.last_evaluated_key, listing)

    def experiment_stats(self, name: str, count_runs: bool = True) -> tuple[int | None, datetime | None]:
        """(number of runs, last update of the newest run): a COUNT over the experiment's run-name
        claims (small items, but read capacity per run; `count_runs=False`: None instead) and the
        newest run of the listing index (run ids are ULIDs)."""
        count = RunNameItem.count(experiment_pk(name), RunNameItem.sk.startswith("RUNNAME#")) if count_runs else None
        newest = next(iter(RunItem.listing.query(RunItem.listing_key(name), scan_index_forward=False, limit=1)), None)
        return count, newest.updated_at if newest is not None else None

    def experiment_names(self) -> list[str]:
        return [item.name for item in ExperimentItem.listing.query("EXPERIMENTS")]

    def update_experiment(self, name: str, description: str | None, tags: dict[str, str | None], now: datetime,
                          validate_tags) -> Experiment:
        item = self._experiment_item(name, consistent=True)
        if item is None:
            raise NotFound(f"experiment {name!r} does not exist", field="name")
        merged = validate_tags(_merge_tags(_plain(item.tags), tags))
        actions = [ExperimentItem.tags.set(merged), ExperimentItem.updated_at.set(now)]
        if description is not None:
            actions.append(ExperimentItem.description.set(description))
        self._update(item, actions, ExperimentItem.updated_at == item.updated_at, f"experiment {name!r}")
        return _experiment(item)

    def experiment_contents(self, name: str) -> tuple[list[str], list[str]]:
        """(trial names, run ids) of the experiment, read from its partition."""
        trials = [item.name for item in TrialItem.query(experiment_pk(name), TrialItem.sk.startswith("TRIAL#"))]
        runs = [item.run_id for item in RunNameItem.query(experiment_pk(name), RunNameItem.sk.startswith("RUNNAME#"))]
        return trials, runs

    def delete_experiment_item(self, name: str) -> None:
        ExperimentItem(*ExperimentItem.key(name)).delete()

    def _experiment_item(self, name: str, consistent: bool = False) -> ExperimentItem | None:
        try:
            return ExperimentItem.get(*ExperimentItem.key(name), consistent_read=consistent)
        except ExperimentItem.DoesNotExist:
            return None

    # -- trials ---------------------------------------------------------------------------
    def insert_trial(self, trial: Trial) -> bool:
        """False when the trial exists; NotFound when the experiment does not."""
        item = TrialItem(*TrialItem.key(trial.experiment, trial.name), **trial.model_dump())
        transaction = _Transaction()
        transaction.check("experiment", ExperimentItem, ExperimentItem.key(trial.experiment), ExperimentItem.pk.exists())
        transaction.put("trial", item, TrialItem.pk.does_not_exist())
        failed = transaction.commit()
        if "experiment" in failed:
            raise NotFound(f"experiment {trial.experiment!r} does not exist", field="experiment")
        return not failed

    def get_trial(self, experiment: str, name: str) -> Trial | None:
        item = self._trial_item(experiment, name)
        return None if item is None else _trial(item)

    def list_trials(self, experiment: str, limit: int, cursor: str | None) -> tuple[list[Trial], str | None]:
        listing = Listing.of_table(experiment_pk(experiment))
        page = TrialItem.query(experiment_pk(experiment), TrialItem.sk.startswith("TRIAL#"), limit=limit,
                               last_evaluated_key=decode_cursor(cursor, listing))
        trials = [_trial(item) for item in page]
        return trials, encode_cursor(page.last_evaluated_key, listing)

    def update_trial(self, experiment: str, name: str, description: str | None, tags: dict[str, str | None],
                     now: datetime, validate_tags) -> Trial:
        item = self._trial_item(experiment, name, consistent=True)
        if item is None:
            raise NotFound(f"trial {name!r} does not exist in experiment {experiment!r}", field="trial")
        merged = validate_tags(_merge_tags(_plain(item.tags), tags))
        actions = [TrialItem.tags.set(merged), TrialItem.updated_at.set(now)]
        if description is not None:
            actions.append(TrialItem.description.set(description))
        self._update(item, actions, TrialItem.updated_at == item.updated_at, f"trial {name!r}")
        return _trial(item)

    def delete_trial_item(self, experiment: str, name: str) -> None:
        TrialItem(*TrialItem.key(experiment, name)).delete()

    def trial_run_ids(self, experiment: str, trial: str, limit: int | None = None,
                      cursor: str | None = None) -> tuple[list[str], str | None]:
        listing = Listing.of_index(TrialMembershipItem.listing_key(experiment, trial))
        page = TrialMembershipItem.listing.query(listing.partition_value, limit=limit,
                                                 last_evaluated_key=decode_cursor(cursor, listing))
        run_ids = [item.run_id for item in page]
        return run_ids, encode_cursor(page.last_evaluated_key, listing)

    def _trial_item(self, experiment: str, name: str, consistent: bool = False) -> TrialItem | None:
        try:
            return TrialItem.get(*TrialItem.key(experiment, name), consistent_read=consistent)
        except TrialItem.DoesNotExist:
            return None

    # -- run <-> trial associations -------------------------------------------------------
    def add_to_trial(self, run_id: str, experiment: str, trial: str, max_trials: int) -> bool:
        """False when the run is already in the trial."""
        membership = TrialMembershipItem(
            *TrialMembershipItem.key(run_id, trial), gsi1pk=TrialMembershipItem.listing_key(experiment, trial),
            gsi1sk=run_id, run_id=run_id, experiment=experiment, trial=trial,
        )
        transaction = _Transaction()
        transaction.check("trial", TrialItem, TrialItem.key(experiment, trial), TrialItem.pk.exists())
        transaction.put("membership", membership, TrialMembershipItem.pk.does_not_exist())
        transaction.update("run", RunItem(*RunItem.key(run_id)), [RunItem.trials.add({trial})],
                           RunItem.pk.exists() & (RunItem.experiment == experiment)
                           & (RunItem.trials.does_not_exist() | (size(RunItem.trials) < max_trials)))
        failed = transaction.commit()
        if "trial" in failed:
            raise NotFound(f"trial {trial!r} does not exist in experiment {experiment!r}", field="trial")
        if "membership" in failed:
            return False
        if "run" in failed:
            stored = self._run_item(run_id, consistent=True)
            if stored is None or stored.experiment != experiment:
                raise NotFound(f"run {run_id!r} does not exist in experiment {experiment!r}", field="run_id")
            raise Conflict(f"a run belongs to at most {max_trials} trials", field="trials")
        return True

    def remove_from_trial(self, run_id: str, experiment: str, trial: str) -> bool:
        """False when the run was not in the trial."""
        transaction = _Transaction()
        transaction.delete("membership", TrialMembershipItem(*TrialMembershipItem.key(run_id, trial)),
                           TrialMembershipItem.pk.exists() & (TrialMembershipItem.experiment == experiment))
        transaction.update("run", RunItem(*RunItem.key(run_id)), [RunItem.trials.delete({trial})], RunItem.pk.exists())
        return not transaction.commit()

    # -- runs -----------------------------------------------------------------------------
    def insert_run(self, run: Run) -> str | None:
        """Writes the run, its name claim, trial memberships and parent link atomically.

        Returns None on success, else the run_id already holding (experiment, name). Raises
        NotFound naming the missing experiment, trial or parent.
        """
        item = RunItem(
            *RunItem.key(run.run_id), gsi1pk=RunItem.listing_key(run.experiment), gsi1sk=run.run_id,
            run_id=run.run_id, experiment=run.experiment, name=run.name, trials=set(run.trials) or None,
            parent=run.parent, status=run.status.value, start_time=run.start_time, end_time=run.end_time,
            source=run.source, client_token=run.client_token, params=dict(run.params), tags=dict(run.tags),
            inputs=[a.model_dump(exclude_none=True) for a in run.inputs],
            outputs=[a.model_dump(exclude_none=True) for a in run.outputs],
            created_at=run.created_at, updated_at=run.updated_at,
        )
        claim = RunNameItem(*RunNameItem.key(run.experiment, run.name), run_id=run.run_id)
        transaction = _Transaction()
        transaction.check(("experiment", run.experiment), ExperimentItem, ExperimentItem.key(run.experiment),
                          ExperimentItem.pk.exists())
        transaction.put(("name", run.name), claim, RunNameItem.pk.does_not_exist())
        transaction.put(("run_id", run.run_id), item, RunItem.pk.does_not_exist())
        if run.parent is not None:
            transaction.check(("parent", run.parent), RunItem, RunItem.key(run.parent), RunItem.pk.exists())
            transaction.put(("child", run.run_id), ChildLinkItem(*ChildLinkItem.key(run.parent, run.run_id), child_id=run.run_id))
        for trial in run.trials:
            transaction.check(("trials", trial), TrialItem, TrialItem.key(run.experiment, trial), TrialItem.pk.exists())
            transaction.put(("membership", trial), TrialMembershipItem(
                *TrialMembershipItem.key(run.run_id, trial),
                gsi1pk=TrialMembershipItem.listing_key(run.experiment, trial), gsi1sk=run.run_id,
                run_id=run.run_id, experiment=run.experiment, trial=trial,
            ))
        try:
            failed = transaction.commit()
        except TransactWriteError as error:
            if _too_large(error):
                raise PayloadTooLarge("the run is larger than a DynamoDB item (400 KB)", field="params") from None
            raise
        # Missing references first: a retry of a create whose experiment was deleted is a 404, not a 409.
        for field, value in sorted(failed, key=lambda label: label[0] == "name"):
            if field == "name":
                holder = self.run_id_by_name(run.experiment, run.name)
                if holder is not None:
                    return holder
                raise Conflict(f"run name {run.name!r} is being claimed concurrently; retry", field="name")
            what = {"experiment": "experiment", "parent": "parent run", "trials": "trial"}.get(field, field)
            raise NotFound(f"{what} {value!r} does not exist", field=field)
        self._put_artifact_links(run.run_id, run.experiment, run.inputs, run.outputs)
        return None

    def run_id_by_name(self, experiment: str, name: str) -> str | None:
        try:
            return RunNameItem.get(*RunNameItem.key(experiment, name), consistent_read=True).run_id
        except RunNameItem.DoesNotExist:
            return None

    def get_run(self, run_id: str, consistent: bool = False) -> Run | None:
        item = self._run_item(run_id, consistent)
        return None if item is None else run_from_item(item)

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """The runs that exist, in the order of `run_ids`."""
        found: dict[str, Run] = {}
        for start in range(0, len(run_ids), _BATCH_GET_MAX):
            keys = [RunItem.key(run_id) for run_id in run_ids[start:start + _BATCH_GET_MAX]]
            items = list(RunItem.batch_get(keys))
            summaries = _summaries([item.run_id for item in items])
            for item in items:
                found[item.run_id] = run_from_item(item, summaries[item.run_id])
        return [found[run_id] for run_id in run_ids if run_id in found]

    def list_runs(self, experiment: str, limit: int, cursor: str | None) -> tuple[list[Run], str | None]:
        listing = Listing.of_index(RunItem.listing_key(experiment))
        page = RunItem.listing.query(listing.partition_value, limit=limit, last_evaluated_key=decode_cursor(cursor, listing))
        items = list(page)
        summaries = _summaries([item.run_id for item in items])
        runs = [run_from_item(item, summaries[item.run_id]) for item in items]
        return runs, encode_cursor(page.last_evaluated_key, listing)

    def iter_run_records(self, experiment: str, params: Collection[str] | None = None,
                         tags: Collection[str] | None = None,
                         metrics: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every run of the experiment as a plain dict (the candidates of a search): the run's
        attributes, `params`, `tags`, `trials` (list) and `metric_summaries` in stored form.

        `params`, `tags`, `metrics`: the names a query reads (None: all of them). Naming them
        projects the Query, which does not lower its read capacity (DynamoDB charges for whole
        items) but cuts what is sent and decoded; decoding dominated a search's time (botocore's
        parser plus PynamoDB's model instances: ~1.2 of 1.5 s for 2,000 runs), hence also the raw
        Query here instead of `RunItem.listing.query`.
        """
        projection = _run_projection(params, tags, metrics)
        connection, start = RunItem._get_connection(), None
        while True:
            page = connection.query(RunItem.listing_key(experiment), index_name=RunItem.listing.Meta.index_name,
                                    attributes_to_get=projection, exclusive_start_key=start)
            records = [_run_record(raw) for raw in page.get("Items", ())]
            summaries = _summaries([record["run_id"] for record in records], metrics, public=False)
            for record in records:
                record["metric_summaries"] = summaries[record["run_id"]]
                yield record
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def run_records(self, run_ids: Sequence[str], consistent: bool = False) -> list[dict[str, Any]]:
        """The whole records (as `iter_run_records` without projection) of the runs that exist, in
        the order of `run_ids`. `consistent`: strongly consistent reads (the index's stream consumer)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(run_ids), _BATCH_GET_MAX):
            keys = [RunItem.key(run_id) for run_id in run_ids[start:start + _BATCH_GET_MAX]]
            for item in RunItem.batch_get(keys, consistent_read=consistent):
                found[item.run_id] = _run_record(item.serialize())
        summaries = _summaries(list(found), public=False)
        for run_id, record in found.items():
            record["metric_summaries"] = summaries[run_id]
        return [found[run_id] for run_id in run_ids if run_id in found]

    def child_run_ids(self, run_id: str) -> list[str]:
        return [item.child_id for item in ChildLinkItem.query(run_pk(run_id), ChildLinkItem.sk.startswith("CHILD#"))]

    def update_run(self, run_id: str, changes: dict[str, Any], tags_patch: dict[str, str | None],
                   now: datetime, validate_tags, expected_updated_at: datetime | None = None) -> Run:
        """`changes`: attribute -> new value for name, status, start_time, end_time, source, inputs,
        outputs (only those present change). `expected_updated_at`: Conflict unless the run is still
        the version the caller read (a read-modify-write of the artifact lists)."""
        item = self._run_item(run_id, consistent=True)
        if item is None:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id")
        if expected_updated_at is not None and item.updated_at != expected_updated_at:
            raise Conflict(f"run {run_id!r} changed concurrently; retry")
        old_inputs, old_outputs = _artifacts(item.inputs), _artifacts(item.outputs)
        actions = [RunItem.updated_at.set(now)]
        if tags_patch:
            actions.append(RunItem.tags.set(validate_tags(_merge_tags(_plain(item.tags), tags_patch))))
        for attribute, value in changes.items():
            if attribute in ("inputs", "outputs"):
                value = [a.model_dump(exclude_none=True) for a in value]
            elif isinstance(value, RunStatus):
                value = value.value
            path = getattr(RunItem, attribute)
            actions.append(path.remove() if value is None else path.set(value))
        unchanged = RunItem.updated_at == item.updated_at
        new_name = changes.get("name")
        if new_name is not None and new_name != item.name:
            self._rename_run(item, new_name, actions, unchanged)
        else:
            self._update(item, actions, unchanged, f"run {run_id!r}")
        if "inputs" in changes or "outputs" in changes:
            self._replace_artifact_links(item, old_inputs, old_outputs)
        return run_from_item(item)

    def _rename_run(self, item: RunItem, new_name: str, actions: list, unchanged) -> None:
        transaction = _Transaction()
        transaction.put("name", RunNameItem(*RunNameItem.key(item.experiment, new_name), run_id=item.run_id),
                        RunNameItem.pk.does_not_exist())
        transaction.delete("old name", RunNameItem(*RunNameItem.key(item.experiment, item.name)))
        transaction.update("run", item, actions, unchanged)
        failed = transaction.commit()
        if "name" in failed:
            raise Conflict(f"experiment {item.experiment!r} already has a run named {new_name!r}", field="name")
        if failed:
            raise Conflict(f"run {item.run_id!r} changed concurrently; retry", field="run_id")
        fresh = self._run_item(item.run_id, consistent=True)
        if fresh is not None:
            item.attribute_values = fresh.attribute_values

    def log_params_and_tags(self, run_id: str, params: dict[str, Any], tags: dict[str, str], now: datetime,
                            max_tags: int, attempts: int = 5) -> None:
        """Params are write-once: a param already set to a different value is a 409 naming it.

        Read, check (conflicting params, tag count) and write the merged maps back on the condition
        that `updated_at` has not moved; a concurrent writer makes us re-read and re-check. (One
        condition per param would be simpler to state, but DynamoDB caps an expression at 4 KB,
        which 100 params exceed.) The metric store never touches `updated_at`, so metric writes do
        not race with this.
        """
        for _attempt in range(attempts):
            stored = self._run_item(run_id, consistent=True)
            if stored is None:
                raise NotFound(f"run {run_id!r} does not exist", field="run_id")
            current_params, current_tags = _plain(stored.params), _plain(stored.tags)
            for name, value in params.items():
                if name in current_params and not _same_param(current_params[name], value):
                    raise Conflict(f"param {name!r} is already {current_params[name]!r}; params never change once logged",
                                   field=f"params.{name}")
            merged_tags = {**current_tags, **tags}
            if len(merged_tags) > max_tags:
                raise InvalidInput(f"a run has at most {max_tags} tags", field="tags")
            new_params = {name: value for name, value in params.items() if name not in current_params}
            if not new_params and merged_tags == current_tags:
                return  # nothing new: a retried batch
            actions = [RunItem.updated_at.set(now), RunItem.params.set({**current_params, **new_params}),
                       RunItem.tags.set(merged_tags)]
            try:
                RunItem(*RunItem.key(run_id)).update(actions=actions, condition=RunItem.updated_at == stored.updated_at)
                return
            except UpdateError as error:
                if _too_large(error):
                    raise PayloadTooLarge("the run's params and tags exceed a DynamoDB item (400 KB)", field="params") from None
                if not _conditional_failed(error):
                    raise
        raise Conflict(f"run {run_id!r} is being changed concurrently; retry", field="run_id")

    def delete_run_items(self, run_id: str) -> bool:
        """Deletes everything the run owns in the tracking table, the run item last, so a retried
        delete finishes a half-done one. False when the run does not exist."""
        item = self._run_item(run_id, consistent=True)
        if item is None:
            return False
        for owned in (
            *TrialMembershipItem.query(run_pk(run_id), TrialMembershipItem.sk.startswith("TRIAL#")),
            *ArtifactLinkItem.query(run_pk(run_id), ArtifactLinkItem.sk.startswith("ART#")),
            *ChildLinkItem.query(run_pk(run_id), ChildLinkItem.sk.startswith("CHILD#")),
        ):
            owned.delete()
        if item.parent:
            ChildLinkItem(*ChildLinkItem.key(item.parent, run_id)).delete()
        try:
            RunNameItem(*RunNameItem.key(item.experiment, item.name)).delete(condition=RunNameItem.run_id == run_id)
        except DeleteError as error:
            if not _conditional_failed(error):
                raise
        item.delete()
        return True

    def delete_metric_series(self, run_id: str, metrics: Iterable[str]) -> None:
        """Deletes the run's metric points (the metric store owns their layout)."""
        from skytune.metrics import MetricStore

        MetricStore().delete_run(run_id, metrics)

    def metric_names(self, run_id: str) -> list[str]:
        return sorted(_summaries([run_id], public=False)[run_id])

    def _run_item(self, run_id: str, consistent: bool = False) -> RunItem | None:
        try:
            return RunItem.get(*RunItem.key(run_id), consistent_read=consistent)
        except RunItem.DoesNotExist:
            return None

    # -- artifacts and lineage ------------------------------------------------------------
    def _put_artifact_links(self, run_id: str, experiment: str, inputs: Iterable[Artifact], outputs: Iterable[Artifact]) -> None:
        with ArtifactLinkItem.batch_write() as batch:
            for direction, artifacts in (("input", inputs), ("output", outputs)):
                for artifact in artifacts:
                    batch.save(ArtifactLinkItem(
                        *ArtifactLinkItem.key(run_id, direction, artifact.name),
                        gsi2pk=ArtifactLinkItem.uri_key(artifact.uri), gsi2sk=f"{direction}#{run_id}#{artifact.name}",
                        run_id=run_id, experiment=experiment, direction=direction, name=artifact.name,
                        uri=artifact.uri, media_type=artifact.media_type, digest=artifact.digest, size=artifact.size,
                    ))

    def _replace_artifact_links(self, item: RunItem, old_inputs: list[Artifact], old_outputs: list[Artifact]) -> None:
        new_inputs, new_outputs = _artifacts(item.inputs), _artifacts(item.outputs)
        with ArtifactLinkItem.batch_write() as batch:
            for direction, old, new in (("input", old_inputs, new_inputs), ("output", old_outputs, new_outputs)):
                kept = {a.name for a in new}
                for artifact in old:
                    if artifact.name not in kept:
                        batch.delete(ArtifactLinkItem(*ArtifactLinkItem.key(item.run_id, direction, artifact.name)))
        self._put_artifact_links(item.run_id, item.experiment, new_inputs, new_outputs)

    def artifact_links_by_uri(self, uri: str) -> list[ArtifactLinkItem]:
        return list(ArtifactLinkItem.by_uri.query(ArtifactLinkItem.uri_key(uri)))

    # -- shared ---------------------------------------------------------------------------
    def _update(self, item, actions: list, condition, what: str) -> None:
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as error:
            if _conditional_failed(error):
                raise Conflict(f"{what} changed concurrently or was deleted; retry") from None
            if _too_large(error):
                raise PayloadTooLarge(f"{what} would exceed a DynamoDB item (400 KB)") from None
            raise


def _same_param(stored: Any, value: Any) -> bool:
    if isinstance(stored, bool) or isinstance(value, bool):
        return type(stored) is type(value) and stored == value
    return stored == value


def _artifacts(values: Any) -> list[Artifact]:
    plain = [{k: v for k, v in _plain(value).items() if v is not None} for value in (values or [])]
    return [Artifact(**{**value, **({"size": int(value["size"])} if "size" in value else {})}) for value in plain]


def _experiment(item: ExperimentItem) -> Experiment:
    return Experiment(name=item.name, description=item.description, tags=_plain(item.tags),
                      created_at=item.created_at, updated_at=item.updated_at)


def _trial(item: TrialItem) -> Trial:
    return Trial(name=item.name, experiment=item.experiment, description=item.description, tags=_plain(item.tags),
                 created_at=item.created_at, updated_at=item.updated_at)


# -- run records from raw DynamoDB items ---------------------------------------------------------
# Always read by a search: small, and any of them may be filtered or sorted on.
_RUN_ATTRIBUTES = ("run_id", "name", "experiment", "status", "trials", "parent", "source", "created_at",
                   "start_time", "end_time")
_DATETIMES = ("created_at", "start_time", "end_time")
# Past this many named map entries, read whole maps (a ProjectionExpression is at most 4 KB).
_MAX_PROJECTED_NAMES = 100


def _run_projection(params: Collection[str] | None, tags: Collection[str] | None,
                    metrics: Collection[str] | None) -> list | None:
    if params is None and tags is None:
        return None
    projection: list = [getattr(RunItem, name) for name in _RUN_ATTRIBUTES]
    named = sum(len(names) for names in (params, tags) if names is not None)
    for attribute, names in ((RunItem.params, params), (RunItem.tags, tags)):
        if names is None or named > _MAX_PROJECTED_NAMES:
            projection.append(attribute)
        else:
            projection.extend(attribute[name] for name in sorted(names))
    return projection


def _number(text: str) -> int | float:
    """As PynamoDB decodes a number inside a raw map (json.loads): an int when it is one."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _raw_value(attribute: dict[str, Any]) -> Any:
    """A DynamoDB attribute value (`{"N": "1.5"}`, `{"M": {...}}`, ...) as plain Python.
    Hand-written: boto3's TypeDeserializer is not a runtime dependency, and it gives Decimals."""
    (kind, value), = attribute.items()
    if kind in ("S", "BOOL", "B"):
        return value
    if kind == "N":
        return _number(value)
    if kind == "M":
        return {key: _raw_value(inner) for key, inner in value.items()}
    if kind == "L":
        return [_raw_value(inner) for inner in value]
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {_number(inner) for inner in value}
    raise ValueError(f"unexpected DynamoDB attribute type {kind!r}")


def _run_record(raw: dict[str, Any]) -> dict[str, Any]:
    """The record `iter_run_records` documents, from a raw (possibly projected) run item."""
    values = {name: _raw_value(value) for name, value in raw.items()}
    for name in _DATETIMES:
        if values.get(name) is not None:
            values[name] = getattr(RunItem, name).deserialize(values[name])
    return {
        "run_id": values["run_id"], "name": values["name"], "experiment": values["experiment"],
        "status": values["status"], "trials": sorted(values.get("trials") or ()), "parent": values.get("parent"),
        "source": values.get("source"), "created_at": values["created_at"], "start_time": values.get("start_time"),
        "end_time": values.get("end_time"), "params": values.get("params", {}), "tags": values.get("tags", {}),
        "metric_summaries": {},  # filled from the metric store
    }


#: Every summary of many runs is one Query a run (`read_summaries` without names): past this many
#: runs they are read in slices on threads, so the round trips overlap (same requests, same RCU).
#: An index rebuild of 10,000 runs was 10,000 sequential Queries.
SUMMARY_SLICE = 25
SUMMARY_THREADS = 8


def _summaries(run_ids: Sequence[str], metrics: Collection[str] | None = None, public: bool = True) -> dict[str, dict]:
    """Run summaries through the metric store's one read function (the store owns their layout)."""
    from skytune.metrics import MetricStore

    if metrics is not None or len(run_ids) <= SUMMARY_SLICE:
        return MetricStore().read_summaries(run_ids, metrics, public=public)
    from skytune.threads import on_threads

    slices = [run_ids[start:start + SUMMARY_SLICE] for start in range(0, len(run_ids), SUMMARY_SLICE)]
    out: dict[str, dict] = {}
    for part in on_threads(lambda ids: MetricStore().read_summaries(ids, None, public=public), slices,
                           threads=SUMMARY_THREADS):
        out.update(part)
    return out


def run_from_item(item: RunItem, summaries: dict[str, dict] | None = None) -> Run:
    return Run(
        run_id=item.run_id, experiment=item.experiment, name=item.name, trials=sorted(item.trials or ()),
        parent=item.parent, status=RunStatus(item.status), start_time=item.start_time, end_time=item.end_time,
        source=item.source, params=_plain(item.params), tags=_plain(item.tags),
        inputs=_artifacts(item.inputs), outputs=_artifacts(item.outputs),
        metrics=_summaries([item.run_id])[item.run_id] if summaries is None else summaries,
        created_at=item.created_at, updated_at=item.updated_at, client_token=item.client_token,
    )
