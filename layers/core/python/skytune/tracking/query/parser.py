"""Recursive-descent parser for filters, sort keys, columns and aggregates.

Grammar (keywords case-insensitive; precedence NOT > AND > OR)::

    filter     := [or_expr] EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | primary
    primary    := "(" or_expr ")" | "EXISTS" field | field predicate
    predicate  := cmp_op value
                | ["NOT"] "IN" "(" value ("," value)* ")"
                | ["NOT"] ("LIKE" | "ILIKE") string
                | "IS" ["NOT"] "NULL"
    cmp_op     := "=" | "!=" | "<" | "<=" | ">" | ">="
    value      := number | string | "true" | "false"
    field      := ("params" | "tags") "." name
                | "metrics" "." name ["." metric_sel]
                | ["attributes" "."] attribute
    metric_sel := stat | "at" "(" int ")" | "window" "(" int "," int ")" "." window_stat
    name       := bare_name | "`" any text, `` for a backquote "`"

    order_by   := [field ["ASC" | "DESC"] ("," field ["ASC" | "DESC"])*]
    columns    := [field ("," field)*]
    aggregate  := "count" "(" ")" | agg_fn "(" field ")"

A hand-written parser rather than a grammar library because the errors are the product here:
every failure names the 0-based offset, what was expected there and what was found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from skytune.tracking.limits import FILTER_MAX_LENGTH

from .errors import FilterSyntaxError, FilterValidationError
from .expr import And, Compare, Expr, InList, IsNull, Like, Literal, MatchAll, Not, Or
from .fields import (
    ATTRIBUTES,
    RUN_STATUSES,
    SUMMARY_STATS,
    WINDOW_STATS,
    Attribute,
    Field,
    MetricAt,
    MetricStat,
    MetricWindow,
    Param,
    Tag,
)
from .lexer import T, Token, quote, tokenize
from .values import BOOL, NUM, STR, kind_of, parse_iso_timestamp

# Limits (documented in docs/search.md): they bound parse time, recursion and memory per request.
MAX_QUERY_LENGTH = FILTER_MAX_LENGTH  # each text: filter, order_by, columns, group_by, aggregates
MAX_DEPTH = 64
MAX_PREDICATES = 500
MAX_IN_VALUES = 1_000
MAX_ORDER_KEYS = 10
MAX_COLUMNS = 500

_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false", "exists", "asc", "desc"}
)
_PARAM_PREFIXES = frozenset({"params", "param"})
_TAG_PREFIXES = frozenset({"tags", "tag"})
_METRIC_PREFIXES = frozenset({"metrics", "metric"})
_ATTRIBUTE_PREFIXES = frozenset({"attributes", "attribute", "attr"})

FIELD_EXPECTED = "a field (params.<name>, tags.<name>, metrics.<name>.<stat> or an attribute)"
VALUE_EXPECTED = "a value (a number, a quoted string, true or false)"
OPERATOR_EXPECTED = "an operator (=, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, ILIKE, NOT ILIKE, IS NULL, IS NOT NULL)"
STAT_EXPECTED = f"a statistic ({', '.join(SUMMARY_STATS)}), at(<step>) or window(<first>, <last>)"
WINDOW_STAT_EXPECTED = f"a window statistic ({', '.join(WINDOW_STATS)})"

_Result = TypeVar("_Result")


class Parser:
    def __init__(self, text: str):
        if len(text) > MAX_QUERY_LENGTH:
            raise FilterValidationError(
                f"the text is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}",
                position=MAX_QUERY_LENGTH,
                expected=f"at most {MAX_QUERY_LENGTH} characters",
            )
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.predicates = 0

    # -- token helpers ---------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not T.EOF:
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.current
        return token.kind is T.NAME and token.text.lower() in words

    def fail(self, expected: str, token: Token | None = None, after: str | None = None) -> FilterSyntaxError:
        token = token or self.current
        return FilterSyntaxError(position=token.start, expected=expected, found=token.describe(), after=after)

    def expect(self, kind: T, expected: str, after: str | None = None) -> Token:
        if self.current.kind is not kind:
            raise self.fail(expected, after=after)
        return self.advance()

    def expect_end(self, expected: str) -> None:
        if self.current.kind is not T.EOF:
            raise self.fail(expected)

    def source(self, start: int, end: int) -> str:
        return self.text[start:end]

    def previous_end(self) -> int:
        return self.tokens[self.index - 1].end if self.index else 0

    # -- filters ---------------------------------------------------------------------------

    def parse_filter(self) -> Expr:
        if self.current.kind is T.EOF:
            return MatchAll()
        expr = self.parse_or()
        self.expect_end("AND, OR or end of input")
        return expr

    def parse_or(self) -> Expr:
        operands = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Expr:
        operands = [self.parse_not()]
        while self.at_keyword("and"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Expr:
        if self.at_keyword("not"):
            token = self.advance()
            self.enter(token)
            operand = self.parse_not()
            self.depth -= 1
            return Not(operand)
        return self.parse_primary()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterValidationError(
                f"the filter nests deeper than {MAX_DEPTH} levels of parentheses and NOT",
                position=token.start,
                expected=f"at most {MAX_DEPTH} levels of nesting",
            )

    def parse_primary(self) -> Expr:
        token = self.current
        if token.kind is T.LPAREN:
            self.advance()
            self.enter(token)
            if self.current.kind is T.RPAREN:
                raise self.fail("a condition", after="'('")
            expr = self.parse_or()
            self.depth -= 1
            self.expect(T.RPAREN, "AND, OR or ')'")
            return expr
        if self.at_keyword("exists"):
            self.advance()
            target = self.parse_field(after=quote(token.text))
            self.count_predicate(token)
            return IsNull(target, negated=True)
        previous = quote(self.tokens[self.index - 1].text) if self.index else None
        if token.kind is T.EOF:
            raise self.fail("a condition", after=previous)
        target = self.parse_field(after=previous)
        self.count_predicate(token)
        return self.parse_predicate(target, field_start=token.start)

    def count_predicate(self, token: Token) -> None:
        self.predicates += 1
        if self.predicates > MAX_PREDICATES:
            raise FilterValidationError(
                f"the filter has more than {MAX_PREDICATES} conditions",
                position=token.start,
                expected=f"at most {MAX_PREDICATES} conditions",
            )

    def parse_predicate(self, target: Field, field_start: int) -> Expr:
        field_text = quote(self.source(field_start, self.previous_end()))
        token = self.current
        if token.kind is T.OP:
            self.advance()
            value, value_token = self.parse_value(after=quote(token.text))
            self.check_value(target, value, value_token, token.text)
            return Compare(target, token.text, value)
        negated = False
        if self.at_keyword("not"):
            self.advance()
            negated = True
            if not self.at_keyword("in", "like", "ilike"):
                raise self.fail("IN, LIKE or ILIKE", after="'NOT'")
        if self.at_keyword("in"):
            return self.parse_in(target, negated)
        if self.at_keyword("like", "ilike"):
            keyword = self.advance()
            pattern = self.current
            if pattern.kind is not T.STRING:
                raise self.fail("a quoted pattern", after=quote(keyword.text))
            self.advance()
            if target.value_type not in ("any", "string"):
                raise FilterValidationError(
                    f"{target.render()} holds {_describe_type(target)}; LIKE only matches strings",
                    position=keyword.start,
                    expected="a comparison operator for this field",
                )
            return Like(target, pattern.value, negated, keyword.text.lower() == "ilike")  # type: ignore[arg-type]
        if self.at_keyword("is"):
            self.advance()
            is_not = False
            if self.at_keyword("not"):
                self.advance()
                is_not = True
            if not self.at_keyword("null"):
                raise self.fail("NULL", after="'IS NOT'" if is_not else "'IS'")
            self.advance()
            return IsNull(target, negated=is_not)
        raise self.fail(OPERATOR_EXPECTED, after=field_text)

    def parse_in(self, target: Field, negated: bool) -> Expr:
        keyword = self.advance()
        self.expect(T.LPAREN, "'('", after=quote(keyword.text))
        values: list[Literal] = []
        while True:
            value, value_token = self.parse_value(after="'('" if not values else "','")
            self.check_value(target, value, value_token, "IN")
            values.append(value)
            if len(values) > MAX_IN_VALUES:
                raise FilterValidationError(
                    f"an IN list holds at most {MAX_IN_VALUES} values",
                    position=value_token.start,
                    expected=f"at most {MAX_IN_VALUES} values",
                )
            if self.current.kind is T.COMMA:
                self.advance()
                continue
            self.expect(T.RPAREN, "',' or ')'")
            return InList(target, tuple(values), negated)

    def parse_value(self, after: str) -> tuple[Literal, Token]:
        token = self.current
        if token.kind in (T.NUMBER, T.STRING):
            self.advance()
            return token.value, token  # type: ignore[return-value]
        if token.kind is T.NAME:
            word = token.text.lower()
            if word in ("true", "false"):
                self.advance()
                return word == "true", token
            if word == "null":
                raise FilterValidationError(
                    "compare with NULL using IS NULL or IS NOT NULL",
                    position=token.start,
                    expected="IS NULL or IS NOT NULL instead of a comparison with NULL",
                )
        raise self.fail(VALUE_EXPECTED, after=after)

    def check_value(self, target: Field, value: Literal, token: Token, op: str) -> None:
        """Static typing: reject comparisons that could never be true."""
        kind = kind_of(value)
        if kind == BOOL and op in ("<", "<=", ">", ">="):
            raise FilterValidationError(
                "true and false only compare with = or !=",
                position=token.start,
                expected="= or != before a boolean",
            )
        expected_type = target.value_type
        if expected_type == "number" and kind != NUM:
            raise self._type_error(target, token, "a number")
        if expected_type == "string" and kind != STR:
            raise self._type_error(target, token, "a quoted string")
        if expected_type == "timestamp":
            if kind == STR:
                try:
                    parse_iso_timestamp(value)  # type: ignore[arg-type]
                except ValueError:
                    raise FilterValidationError(
                        f"{token.text} is not an ISO-8601 date or date-time",
                        position=token.start,
                        expected="an ISO-8601 date-time such as '2026-01-31T12:00:00Z' or epoch milliseconds",
                    ) from None
            elif kind != NUM:
                raise self._type_error(target, token, "an ISO-8601 string or epoch milliseconds")
        if isinstance(target, Attribute) and target.name == "status" and op in ("=", "!=", "IN"):
            if value not in RUN_STATUSES:
                raise FilterValidationError(
                    f"unknown status {token.text}",
                    position=token.start,
                    expected=f"one of {', '.join(quote(s) for s in RUN_STATUSES)}",
                )

    def _type_error(self, target: Field, token: Token, expected: str) -> FilterValidationError:
        return FilterValidationError(
            f"{target.render()} holds {_describe_type(target)} and cannot be compared with {token.text}",
            position=token.start,
            expected=expected,
        )

    # -- fields ----------------------------------------------------------------------------

    def parse_field(self, after: str | None = None) -> Field:
        token = self.current
        if token.kind is not T.NAME:
            raise self.fail(FIELD_EXPECTED, after=after)
        word = token.text.lower()
        if self.peek().kind is T.DOT:
            if word in _PARAM_PREFIXES:
                return Param(self.parse_dotted_name("a parameter name"))
            if word in _TAG_PREFIXES:
                return Tag(self.parse_dotted_name("a tag name"))
            if word in _METRIC_PREFIXES:
                return self.parse_metric()
            if word in _ATTRIBUTE_PREFIXES:
                self.advance()
                self.advance()
                return self.parse_attribute(self.current)
        if word in _KEYWORDS:
            raise self.fail(FIELD_EXPECTED, after=after)
        return self.parse_attribute(token)

    def parse_attribute(self, token: Token) -> Attribute:
        if token.kind is not T.NAME:
            raise self.fail("an attribute name", token)
        name = token.text.lower()
        if name not in ATTRIBUTES:
            raise FilterValidationError(
                f"unknown field {quote(token.text)}",
                position=token.start,
                expected=f"one of {', '.join(ATTRIBUTES)} or a field starting with params., tags. or metrics.",
            )
        self.advance()
        return Attribute(name)

    def parse_dotted_name(self, expected: str) -> str:
        prefix = self.advance()
        self.advance()  # the dot
        token = self.current
        if token.kind not in (T.NAME, T.QNAME):
            raise self.fail(f"{expected} (write unusual names in backquotes: `my name`)", after=quote(prefix.text + "."))
        self.advance()
        return token.value  # type: ignore[return-value]

    def parse_metric(self) -> Field:
        metric = self.parse_dotted_name("a metric name")
        if self.current.kind is not T.DOT:
            return MetricStat(metric, "last")  # MLflow's `metrics.x` means the latest value
        self.advance()
        token = self.current
        if token.kind is not T.NAME:
            raise self.fail(STAT_EXPECTED, after="'.'")
        word = token.text.lower()
        if word == "at" and self.peek().kind is T.LPAREN:
            self.advance()
            self.advance()
            step = self.parse_step("a step number", after="'at('")
            self.expect(T.RPAREN, "')'", after="the step")
            return MetricAt(metric, step)
        if word == "window" and self.peek().kind is T.LPAREN:
            self.advance()
            self.advance()
            first_token = self.current
            first = self.parse_step("the first step of the window", after="'window('")
            self.expect(T.COMMA, "','", after="the first step")
            last = self.parse_step("the last step of the window", after="','")
            if last < first:
                raise FilterValidationError(
                    f"the window ends at step {last}, before it starts at step {first}",
                    position=first_token.start,
                    expected="window(first, last) with first <= last",
                )
            self.expect(T.RPAREN, "')'", after="the last step")
            self.expect(T.DOT, "'.' and " + WINDOW_STAT_EXPECTED, after="')'")
            stat_token = self.current
            if stat_token.kind is not T.NAME:
                raise self.fail(WINDOW_STAT_EXPECTED, after="'.'")
            stat = stat_token.text.lower()
            if stat not in WINDOW_STATS:
                raise FilterValidationError(
                    f"unknown window statistic {quote(stat_token.text)}",
                    position=stat_token.start,
                    expected=WINDOW_STAT_EXPECTED,
                )
            self.advance()
            return MetricWindow(metric, first, last, stat)
        if word not in SUMMARY_STATS:
            raise FilterValidationError(
                f"unknown metric statistic {quote(token.text)}", position=token.start, expected=STAT_EXPECTED
            )
        self.advance()
        return MetricStat(metric, word)

    def parse_step(self, expected: str, after: str) -> int:
        token = self.current
        if token.kind is not T.NUMBER:
            raise self.fail(expected, after=after)
        if not isinstance(token.value, int):
            raise FilterValidationError(
                f"step {token.text} is not a whole number", position=token.start, expected="a whole step number"
            )
        if token.value < 0:  # steps are logged >= 0 everywhere (tracking.limits)
            raise FilterValidationError(
                f"step {token.text} is negative; steps are whole numbers >= 0",
                position=token.start,
                expected="a step number >= 0",
            )
        self.advance()
        return token.value

    # -- comma lists (order by, columns) ---------------------------------------------------

    def parse_list(self, item: Callable[[], _Result], limit: int, what: str) -> list[_Result]:
        items: list[_Result] = []
        if self.current.kind is T.EOF:
            return items
        while True:
            start = self.current
            items.append(item())
            if len(items) > limit:
                raise FilterValidationError(
                    f"at most {limit} {what} are allowed", position=start.start, expected=f"at most {limit} {what}"
                )
            if self.current.kind is T.EOF:
                return items
            if self.current.kind is not T.COMMA:
                raise self.fail("',' or end of input")
            self.advance()


def _describe_type(target: Field) -> str:
    return {
        "number": "numbers",
        "string": "strings",
        "timestamp": "timestamps",
        "any": "values of any type",
    }[target.value_type]


def parse_filter(text: str | None) -> Expr:
    """Parse a filter; ``None``, empty or blank text matches every run.

    Raises ``FilterSyntaxError`` / ``FilterValidationError`` with the 0-based ``position``.
    """
    if text is None:
        return MatchAll()
    return Parser(text).parse_filter()


def parse_field(text: str) -> Field:
    """Parse one field, e.g. ``metrics.`val/loss`.min``."""
    parser = Parser(text)
    target = parser.parse_field()
    parser.expect_end("end of input")
    return target


__all__ = ["Parser", "parse_field", "parse_filter"]
