"""Errors raised while turning raw AWS payloads into domain objects.

Both are ``ValueError`` subclasses: the caller can fix them (a bad record, a bad
definition), so handlers map them to a 4xx, a ``batchItemFailures`` entry or a
Firehose ``ProcessingFailed`` result, never to a crash of the whole batch.
"""

from __future__ import annotations


class MalformedPayload(ValueError):
    """A payload does not have the shape AWS documents (bad base64, gzip, JSON, protobuf or fields)."""


class MetricDefinitionError(ValueError):
    """A metric definition is rejected; ``field`` names the offending field (e.g. ``MetricDefinitions[2].Regex``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
