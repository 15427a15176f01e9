"""DynamoDB Streams event sources, locally: what Lambda's event source mappings do for the template's
`AWS::Lambda::EventSourceMapping`s on table streams, against DynamoDB Local (which serves Streams
through the `dynamodbstreams` API).

One daemon thread polls every shard of every mapped stream (every `interval_s`), hands the records
to the mapped function in Lambda's event shape (at most `BatchSize` per invocation) and honours
`batchItemFailures`: the batch is retried from the failed record on the next round. This is what
bounds the experiment index's staleness locally (poll interval + one fold; docs/tracking.md).
`flush()` drains everything pending synchronously (tests use it to wait for the index).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

from skytune.local.template import LOCAL_REGION

log = logging.getLogger("skytune.local.streams")
MAX_ATTEMPTS = 5


@dataclass
class Mapping:
    function: str  # logical id
    table: str  # physical name
    batch_size: int
    stream_arn: str | None = None
    iterators: dict[str, str | None] = field(default_factory=dict)  # shard id -> iterator (None: closed)
    pending: dict[str, list[dict]] = field(default_factory=dict)  # shard id -> records not yet delivered
    attempts: dict[str, int] = field(default_factory=dict)
    last_sequence: dict[str, str] = field(default_factory=dict)  # shard id -> last record read


def stream_mappings(template) -> list[Mapping]:
    """The template's event source mappings whose source is a DynamoDB table's stream."""
    tables = {spec.logical_id: spec.name for spec in template.tables()}
    found = []
    for resource in template.of_type("AWS::Lambda::EventSourceMapping").values():
        props = resource["Properties"]
        source = props.get("EventSourceArn")
        if not (isinstance(source, dict) and "Fn::GetAtt" in source):
            continue
        logical_id, attribute = source["Fn::GetAtt"]
        function = template.logical_id_of_arn(template.arn(_ref(props["FunctionName"])))
        if attribute == "StreamArn" and logical_id in tables and function:
            found.append(Mapping(function=function, table=tables[logical_id], batch_size=int(props.get("BatchSize", 100))))
    return found


def _ref(value: Any) -> str:
    return value["Ref"] if isinstance(value, dict) and "Ref" in value else value


def _stream_view(template, table: str) -> str:
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable").items():
        if template.physical_names[logical_id] == table:
            return (resource["Properties"].get("StreamSpecification") or {}).get("StreamViewType", "NEW_AND_OLD_IMAGES")
    return "NEW_AND_OLD_IMAGES"


class StreamPoller:
    def __init__(self, stack, interval_s: float = 0.1) -> None:
        self.stack = stack
        self.interval_s = interval_s
        self.mappings = stream_mappings(stack.template)
        kwargs = dict(endpoint_url=stack.dynamodb.endpoint, region_name=LOCAL_REGION,
                      aws_access_key_id="local", aws_secret_access_key="local")
        self.dynamodb = boto3.client("dynamodb", **kwargs)
        self.streams = boto3.client("dynamodbstreams", **kwargs)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for mapping in self.mappings:
            mapping.stream_arn = self._enable(mapping.table)

    def _enable(self, table: str) -> str:
        """Turn the table's stream on (the template declares it; local table creation leaves it out)."""
        description = self.dynamodb.describe_table(TableName=table)["Table"]
        if not description.get("LatestStreamArn") or not description.get("StreamSpecification", {}).get("StreamEnabled"):
            view = _stream_view(self.stack.template, table)
            description = self.dynamodb.update_table(
                TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})["TableDescription"]
        return description["LatestStreamArn"]

    def start(self) -> "StreamPoller":
        self._thread = threading.Thread(target=self._run, name="skytune-streams", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - keep polling; DynamoDB Local may be stopping
                if not self._stop.is_set():
                    log.exception("stream polling failed")
            self._stop.wait(self.interval_s)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Deliver everything written so far (rounds until one finds nothing new)."""
        deadline = time.monotonic() + timeout_s
        while self.poll_once() and time.monotonic() < deadline:
            pass

    def poll_once(self) -> int:
        """One round over every shard; returns the number of records delivered."""
        delivered = 0
        with self._lock:
            for mapping in self.mappings:
                self._discover(mapping)
                for shard, iterator in list(mapping.iterators.items()):
                    records = mapping.pending.get(shard, [])
                    if iterator is not None:
                        try:
                            response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                        except (self.streams.exceptions.TrimmedDataAccessException,
                                self.streams.exceptions.ExpiredIteratorException):
                            # DynamoDB Local invalidates idle iterators now and then: resume after the last record read
                            mapping.iterators[shard] = self._iterator(mapping, shard)
                            continue
                        mapping.iterators[shard] = response.get("NextShardIterator")
                        fetched = response.get("Records", [])
                        if fetched:
                            mapping.last_sequence[shard] = fetched[-1]["dynamodb"]["SequenceNumber"]
                        records = records + [self._lambda_record(mapping, r) for r in fetched]
                    mapping.pending[shard] = records
                    while mapping.pending[shard]:
                        delivered += self._deliver(mapping, shard)
                        if mapping.pending[shard] and mapping.attempts.get(shard):
                            break  # a failure: retried next round
        return delivered

    def _discover(self, mapping: Mapping) -> None:
        description = self.streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in mapping.iterators:
                mapping.iterators[shard_id] = self._iterator(mapping, shard_id)

    def _iterator(self, mapping: Mapping, shard: str) -> str | None:
        last = mapping.last_sequence.get(shard)
        if last is not None:
            try:
                return self.streams.get_shard_iterator(StreamArn=mapping.stream_arn, ShardId=shard,
                                                       ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                                       SequenceNumber=last)["ShardIterator"]
            except self.streams.exceptions.TrimmedDataAccessException:
                pass
        return self.streams.get_shard_iterator(StreamArn=mapping.stream_arn, ShardId=shard,
                                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def _lambda_record(self, mapping: Mapping, record: dict) -> dict:
        body = dict(record["dynamodb"])
        body.pop("ApproximateCreationDateTime", None)  # a datetime from boto3; Lambda sends epoch seconds
        return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": body,
                "eventSource": "aws:dynamodb", "awsRegion": LOCAL_REGION, "eventSourceARN": mapping.stream_arn}

    def _deliver(self, mapping: Mapping, shard: str) -> int:
        batch = mapping.pending[shard][:mapping.batch_size]
        try:
            response = self.stack.functions.invoke(mapping.function, {"Records": batch}) or {}
            failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        except Exception:  # noqa: BLE001 - as Lambda: the whole batch is retried
            log.exception("stream consumer %s failed", mapping.function)
            failures = [batch[0]["dynamodb"]["SequenceNumber"]]
        if not failures:
            mapping.pending[shard] = mapping.pending[shard][len(batch):]
            mapping.attempts.pop(shard, None)
            return len(batch)
        first = min(int(sequence) for sequence in failures)
        done = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) < first]
        mapping.pending[shard] = mapping.pending[shard][len(done):]
        attempts = mapping.attempts[shard] = mapping.attempts.get(shard, 0) + 1
        if attempts >= MAX_ATTEMPTS:  # Lambda's on-failure destination: give up on the record, log it
            log.error("stream consumer %s gave up on record %s after %d attempts", mapping.function, first, attempts)
            mapping.pending[shard] = mapping.pending[shard][1:]
            mapping.attempts.pop(shard, None)
        return len(done)


def start_streams(stack) -> StreamPoller | None:
    poller = StreamPoller(stack)
    return poller.start() if poller.mappings else None
