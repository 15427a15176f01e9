"""Parsing: the trees the grammar produces, and every error with its position."""

from __future__ import annotations

import pytest

from skytune.tracking.query import (
    And,
    Attribute,
    Compare,
    FilterSyntaxError,
    FilterValidationError,
    InList,
    IsNull,
    Like,
    MatchAll,
    MetricAt,
    MetricStat,
    MetricWindow,
    Not,
    Or,
    Param,
    QueryError,
    Tag,
    parse_field,
    parse_filter,
)
from skytune.tracking.query.parser import MAX_DEPTH, MAX_IN_VALUES, MAX_PREDICATES, MAX_QUERY_LENGTH

LR = Param("lr")


def cmp(name: str, op: str, value: object) -> Compare:
    return Compare(Param(name), op, value)


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_matches_all(text):
    assert parse_filter(text) == MatchAll()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 1", cmp("lr", "=", 1)),
        ("params.lr != 1", cmp("lr", "!=", 1)),
        ("params.lr<1", cmp("lr", "<", 1)),
        ("params.lr<=1", cmp("lr", "<=", 1)),
        ("params.lr >1", cmp("lr", ">", 1)),
        ("params.lr>= 1", cmp("lr", ">=", 1)),
        ("params.lr = -1", cmp("lr", "=", -1)),
        ("params.lr=-1.5e-3", cmp("lr", "=", -0.0015)),
        ("params.lr = 2E+3", cmp("lr", "=", 2000.0)),
        ("params.lr = 1.0", cmp("lr", "=", 1.0)),
        ("params.lr = 'x'", cmp("lr", "=", "x")),
        ('params.lr = "x"', cmp("lr", "=", "x")),
        ("params.lr = TRUE", cmp("lr", "=", True)),
        ("params.lr = false", cmp("lr", "=", False)),
        ("params.lr IN (1, 'a', true)", InList(LR, (1, "a", True))),
        ("params.lr not in (1)", InList(LR, (1,), negated=True)),
        ("params.lr LIKE 'a%'", Like(LR, "a%")),
        ("params.lr NOT LIKE 'a%'", Like(LR, "a%", negated=True)),
        ("params.lr ILIKE 'a%'", Like(LR, "a%", case_insensitive=True)),
        ("params.lr not ilike 'a%'", Like(LR, "a%", negated=True, case_insensitive=True)),
        ("params.lr IS NULL", IsNull(LR)),
        ("params.lr is not null", IsNull(LR, negated=True)),
        ("EXISTS params.lr", IsNull(LR, negated=True)),
        ("NOT EXISTS params.lr", Not(IsNull(LR, negated=True))),
    ],
)
def test_predicates(text, expected):
    assert parse_filter(text) == expected


