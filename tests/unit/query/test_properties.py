"""Property tests (hypothesis).

- Round trip: random filter trees -> ``render()`` -> ``parse_filter`` -> the same tree.
- Oracle: random runs and random filters, written as plain tuples and rendered to text by this
  file; the library's verdict must equal a plain-Python evaluation written here from the
  documented rules (it shares no code with the evaluator).
- Sorting and pagination against an independent comparator; LIKE against a plain matcher;
  arbitrary text never crashes the parser with anything but a positioned ``QueryError``.
"""

from __future__ import annotations

import functools
import math
import operator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skytune.tracking.query import (
    RUN_STATUSES,
    And,
    Attribute,
    Compare,
    InList,
    IsNull,
    Like,
    MetricAt,
    MetricStat,
    MetricWindow,
    Not,
    Or,
    Param,
    QueryError,
    RunView,
    SortKey,
    Tag,
    page,
    parse_filter,
    parse_order_by,
    sort_runs,
)
from skytune.tracking.query.values import like_matcher

# Example counts keep the whole folder well under a minute on two shared cores.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Small pools, shared by filters and runs, so that predicates often hit stored values.
NAMES = ["lr", "we`ird", "1st"]
METRICS = ["loss", "val/loss"]
STRING_POOL = ["", "a", "ab", "A", "b%", "x\\", "t1", "t2", "it's", "é\n"]
NUMBER_POOL = [-1, 0, 1, 0.5, 1.0, 2.0, 1e20]
STRING_ATTRIBUTES = ["name", "experiment", "source", "parent", "run_id", "trial", "status"]
TIMESTAMP_ATTRIBUTES = ["created", "started", "ended"]
# ISO literals and the epoch milliseconds they mean, written out by hand for the oracle.
ISO_LITERALS = {"1970-01-01": 0, "2026-01-01T00:00:00Z": 1_767_225_600_000, "2026-01-01T01:00:00.5+01:00": 1_767_225_600_500}
TRIALS = ["t1", "t2", "a"]
LIKE_PATTERNS = ["a%", "A%", "%b%", "_", "A", "T_", "%\\\\", "%\\%", "é_"]
TIMESTAMP_POOL = [0, 1_767_225_600_000, 1_767_225_600_500, 5]
SUMMARY = ["count", "min", "max", "avg", "stddev", "first", "last", "min_step", "max_step", "last_step"]
WINDOW = ["min", "max", "avg", "first", "last", "count"]
COMPARISONS = ["=", "!=", "<", "<=", ">", ">="]

strings = st.one_of(st.sampled_from(STRING_POOL), st.sampled_from(STRING_POOL), st.text(alphabet="ab%_\\'\"é\n`", max_size=3))
numbers = st.one_of(st.sampled_from(NUMBER_POOL), st.integers(-2, 2), st.floats(-4, 4, allow_nan=False))
booleans = st.booleans()
steps = st.integers(0, 3)  # steps are >= 0 (issue 9); a negative one is an error (test_parser)

# ---------------------------------------------------------------------------------------------
# Fields as plain tuples, with the literals that type-check against them.

field_tuples = st.one_of(
    st.tuples(st.just("param"), st.sampled_from(NAMES)),
    st.tuples(st.just("tag"), st.sampled_from(NAMES)),
    st.tuples(st.just("attr"), st.sampled_from(STRING_ATTRIBUTES + TIMESTAMP_ATTRIBUTES)),
    st.tuples(st.just("attr"), st.just("trial")),  # the multi-valued one, more often
    st.tuples(st.just("stat"), st.sampled_from(METRICS), st.sampled_from(SUMMARY)),
    st.tuples(st.just("at"), st.sampled_from(METRICS), steps),
    steps.flatmap(
        lambda low: st.tuples(
            st.just("win"), st.sampled_from(METRICS), st.just(low), st.integers(low, 3), st.sampled_from(WINDOW)
        )
    ),
)


