"""SageMaker-compatible metric definitions: validate them once, then scrape log lines.

A definition is ``{"Name": "train:loss", "Regex": "Train Loss: ([0-9\\\\.]+)"}``, exactly
as in SageMaker's ``AlgorithmSpecification.MetricDefinitions``. For each log event and
each definition every non-overlapping match (``finditer``) yields one point:

* value - the group named ``value`` if the regex has one, else the first capturing
  group that is not named ``step``. It must capture a plain decimal number
  (``0.52``, ``-1e-3``, ``.5``); ``nan``/``inf`` and anything else are skipped and counted.
* step - the group named ``step`` (a non-negative base-10 integer), else ``None``
  and the store numbers the points by occurrence.
* timestamp - the log event's timestamp; ``event_id`` and ``ordinal`` (index of the
  match among this definition's matches in this event) make every point's identity
  stable across re-deliveries (a skipped match keeps its ordinal: the next one is not
  renumbered).

Runaway regexes are stopped twice: :func:`validate_definitions` rejects patterns that
can backtrack catastrophically (see :mod:`.regex_safety`), and every match runs under a
``regex`` timeout so one pathological line cannot stall a batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import regex

from ._numbers import DECIMAL_PATTERN, is_integer_literal, parse_decimal
from .errors import MetricDefinitionError
from .regex_safety import CatastrophicPattern, UnsupportedPattern, check_backtracking

MAX_DEFINITIONS = 40  # SageMaker's own limit per training job, kept for compatibility
MAX_NAME_LENGTH = 255
MAX_REGEX_LENGTH = 500  # SageMaker's limit on MetricDefinition.Regex
DEFAULT_MATCH_TIMEOUT_S = 0.05  # a linear pattern scans a 256 KB event in ~2 ms
VALUE_GROUP = "value"
STEP_GROUP = "step"

# Letters, digits and _ . : / - + = @, with single inner spaces: covers SageMaker's
# built-in names ("train:loss", "validation:rmse") and common "Validation-accuracy".
METRIC_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:/+=@-]+(?: [A-Za-z0-9_.:/+=@-]+)*")
_DEFINITION_KEYS = frozenset({"Name", "Regex"})


@dataclass(frozen=True)
class CompiledDefinition:
    """A validated definition, ready to match."""

    name: str
    source: str
    pattern: regex.Pattern[str]
    value_group: int | str
    step_group: str | None


@dataclass(frozen=True)
class ParsedPoint:
    """One metric value scraped from one log event."""

    metric: str
    value: float
    step: int | None
    timestamp_ms: int
    event_id: str
    ordinal: int

    @property
    def order_key(self) -> tuple[int, str, int]:
        """Delivery-independent order: use it to number step-less points by occurrence."""
        return (self.timestamp_ms, self.event_id, self.ordinal)


@dataclass
class ExtractionStats:
    """What :func:`extract_points` looked at and why it skipped what it skipped."""

    events: int = 0
    points: int = 0
    timed_out: int = 0  # (definition, event) pairs abandoned at the match timeout
    non_finite: int = 0  # value group captured nan/inf or overflowed
    unparseable: int = 0  # value group captured something that is not a decimal number
    bad_step: int = 0  # step group captured something that is not a non-negative integer

    @property
    def skipped(self) -> int:
        return self.timed_out + self.non_finite + self.unparseable + self.bad_step


class LogEventLike(Protocol):
    id: str
    timestamp_ms: int
    message: str


def validate_definitions(
    definitions: Any, *, field_prefix: str = "MetricDefinitions"
) -> list[CompiledDefinition]:
    """Check and compile ``[{"Name": ..., "Regex": ...}, ...]``; raise :class:`MetricDefinitionError`.

    Rejected: not a list of objects, more than :data:`MAX_DEFINITIONS`, unknown keys,
    names that are empty/too long/outside :data:`METRIC_NAME_PATTERN` or repeated,
    regexes that are empty/longer than :data:`MAX_REGEX_LENGTH`/invalid/without a
    capturing group for the value, and regexes that can backtrack catastrophically.
    """
    if not isinstance(definitions, Sequence) or isinstance(definitions, (str, bytes)):
        raise MetricDefinitionError(field_prefix, "must be a list of {Name, Regex} objects")
    if len(definitions) > MAX_DEFINITIONS:
        raise MetricDefinitionError(field_prefix, f"at most {MAX_DEFINITIONS} definitions are allowed")
    compiled: list[CompiledDefinition] = []
    seen: set[str] = set()
    for index, definition in enumerate(definitions):
        field = f"{field_prefix}[{index}]"
        if not isinstance(definition, Mapping):
            raise MetricDefinitionError(field, "must be an object with Name and Regex")
        unknown = sorted(set(definition) - _DEFINITION_KEYS)
        if unknown:
            raise MetricDefinitionError(f"{field}.{unknown[0]}", "unknown field; only Name and Regex are allowed")
        name = _validate_name(definition.get("Name"), f"{field}.Name")
        if name in seen:
            raise MetricDefinitionError(f"{field}.Name", f"duplicate metric name {name!r}")
        seen.add(name)
        compiled.append(compile_definition(name, definition.get("Regex"), f"{field}.Regex"))
    return compiled


def compile_definition(name: str, source: Any, field: str = "Regex") -> CompiledDefinition:
    """Compile one regex for metric ``name`` after the length, syntax, group and safety checks."""
    if not isinstance(source, str) or not source:
        raise MetricDefinitionError(field, "is required and must be a non-empty string")
    if len(source) > MAX_REGEX_LENGTH:
        raise MetricDefinitionError(field, f"must be at most {MAX_REGEX_LENGTH} characters")
    try:
        pattern = regex.compile(source)
    except (regex.error, ValueError, OverflowError) as error:
        raise MetricDefinitionError(field, f"is not a valid regular expression: {error}") from None
    try:
        check_backtracking(source, pattern.flags)
    except (CatastrophicPattern, UnsupportedPattern) as error:
        raise MetricDefinitionError(field, str(error)) from None
    value_group = _value_group(pattern)
    if value_group is None:
        raise MetricDefinitionError(
            field, "needs a capturing group for the value, e.g. 'loss: ([0-9.eE+-]+)' or '(?P<value>...)'"
        )
    step_group = STEP_GROUP if STEP_GROUP in pattern.groupindex else None
    return CompiledDefinition(name, source, pattern, value_group, step_group)


def extract_points(
    definitions: Sequence[CompiledDefinition],
    log_events: Iterable[LogEventLike],
    *,
    timeout_s: float = DEFAULT_MATCH_TIMEOUT_S,
    stats: ExtractionStats | None = None,
) -> list[ParsedPoint]:
    """Every point the definitions find in the events, in event, definition, match order.

    A (definition, event) pair whose matching exceeds ``timeout_s`` contributes no
    point at all (not a prefix of its matches) and is counted in ``stats.timed_out``.
    """
    stats = stats if stats is not None else ExtractionStats()
    points: list[ParsedPoint] = []
    for event in log_events:
        stats.events += 1
        for definition in definitions:
            try:
                matches = list(definition.pattern.finditer(event.message, timeout=timeout_s))
            except TimeoutError:
                stats.timed_out += 1
                continue
            for ordinal, match in enumerate(matches):
                point = _point_from_match(definition, match, event, ordinal, stats)
                if point is not None:
                    points.append(point)
    stats.points += len(points)
    return points


def _point_from_match(
    definition: CompiledDefinition,
    match: regex.Match[str],
    event: LogEventLike,
    ordinal: int,
    stats: ExtractionStats,
) -> ParsedPoint | None:
    text = match.group(definition.value_group)
    value = parse_decimal(text) if text is not None else None
    if value is None:
        if text is not None and _is_non_finite(text):
            stats.non_finite += 1
        else:
            stats.unparseable += 1
        return None
    step: int | None = None
    if definition.step_group is not None:
        step_text = match.group(definition.step_group)
        if step_text is None or not is_integer_literal(step_text) or int(step_text) < 0:
            stats.bad_step += 1
            return None
        step = int(step_text)
    return ParsedPoint(definition.name, value, step, event.timestamp_ms, event.id, ordinal)


def _is_non_finite(text: str) -> bool:
    stripped = text.strip()
    if DECIMAL_PATTERN.fullmatch(stripped):
        return True  # decimal syntax that overflowed, e.g. 1e999
    try:
        return not math.isfinite(float(stripped))
    except ValueError:
        return False


def _validate_name(name: Any, field: str) -> str:
    if not isinstance(name, str) or not name:
        raise MetricDefinitionError(field, "is required and must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise MetricDefinitionError(field, f"must be at most {MAX_NAME_LENGTH} characters")
    if not METRIC_NAME_PATTERN.fullmatch(name):
        raise MetricDefinitionError(
            field, "may contain letters, digits, single inner spaces and _ . : / - + = @ only"
        )
    return name


def _value_group(pattern: regex.Pattern[str]) -> int | str | None:
    if VALUE_GROUP in pattern.groupindex:
        return VALUE_GROUP
    step_index = pattern.groupindex.get(STEP_GROUP)
    for index in range(1, pattern.groups + 1):
        if index != step_index:
            return index
    return None