def test_precedence_not_over_and_over_or():
    a, b, c, d = (cmp(n, "=", 1) for n in "abcd")
    assert parse_filter("params.a = 1 OR params.b = 1 AND params.c = 1") == Or((a, And((b, c))))
    assert parse_filter("NOT params.a = 1 AND params.b = 1") == And((Not(a), b))
    assert parse_filter("(params.a = 1 OR params.b = 1) AND params.c = 1") == And((Or((a, b)), c))
    assert parse_filter("params.a = 1 and params.b = 1 AND params.c = 1 or params.d = 1") == Or((And((a, b, c)), d))
    assert parse_filter("NOT NOT params.a = 1") == Not(Not(a))
    # Parentheses keep their grouping: a AND (b AND c) is not flattened.
    assert parse_filter("params.a = 1 AND (params.b = 1 AND params.c = 1)") == And((a, And((b, c))))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr", Param("lr")),
        ("param.lr", Param("lr")),
        ("params.`model.lr`", Param("model.lr")),
        ("params.`a``b`", Param("a`b")),
        ("params.learning-rate", Param("learning-rate")),
        ("params.and", Param("and")),
        ("tags.`mlflow.user`", Tag("mlflow.user")),
        ("metrics.val_loss.min", MetricStat("val_loss", "min")),
        ("metrics.`val/loss`.MIN", MetricStat("val/loss", "min")),
        ("metrics.val_loss", MetricStat("val_loss", "last")),
        ("metrics.val_loss.last_timestamp", MetricStat("val_loss", "last_timestamp")),
        ("metrics.val_loss.at(10)", MetricAt("val_loss", 10)),
        ("metrics.val_loss.at( 1 )", MetricAt("val_loss", 1)),
        ("metrics.at.at(3)", MetricAt("at", 3)),
        ("metrics.val_loss.window(5, 10).avg", MetricWindow("val_loss", 5, 10, "avg")),
        ("metrics.val_loss.window(5,5).count", MetricWindow("val_loss", 5, 5, "count")),
        ("Name", Attribute("name")),
        ("attributes.status", Attribute("status")),
        ("run_id", Attribute("run_id")),
        ("trial", Attribute("trial")),
    ],
)
def test_fields(text, expected):
    assert parse_field(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\\b'", "a\\b"),
        (r"'tab\there'", "tab\there"),
        (r"'\n\r'", "\n\r"),
        (r"'\u00e9t\u00E9'", "été"),
        (r"'50\%'", "50\\%"),  # kept escaped for LIKE
        (r"'a\_b'", "a\\_b"),
        ("'été 🌍'", "été 🌍"),
        ("\"it's\"", "it's"),
    ],
)
def test_string_escapes(text, value):
    assert parse_filter(f"params.s = {text}") == cmp("s", "=", value)


def test_timestamp_literals_keep_the_text_and_are_checked():
    assert parse_filter("created > '2026-01-31'") == Compare(Attribute("created"), ">", "2026-01-31")
    assert parse_filter("ended <= 1767225600000") == Compare(Attribute("ended"), "<=", 1767225600000)


def test_render_is_canonical_and_parses_back():
    text = "NOT (params.a = 1 OR tags.`b.c` LIKE 'x%') AND metrics.l.window(1, 2).min < 0.5 AND created > '2026-01-01'"
    expr = parse_filter(text)
    rendered = expr.render()
    assert rendered == (
        "NOT (params.a = 1 OR tags.`b.c` LIKE 'x%') AND metrics.l.window(1, 2).min < 0.5 AND created > '2026-01-01'"
    )
    assert parse_filter(rendered) == expr
    assert parse_filter("params.a = 1 and (params.b = 2 and params.c = 3)").render() == (
        "params.a = 1 AND (params.b = 2 AND params.c = 3)"
    )


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "expected", "found"),
    [
        ("params.lr >", 11, "a value", "end of input"),
        ("params.lr > ", 12, "a value", "end of input"),
        ("metrics.val_loss.min > AND", 23, "a value", "'AND'"),
        ("params.lr = 1 params.b = 2", 14, "AND, OR or end of input", "'params'"),
        ("params.lr", 9, "an operator", "end of input"),
        ("params.lr == 1", 11, "a value", "'='"),
        ("params.lr ! 1", 10, "an operator", "'!'"),
        ("(params.lr = 1", 14, "AND, OR or ')'", "end of input"),
        ("params.lr = 1)", 13, "AND, OR or end of input", "')'"),
        ("()", 1, "a condition", "')'"),
        ("params.lr = 1 AND", 17, "a condition", "end of input"),
        ("params.lr = 1 AND OR params.b = 1", 18, "a field", "'OR'"),
        ("params. = 1", 8, "a parameter name", "'='"),
        ("params.1st = 1", 7, "a parameter name", "'1'"),
        ("tags.", 5, "a tag name", "end of input"),
        ("metrics.loss. < 1", 14, "a statistic", "'<'"),
        ("metrics.loss.at() < 1", 16, "a step number", "')'"),
        ("metrics.loss.at(1 < 1", 18, "')'", "'<'"),
        ("metrics.loss.window(1) < 1", 21, "','", "')'"),
        ("metrics.loss.window(1, 2) < 1", 26, "'.' and a window statistic", "'<'"),
        ("params.lr IN 1", 13, "'('", "'1'"),
        ("params.lr IN ()", 14, "a value", "')'"),
        ("params.lr IN (1 2)", 16, "',' or ')'", "'2'"),
        ("params.lr IN (1,)", 16, "a value", "')'"),
        ("params.lr NOT = 1", 14, "IN, LIKE or ILIKE", "'='"),
        ("params.lr LIKE 1", 15, "a quoted pattern", "'1'"),
        ("params.lr IS 1", 13, "NULL", "'1'"),
        ("params.lr IS NOT", 16, "NULL", "end of input"),
        ("params.lr = 'abc", 16, "a closing '", "end of input"),
        ('params.lr = "abc', 16, 'a closing "', "end of input"),
        ("params.`lr = 1", 14, "a closing `", "end of input"),
        ("params.`` = 1", 7, "a name inside the backquotes", "'``'"),
        (r"params.lr = 'a\qb'", 14, "an escape sequence", r"'\q'"),
        (r"params.lr = '\u12'", 13, "four hexadecimal digits", "\"\\u12'\""),
        (r"params.lr = '\ud800'", 13, "a \\u escape outside the surrogate range", r"'\ud800'"),
        ("EXISTS", 6, "a field", "end of input"),
        ("params.lr = 1 § 2", 14, "AND, OR or end of input", "'§'"),
        ("params.lr = .5", 12, "a value", "'.'"),
    ],
)
def test_syntax_errors(text, position, expected, found):
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert error.position == position
    assert error.expected.startswith(expected)
    assert error.found == found
    assert str(error).startswith(f"position {position}: expected {expected}")
    assert error.to_dict()["position"] == position