def field_type(field: tuple) -> str:
    if field[0] == "param":
        return "any"
    if field[0] == "tag":
        return "string"
    if field[0] == "attr":
        if field[1] in ("status", "trial"):
            return field[1]
        return "timestamp" if field[1] in TIMESTAMP_ATTRIBUTES else "string"
    return "number"


def literals_for(kind: str) -> st.SearchStrategy:
    return {
        "any": st.one_of(numbers, strings, booleans),
        "string": strings,
        "status": st.sampled_from(RUN_STATUSES),
        "trial": st.sampled_from(TRIALS),
        "number": numbers,
        "timestamp": st.one_of(st.sampled_from(TIMESTAMP_POOL), st.sampled_from(sorted(ISO_LITERALS))),
    }[kind]


@st.composite
def predicate_tuples(draw):
    field = draw(field_tuples)
    kind = field_type(field)
    shape = draw(st.sampled_from(["cmp", "in", "like", "null", "exists"]))
    if shape == "like" and kind in ("any", "string", "status", "trial"):
        pattern = draw(st.one_of(st.sampled_from(LIKE_PATTERNS), st.text(alphabet="abA%_\\é", max_size=5)))
        return ("like", field, pattern, draw(booleans), draw(booleans))
    if shape == "in":
        values = draw(st.lists(literals_for(kind), min_size=1, max_size=4))
        return ("in", field, values, draw(booleans))
    if shape == "null":
        return ("null", field, draw(booleans))
    if shape == "exists":
        return ("exists", field)
    literal = draw(literals_for(kind))
    ops = ["=", "!="] if isinstance(literal, bool) or kind == "status" else COMPARISONS
    return ("cmp", field, draw(st.sampled_from(ops)), literal)


