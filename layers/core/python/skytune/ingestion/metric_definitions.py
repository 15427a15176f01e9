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

Matching runs on RE2 (``google-re2``): linear time in the line's length whatever the
pattern, so no pattern can backtrack catastrophically (it replaced a hand-written backtracking
analyser plus per-match timeouts: a well-kept engine that cannot blow up beats code that guesses
which patterns might). What RE2 cannot run (backreferences, lookaround) is refused when a
definition is registered, and so is a definition that is slow on a benchmark line. One delivery's
matching has a total time budget (:func:`extract_points` ``deadline``): past it, the events left
are handed back to the caller unprocessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import time

import re2

from ._numbers import DECIMAL_PATTERN, is_integer_literal, parse_decimal
from .errors import MetricDefinitionError

MAX_DEFINITIONS = 40  # SageMaker's own limit per training job, kept for compatibility
MAX_NAME_LENGTH = 255
MAX_REGEX_LENGTH = 500  # SageMaker's limit on MetricDefinition.Regex
# Registration: a definition must scan this benchmark line (CloudWatch's largest event, 256 KB of
# log-like text) within SLOW_DEFINITION_S; a simple definition takes ~1 ms.
SLOW_DEFINITION_S = 0.05
_TEXT = ("epoch=12 step=3400 loss=0.123456 val_loss=nan acc=91.3% lr=1e-4 time=0:01:02 "
         "Train Loss: 0.52; Test Accuracy: 91.3%; [INFO] worker-1 | batch 34/512 ") * 1800
BENCHMARK_LINES = (_TEXT, _TEXT[::-1], "a" * len(_TEXT))
RE2_MAX_MEM = 8 << 20  # bytes for a compiled program: bounds what one pattern may cost
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
    pattern: Any  # re2._Regexp
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
    unprocessed: int = 0  # events left for another invocation: the delivery's time budget ran out
    non_finite: int = 0  # value group captured nan/inf or overflowed
    unparseable: int = 0  # value group captured something that is not a decimal number
    bad_step: int = 0  # step group captured something that is not a non-negative integer

    @property
    def skipped(self) -> int:
        return self.non_finite + self.unparseable + self.bad_step


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
    pattern = _compile(source, field)
    if _scan_seconds(pattern) > SLOW_DEFINITION_S:
        raise MetricDefinitionError(field, f"is too slow: scanning a 256 KB benchmark log line took over "
                                           f"{SLOW_DEFINITION_S * 1000:.0f} ms; simplify the pattern")
    value_group = _value_group(pattern)
    if value_group is None:
        raise MetricDefinitionError(
            field, "needs a capturing group for the value, e.g. 'loss: ([0-9.eE+-]+)' or '(?P<value>...)'"
        )
    step_group = STEP_GROUP if STEP_GROUP in pattern.groupindex else None
    return CompiledDefinition(name, source, pattern, value_group, step_group)


def _scan_seconds(pattern) -> float:
    """The best of three timings of one scan of each benchmark line (finding many matches costs per
    point, not per pattern; the best of three ignores a busy machine's pauses; RE2 builds its DFA
    lazily, so the first run also warms it)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        for line in BENCHMARK_LINES:
            pattern.search(line)
        timings.append(time.perf_counter() - started)
        if timings[-1] <= SLOW_DEFINITION_S:
            break
    return min(timings)


def _compile(source: str, field: str):
    options = re2.Options()
    options.log_errors = False
    options.max_mem = RE2_MAX_MEM
    try:
        return re2.compile(source, options)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else str(error)
        if re.search(r"invalid perl operator: \(\?(=|!|<=|<!)|invalid escape sequence: \\[1-9]", reason):
            raise MetricDefinitionError(field, f"uses lookaround or a backreference ({reason}), which skytune's "
                                               "linear-time engine (RE2) cannot run; rewrite the pattern without it") from None
        raise MetricDefinitionError(field, f"is not a valid regular expression for RE2: {reason}") from None
    except (ValueError, OverflowError, TypeError) as error:
        raise MetricDefinitionError(field, f"is not a valid regular expression: {error}") from None


def extract_points(
    definitions: Sequence[CompiledDefinition],
    log_events: Iterable[LogEventLike],
    *,
    deadline: float | None = None,
    stats: ExtractionStats | None = None,
    clock=time.monotonic,
) -> list[ParsedPoint]:
    """Every point the definitions find in the events, in event, definition, match order.

    ``deadline`` (a ``clock()`` value): the delivery's time budget. Checked before each event; the
    events not reached are counted in ``stats.unprocessed`` and contribute no point (the caller
    hands them on: they are the last ``stats.unprocessed`` events).
    """
    stats = stats if stats is not None else ExtractionStats()
    points: list[ParsedPoint] = []
    events = list(log_events)
    for index, event in enumerate(events):
        if deadline is not None and clock() > deadline:
            stats.unprocessed = len(events) - index
            break
        stats.events += 1
        for definition in definitions:
            matches = list(definition.pattern.finditer(event.message))
            for ordinal, match in enumerate(matches):
                point = _point_from_match(definition, match, event, ordinal, stats)
                if point is not None:
                    points.append(point)
    stats.points += len(points)
    return points


def _point_from_match(
    definition: CompiledDefinition,
    match: Any,
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


def _value_group(pattern: Any) -> int | str | None:
    if VALUE_GROUP in pattern.groupindex:
        return VALUE_GROUP
    step_index = pattern.groupindex.get(STEP_GROUP)
    for index in range(1, pattern.groups + 1):
        if index != step_index:
            return index
    return None