def test_message_reads_like_the_spec():
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("params.lr < 1 AND metrics.x.max >")
    assert str(caught.value) == (
        "position 33: expected a value (a number, a quoted string, true or false) after '>' but found end of input"
    )


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("metrics.loss.median < 1", 13, "unknown metric statistic 'median'"),
        ("metrics.loss.window(1, 2).stddev < 1", 26, "unknown window statistic 'stddev'"),
        ("metrics.loss.window(5, 2).min < 1", 20, "ends at step 2, before it starts at step 5"),
        ("metrics.loss.at(1.5) < 1", 16, "step 1.5 is not a whole number"),
        ("metrics.loss.at(-1) < 1", 16, "step -1 is negative; steps are whole numbers >= 0"),
        ("metrics.loss.window(-5, 2).min < 1", 20, "step -5 is negative"),
        ("colour = 'red'", 0, "unknown field 'colour'"),
        ("params.a = 1 AND attributes.colour = 1", 28, "unknown field 'colour'"),
        ("status = 'completed'", 9, "unknown status 'completed'"),
        ("status IN ('Completed', 'done')", 24, "unknown status 'done'"),
        ("metrics.loss.min = 'low'", 19, "metrics.loss.min holds numbers"),
        ("metrics.loss.at(3) IN (1, 'x')", 26, "holds numbers"),
        ("metrics.loss.min LIKE 'a%'", 17, "LIKE only matches strings"),
        ("tags.team = 3", 12, "tags.team holds strings"),
        ("name = true", 7, "name holds strings"),
        ("created > 'yesterday'", 10, "'yesterday' is not an ISO-8601 date"),
        ("created > true", 10, "true and false only compare with = or !="),
        ("params.flag < true", 14, "true and false only compare with = or !="),
        ("params.a = NULL", 11, "IS NULL"),
    ],
)
def test_validation_errors(text, position, fragment):
    with pytest.raises(FilterValidationError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"position {position}: ")


def test_validation_error_says_what_was_expected():
    with pytest.raises(FilterValidationError) as caught:
        parse_filter("metrics.loss.mean < 1")
    assert caught.value.expected.startswith("a statistic (count, min, max, avg, stddev, first, last")