filter_tuples = st.recursive(
    predicate_tuples(),
    lambda children: st.one_of(
        st.tuples(st.just("not"), children),
        st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)

# ---------------------------------------------------------------------------------------------
# This file's own renderer: every name backquoted, every subexpression parenthesised, double
# quotes for strings, keywords in a drawn letter case.


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def text_of_field(field: tuple) -> str:
    match field:
        case ("param", name):
            return "params." + quote_name(name)
        case ("tag", name):
            return "tags." + quote_name(name)
        case ("attr", name):
            return name
        case ("stat", metric, stat):
            return f"metrics.{quote_name(metric)}.{stat}"
        case ("at", metric, step):
            return f"metrics.{quote_name(metric)}.at({step})"
        case ("win", metric, low, high, stat):
            return f"metrics.{quote_name(metric)}.window({low},{high}).{stat}"
    raise AssertionError(field)


def text_of_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def text_of(node: tuple, case) -> str:
    kind = node[0]
    if kind == "cmp":
        return f"{text_of_field(node[1])} {node[2]} {text_of_literal(node[3])}"
    if kind == "in":
        keyword = case("not in") if node[3] else case("in")
        return f"{text_of_field(node[1])} {keyword} ({', '.join(text_of_literal(v) for v in node[2])})"
    if kind == "like":
        keyword = case("ilike") if node[4] else case("like")
        if node[3]:
            keyword = case("not ") + keyword
        return f"{text_of_field(node[1])} {keyword} {text_of_literal(node[2])}"
    if kind == "null":
        return f"{text_of_field(node[1])} {case('is not null' if node[2] else 'is null')}"
    if kind == "exists":
        return f"{case('exists')} {text_of_field(node[1])}"
    if kind == "not":
        return f"{case('not')} ({text_of(node[1], case)})"
    joiner = f" {case(kind)} "
    return joiner.join(f"({text_of(child, case)})" for child in node[1])


# ---------------------------------------------------------------------------------------------
# The oracle: the documented semantics, evaluated directly on plain dicts.


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def type_name(value) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def oracle_value(field: tuple, run: dict):
    match field:
        case ("param", name):
            return run["params"].get(name)
        case ("tag", name):
            return run["tags"].get(name)
        case ("attr", "run_id"):
            return run["id"]
        case ("attr", "trial"):
            return run["attrs"].get("trial") or None
        case ("attr", name):
            return run["attrs"].get(name)
        case ("stat", metric, stat):
            return run["metrics"].get(metric, {}).get(stat)
        case ("at", metric, step):
            found = [v for s, v in run["series"].get(metric, []) if s == step]
            return found[-1] if found else None
        case ("win", metric, low, high, stat):
            if not run["series"].get(metric):
                return None  # never logged: every window statistic is missing, count included
            points = [(s, v) for s, v in run["series"].get(metric, []) if low <= s <= high and not math.isnan(v)]
            values = [v for _, v in points]
            if stat == "count":
                return len(points)
            if not points:
                return None
            if stat == "min":
                return min(values)
            if stat == "max":
                return max(values)
            if stat == "avg":
                return math.fsum(values) / len(values)
            if stat == "first":
                smallest = min(s for s, _ in points)
                return [v for s, v in points if s == smallest][-1]  # the latest at that step, as at()
            largest = max(s for s, _ in points)
            return [v for s, v in points if s == largest][-1]
    raise AssertionError(field)


def oracle_literal(field: tuple, literal):
    if field_type(field) == "timestamp" and isinstance(literal, str):
        return ISO_LITERALS[literal]
    return literal


def same_type_equal(value, literal) -> bool:
    return type_name(value) == type_name(literal) and value == literal


def positive_test(node: tuple, value) -> bool:
    """The non-negated form of a predicate, on one present value."""
    kind = node[0]
    if kind == "cmp":
        op, literal = node[2], oracle_literal(node[1], node[3])
        if op in ("=", "!="):
            return same_type_equal(value, literal)
        if type_name(value) != type_name(literal):
            return False
        return {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op](value, literal)
    if kind == "in":
        return any(same_type_equal(value, oracle_literal(node[1], lit)) for lit in node[2])
    if kind == "like":
        return isinstance(value, str) and like_oracle(node[2], value, node[4])
    raise AssertionError(node)


def oracle(node: tuple, run: dict) -> bool:
    kind = node[0]
    if kind == "not":
        return not oracle(node[1], run)
    if kind == "and":
        return all(oracle(child, run) for child in node[1])
    if kind == "or":
        return any(oracle(child, run) for child in node[1])
    value = oracle_value(node[1], run)
    if kind == "null":
        return is_missing(value) != node[2]
    if kind == "exists":
        return not is_missing(value)
    negative = (kind == "cmp" and node[2] == "!=") or (kind in ("in", "like") and node[3])
    values = value if isinstance(value, list) else [value]
    present = [v for v in values if not is_missing(v)]
    if not present:
        return False
    if negative:
        return all(not positive_test(node, v) for v in present)
    return any(positive_test(node, v) for v in present)


def like_oracle(pattern: str, text: str, case_insensitive: bool) -> bool:
    """Plain recursive LIKE: tokens are ('any',), ('one',) or ('char', c)."""
    tokens, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_\\":
            tokens.append(("char", pattern[i + 1]))
            i += 2
            continue
        tokens.append(("any",) if pattern[i] == "%" else ("one",) if pattern[i] == "_" else ("char", pattern[i]))
        i += 1
    fold = str.lower if case_insensitive else (lambda s: s)

    @functools.cache
    def match(t: int, s: int) -> bool:
        if t == len(tokens):
            return s == len(text)
        token = tokens[t]
        if token[0] == "any":
            return any(match(t + 1, k) for k in range(s, len(text) + 1))
        if s == len(text):
            return False
        if token[0] == "one" or fold(token[1]) == fold(text[s]):
            return match(t + 1, s + 1)
        return False

    return match(0, 0)


# ---------------------------------------------------------------------------------------------
# Random runs.

any_value = st.one_of(numbers, strings, booleans, st.just(math.nan))
metric_value = st.one_of(numbers, st.just(math.nan))


@st.composite
def runs(draw, run_id: str = "r"):
    attrs = {
        "name": draw(st.one_of(st.none(), strings)),
        "experiment": draw(st.sampled_from(["t1", "a", "ab"])),
        "status": draw(st.sampled_from(RUN_STATUSES)),
        "trial": draw(st.lists(st.sampled_from(TRIALS), max_size=2, unique=True)),
        "created": draw(st.sampled_from(TIMESTAMP_POOL)),
        "started": draw(st.one_of(st.none(), st.sampled_from(TIMESTAMP_POOL))),
        "source": draw(st.one_of(st.none(), strings)),
    }
    return {
        "id": draw(st.sampled_from(["r1", "r2", "a", "t1"])) if run_id == "r" else run_id,
        "attrs": attrs,
        "params": draw(st.dictionaries(st.sampled_from(NAMES), any_value)),
        "tags": draw(st.dictionaries(st.sampled_from(NAMES), strings, max_size=3)),
        "metrics": draw(
            st.dictionaries(st.sampled_from(METRICS), st.dictionaries(st.sampled_from(SUMMARY), metric_value), max_size=2)
        ),
        "series": draw(
            st.dictionaries(
                st.sampled_from(METRICS),
                st.lists(st.tuples(st.integers(0, 3), metric_value), max_size=6).map(
                    lambda points: sorted(points, key=lambda p: p[0])
                ),
                max_size=2,
            )
        ),
    }


def to_view(run: dict) -> RunView:
    return RunView(run["id"], run["attrs"], run["params"], run["tags"], run["metrics"], run["series"])


CASES = st.sampled_from([str.upper, str.lower, str.title])


@SETTINGS
@given(node=filter_tuples, sample=st.lists(runs(), min_size=1, max_size=6), case=CASES)
def test_evaluation_matches_the_plain_python_oracle(node, sample, case):
    text = text_of(node, case)
    expr = parse_filter(text)
    for run in sample:
        assert expr.evaluate(to_view(run)) == oracle(node, run), (text, run)
    # The canonical text means the same thing.
    again = parse_filter(expr.render())
    assert again == expr
    assert all(again.evaluate(to_view(run)) == oracle(node, run) for run in sample)


@HEAVY
@given(atoms=st.lists(predicate_tuples(), min_size=15, max_size=30), sample=st.lists(runs(), min_size=4, max_size=6))
def test_many_single_predicates_match_the_oracle(atoms, sample):
    # Many atoms per example: the corner cases (a bool against 1, a trial list against a
    # negative operator, duplicate steps) need many predicate/run pairs to show up.
    views = [to_view(run) for run in sample]
    for atom in atoms:
        text = text_of(atom, str.upper)
        expr = parse_filter(text)
        for run, view in zip(sample, views):
            assert expr.evaluate(view) == oracle(atom, run), (text, run)


# ---------------------------------------------------------------------------------------------
# Round trip of the library's own trees.


def field_node(field: tuple):
    match field:
        case ("param", name):
            return Param(name)
        case ("tag", name):
            return Tag(name)
        case ("attr", name):
            return Attribute(name)
        case ("stat", metric, stat):
            return MetricStat(metric, stat)
        case ("at", metric, step):
            return MetricAt(metric, step)
        case ("win", metric, low, high, stat):
            return MetricWindow(metric, low, high, stat)
    raise AssertionError(field)


def tree(node: tuple):
    kind = node[0]
    if kind == "cmp":
        return Compare(field_node(node[1]), node[2], node[3])
    if kind == "in":
        return InList(field_node(node[1]), tuple(node[2]), node[3])
    if kind == "like":
        return Like(field_node(node[1]), node[2], node[3], node[4])
    if kind == "null":
        return IsNull(field_node(node[1]), node[2])
    if kind == "exists":
        return IsNull(field_node(node[1]), True)
    if kind == "not":
        return Not(tree(node[1]))
    return (And if kind == "and" else Or)(tuple(tree(child) for child in node[1]))


@SETTINGS
@given(node=filter_tuples)
def test_render_then_parse_gives_the_same_tree(node):
    expr = tree(node)
    assert parse_filter(expr.render()) == expr


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("params.tgmeicxl_ `'\"\\()=<>!,-019 ANDORNTINLIKEXSUL%é")), max_size=40))
def test_arbitrary_text_parses_or_fails_with_a_position(text):
    try:
        expr = parse_filter(text)
    except QueryError as error:
        assert error.position is not None and 0 <= error.position <= len(text)
        assert str(error).startswith(f"position {error.position}: ")
    else:
        assert parse_filter(expr.render()) == expr


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_any_unicode_text_parses_or_fails_with_a_position(text):
    try:
        parse_filter(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)


# ---------------------------------------------------------------------------------------------
# LIKE.


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.text(alphabet="aAb%_\\", max_size=7),
    text=st.text(alphabet="aAb%_\\", max_size=8),
    case_insensitive=booleans,
)
def test_like_matches_the_plain_matcher(pattern, text, case_insensitive):
    assert like_matcher(pattern, case_insensitive=case_insensitive)(text) == like_oracle(pattern, text, case_insensitive)


def test_like_has_no_catastrophic_backtracking():
    import time

    matcher = like_matcher("%a%a%a%a%a%a%a%a%b", case_insensitive=False)
    started = time.perf_counter()
    assert not matcher("a" * 20_000)
    assert time.perf_counter() - started < 0.5


# ---------------------------------------------------------------------------------------------
# Sorting and pagination.

SORT_VALUES = st.one_of(st.none(), st.just(math.nan), st.integers(-2, 2), st.sampled_from([0.5, 1.0]), st.sampled_from(["", "a", "ab", "b"]), booleans)


@st.composite
def sortable_runs(draw, min_size: int = 0):
    size = draw(st.integers(min_size, 12))
    result = []
    for index in range(size):
        params = {k: v for k, v in {"x": draw(SORT_VALUES), "y": draw(SORT_VALUES)}.items() if v is not None}
        result.append(RunView(f"r{index:02d}", {"name": draw(st.sampled_from(["a", "b", "ab"]))}, params))
    return draw(st.permutations(result))