def test_limits():
    with pytest.raises(FilterValidationError) as caught:
        parse_filter("params.a = '" + "x" * MAX_QUERY_LENGTH + "'")
    assert caught.value.position == MAX_QUERY_LENGTH

    deep = "(" * (MAX_DEPTH + 1) + "params.a = 1" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(FilterValidationError) as caught:
        parse_filter(deep)
    assert caught.value.position == MAX_DEPTH
    assert parse_filter("(" * MAX_DEPTH + "params.a = 1" + ")" * MAX_DEPTH) == cmp("a", "=", 1)

    with pytest.raises(FilterValidationError):
        parse_filter("NOT " * (MAX_DEPTH + 1) + "params.a = 1")

    many = " OR ".join(f"params.a = {i}" for i in range(MAX_PREDICATES + 1))
    with pytest.raises(FilterValidationError) as caught:
        parse_filter(many)
    assert caught.value.position == many.rindex("params.a")

    values = ", ".join(str(i) for i in range(MAX_IN_VALUES + 1))
    with pytest.raises(FilterValidationError):
        parse_filter(f"params.a IN ({values})")


def test_errors_are_value_errors_with_a_code():
    with pytest.raises(ValueError):
        parse_filter("params.a >")
    assert FilterSyntaxError.code != FilterValidationError.code
    assert issubclass(FilterSyntaxError, QueryError)


def test_statuses_the_language_knows_are_the_run_statuses():
    from skytune.tracking import query
    from skytune.tracking.records import RunStatus

    assert set(query.RUN_STATUSES) == {status.value for status in RunStatus}


# -- issue 9 §1 decisions and issue 12 §4 (SageMaker names) ------------------------------------------
def test_every_text_has_the_documented_length_limit_of_the_api():
    from skytune.tracking import limits as tracking_limits
    from skytune.tracking.query import parse_columns, parse_order_by

    assert MAX_QUERY_LENGTH == tracking_limits.FILTER_MAX_LENGTH == 10_000
    for parse in (parse_filter, parse_order_by, parse_columns):
        with pytest.raises(FilterValidationError):
            parse("name" + " " * MAX_QUERY_LENGTH)


def test_order_by_as_a_list_has_the_same_key_limit_as_the_text():
    from skytune.tracking.query import parse_order_by
    from skytune.tracking.query.parser import MAX_ORDER_KEYS

    assert len(parse_order_by(["name"] * MAX_ORDER_KEYS)) == MAX_ORDER_KEYS
    with pytest.raises(FilterValidationError) as caught:
        parse_order_by(["name"] * (MAX_ORDER_KEYS + 1))  # was: accepted (the text form stopped at 10)
    assert caught.value.item == MAX_ORDER_KEYS
    with pytest.raises(FilterValidationError):
        parse_order_by(["name, run_id"] * 6)


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics.test:accuracy.max", MetricStat("test:accuracy", "max")),
    ("metrics.validation:rmse", MetricStat("validation:rmse", "last")),
    ("metrics.train:loss.at(3)", MetricAt("train:loss", 3)),
    ("metrics.a:b:c-d.window(1, 2).min", MetricWindow("a:b:c-d", 1, 2, "min")),
    ("params.sagemaker:job", Param("sagemaker:job")),
])
def test_sagemaker_names_with_colons_need_no_backquotes(text, expected):
    from skytune.tracking.query import parse_field

    assert parse_field(text) == expected
    assert expected.render() == text.replace("metrics.validation:rmse", "metrics.validation:rmse.last")


def test_sagemaker_sort_by_works_verbatim():
    from skytune.tracking.query import parse_order_by

    # SageMaker's ExperimentAnalytics(sort_by="metrics.test:accuracy.max", sort_order="Descending")
    [key] = parse_order_by("metrics.test:accuracy.max DESC")
    assert key.field == MetricStat("test:accuracy", "max") and key.descending
    assert parse_filter("metrics.test:accuracy.max > 0.9") == parse_filter("metrics.`test:accuracy`.max > 0.9")


@pytest.mark.parametrize(("text", "position"), [("metrics.:a > 1", 8), ("metrics.a: > 1", 9), ("metrics.a::b > 1", 9)])
def test_a_colon_only_joins_word_parts(text, position):
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert caught.value.position == position