orders = st.lists(
    st.tuples(st.sampled_from(["params.x", "params.y", "name", "metrics.nope.max"]), booleans), max_size=3
).map(lambda keys: ", ".join(f"{name} {'DESC' if desc else 'ASC'}" for name, desc in keys))


def oracle_compare(order: list[SortKey], a: RunView, b: RunView) -> int:
    def read(run: RunView, key: SortKey):
        text = key.field.render()
        if text == "name":
            return run.attributes.get("name")
        if text.startswith("params."):
            return run.params.get(text.removeprefix("params."))
        return None

    rank = {"number": 0, "string": 1, "bool": 2, None: 3}
    for key in order:
        va, vb = read(a, key), read(b, key)
        ra, rb = rank[type_name(va)], rank[type_name(vb)]
        if ra != rb:
            return -1 if ra < rb else 1
        if ra == 3 or va == vb:
            continue
        result = -1 if va < vb else 1
        return -result if key.descending else result
    return (a.run_id > b.run_id) - (a.run_id < b.run_id)


@SETTINGS
@given(sample=sortable_runs(), order_text=orders)
def test_sort_matches_an_independent_comparator(sample, order_text):
    order = parse_order_by(order_text)
    expected = sorted(sample, key=functools.cmp_to_key(functools.partial(oracle_compare, order)))
    assert [r.run_id for r in sort_runs(sample, order)] == [r.run_id for r in expected]


@SETTINGS
@given(sample=sortable_runs(), order_text=orders, limit=st.integers(1, 5), inserts=sortable_runs())
def test_pages_cover_every_run_once_in_order_despite_inserts(sample, order_text, limit, inserts):
    order = parse_order_by(order_text)
    inserted = [RunView("new-" + r.run_id, r.attributes, r.params) for r in inserts]
    current, seen, cursor = list(sample), [], None
    for step in range(100):
        result = page(current, order, cursor, limit)
        assert len(result.items) <= limit
        seen += [r.run_id for r in result.items]
        cursor = result.next_cursor
        if cursor is None:
            break
        if step < len(inserted):  # a new run lands somewhere between two requests
            current.append(inserted[step])
    originals = [i for i in seen if not i.startswith("new-")]
    assert originals == [r.run_id for r in sort_runs(sample, order)]
    assert len(seen) == len(set(seen))
