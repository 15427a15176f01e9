"""The filter AST and its evaluator.

Nodes are frozen dataclasses: two filters are equal when their trees are, and ``render()`` gives
canonical text that parses back to an equal tree. ``evaluate(run)`` compiles the tree once into
nested closures (cached on the node), so evaluating one parsed filter over many runs costs a few
function calls per predicate and no tree walking.

Semantics (see docs/search.md, "Typing rules"):

- a comparison holds only between values of the same kind (number, string, boolean);
  a missing value (absent, ``None``, NaN) satisfies no comparison;
- ``!=``, ``NOT IN`` and ``NOT LIKE`` hold exactly when the value is present and the positive form
  does not, so ``params.opt != 'adam'`` is true for ``params.opt = 3`` and false when ``opt`` is
  missing;
- on a multi-valued field (``trial``) a positive form holds if it holds for some value, a
  negative form if it holds for every value;
- ``IS NULL`` holds for a missing value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .fields import Field
from .values import BOOL, MISSING, NUM, STR, kind_of, like_matcher, parse_iso_timestamp

if TYPE_CHECKING:
    from .run_view import RunLike

Literal = int | float | str | bool
Predicate = Callable[["RunLike"], bool]
Test = Callable[[object], bool]

COMPARISON_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}

# Precedence for rendering: a child binding less tightly than its parent gets parentheses.
_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


class Expr:
    """Base class of filter nodes."""

    __slots__ = ()
    precedence = _ATOM

    def render(self) -> str:
        raise NotImplementedError

    def _build(self) -> Predicate:
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        return ()

    def fields(self) -> tuple[Field, ...]:
        """Fields this node reads itself (not its children's)."""
        return ()

    def walk(self) -> Iterator[Expr]:
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))

    def compile(self) -> Predicate:
        """A ``run -> bool`` callable; built once and cached on the node."""
        compiled = self._compiled  # type: ignore[attr-defined]
        if compiled is None:
            compiled = self._build()
            object.__setattr__(self, "_compiled", compiled)
        return compiled

    def evaluate(self, run: RunLike) -> bool:
        return self.compile()(run)

    def __str__(self) -> str:
        return self.render()


def _cache() -> Predicate | None:
    return field(default=None, init=False, repr=False, compare=False)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class MatchAll(Expr):
    """The empty filter."""

    _compiled: Predicate | None = _cache()

    def render(self) -> str:
        return ""

    def _build(self) -> Predicate:
        return lambda run: True


@dataclass(frozen=True, slots=True)
class And(Expr):
    operands: tuple[Expr, ...]
    _compiled: Predicate | None = _cache()
    precedence = _AND

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def render(self) -> str:
        return " AND ".join(_wrap(operand, _AND) for operand in self.operands)

    def _build(self) -> Predicate:
        predicates = tuple(operand.compile() for operand in self.operands)
        if len(predicates) == 2:
            left, right = predicates
            return lambda run: left(run) and right(run)

        def all_hold(run: RunLike) -> bool:
            for predicate in predicates:
                if not predicate(run):
                    return False
            return True

        return all_hold


@dataclass(frozen=True, slots=True)
class Or(Expr):
    operands: tuple[Expr, ...]
    _compiled: Predicate | None = _cache()
    precedence = _OR

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def render(self) -> str:
        return " OR ".join(_wrap(operand, _OR) for operand in self.operands)

    def _build(self) -> Predicate:
        predicates = tuple(operand.compile() for operand in self.operands)
        if len(predicates) == 2:
            left, right = predicates
            return lambda run: left(run) or right(run)

        def any_holds(run: RunLike) -> bool:
            for predicate in predicates:
                if predicate(run):
                    return True
            return False

        return any_holds


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr
    _compiled: Predicate | None = _cache()
    precedence = _NOT

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def render(self) -> str:
        # NOT binds tighter than AND/OR, so only those need parentheses under it.
        inner = self.operand.render()
        return f"NOT ({inner})" if self.operand.precedence < _NOT else f"NOT {inner}"

    def _build(self) -> Predicate:
        predicate = self.operand.compile()
        return lambda run: not predicate(run)


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    """``field <op> literal`` with op one of ``= != < <= > >=``."""

    field: Field
    op: str
    value: Literal
    _compiled: Predicate | None = _cache()

    def fields(self) -> tuple[Field, ...]:
        return (self.field,)

    def render(self) -> str:
        return f"{self.field.render()} {self.op} {render_literal(self.value)}"

    def _build(self) -> Predicate:
        literal = _engine_value(self.field, self.value)
        if self.op == "!=":
            return _lift(self.field, _negate(_equals(literal)), negative=True)
        if self.op == "=":
            return _lift(self.field, _equals(literal), negative=False)
        return _lift(self.field, _ordered(_ORDERING[self.op], literal), negative=False)


@dataclass(frozen=True, slots=True)
class InList(Expr):
    """``field [NOT] IN (literal, ...)``."""

    field: Field
    values: tuple[Literal, ...]
    negated: bool = False
    _compiled: Predicate | None = _cache()

    def fields(self) -> tuple[Field, ...]:
        return (self.field,)

    def render(self) -> str:
        keyword = "NOT IN" if self.negated else "IN"
        return f"{self.field.render()} {keyword} ({', '.join(render_literal(v) for v in self.values)})"

    def _build(self) -> Predicate:
        by_kind: dict[int, set[object]] = {NUM: set(), STR: set(), BOOL: set()}
        for value in self.values:
            literal = _engine_value(self.field, value)
            by_kind[kind_of(literal)].add(literal)
        # Separate sets per kind: True == 1 and hash(True) == hash(1), but true IN (1) is false.
        sets = {kind: frozenset(values) for kind, values in by_kind.items()}

        def member(value: object) -> bool:
            # Only a number, string or boolean can equal a literal; anything else (a missing value,
            # a list or object logged as a parameter) is not looked up, since it may be unhashable
            members = sets.get(kind_of(value))
            return members is not None and value in members

        if self.negated:
            return _lift(self.field, _negate(member), negative=True)
        return _lift(self.field, member, negative=False)


@dataclass(frozen=True, slots=True)
class Like(Expr):
    """``field [NOT] LIKE|ILIKE 'pattern'``."""

    field: Field
    pattern: str
    negated: bool = False
    case_insensitive: bool = False
    _compiled: Predicate | None = _cache()

    def fields(self) -> tuple[Field, ...]:
        return (self.field,)

    def render(self) -> str:
        keyword = "ILIKE" if self.case_insensitive else "LIKE"
        if self.negated:
            keyword = "NOT " + keyword
        return f"{self.field.render()} {keyword} {render_literal(self.pattern)}"

    def _build(self) -> Predicate:
        matcher = like_matcher(self.pattern, case_insensitive=self.case_insensitive)

        def matches(value: object) -> bool:
            return isinstance(value, str) and matcher(value)

        if self.negated:
            return _lift(self.field, _negate(matches), negative=True)
        return _lift(self.field, matches, negative=False)


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    """``field IS [NOT] NULL``; ``EXISTS field`` parses to ``IsNull(field, negated=True)``."""

    field: Field
    negated: bool = False
    _compiled: Predicate | None = _cache()

    def fields(self) -> tuple[Field, ...]:
        return (self.field,)

    def render(self) -> str:
        return f"{self.field.render()} IS {'NOT ' if self.negated else ''}NULL"

    def _build(self) -> Predicate:
        get = self.field.getter()
        if self.negated:
            return lambda run: kind_of(get(run)) != MISSING
        return lambda run: kind_of(get(run)) == MISSING


# ---------------------------------------------------------------------------------------------
# Building blocks of the evaluator.


def _equals(literal: object) -> Test:
    kind = kind_of(literal)
    if kind == STR:
        return lambda value: isinstance(value, str) and value == literal
    if kind == BOOL:
        return lambda value: value.__class__ is bool and value == literal
    return _ordered(operator.eq, literal)


def _ordered(compare: Callable[[object, object], bool], literal: object) -> Test:
    kind = kind_of(literal)
    if kind == STR:
        return lambda value: isinstance(value, str) and compare(value, literal)
    if kind == BOOL:  # the parser only lets = and != through for booleans
        return lambda value: value.__class__ is bool and compare(value, literal)

    def numeric(value: object) -> bool:
        # NaN makes every comparison False by itself; bool is excluded (its class is neither
        # float nor int, and kind_of says BOOL).
        cls = value.__class__
        return (cls is float or cls is int or kind_of(value) == NUM) and compare(value, literal)

    return numeric


def _negate(test: Test) -> Test:
    """The negative form: present and not the positive form."""
    return lambda value: kind_of(value) != MISSING and not test(value)


def _lift(target: Field, test: Test, *, negative: bool) -> Predicate:
    """Turn a test on one value into a predicate on a run, reading ``target``."""
    if not target.multi_valued:
        return target.fuse(test)
    get = target.getter()
    if negative:

        def every(run: RunLike) -> bool:
            values = get(run)
            return values is not None and all(test(v) for v in values)

        return every

    def some(run: RunLike) -> bool:
        values = get(run)
        return values is not None and any(test(v) for v in values)

    return some


def _engine_value(target: Field, literal: Literal) -> object:
    """Timestamps are compared as epoch milliseconds; ISO strings are converted here.
    (The parser has already checked that they convert.)"""
    if target.value_type == "timestamp" and isinstance(literal, str):
        return parse_iso_timestamp(literal)
    return literal


def _wrap(child: Expr, parent_precedence: int) -> str:
    # Same precedence gets parentheses too, so nested AND-in-AND keeps its shape on a round trip.
    text = child.render()
    return f"({text})" if child.precedence <= parent_precedence else text


def render_literal(value: Literal) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "'" + "".join(_escape_char(ch) for ch in value) + "'"


def _escape_char(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch == "'":
        return "\\'"
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if ch < " " or ch == "\x7f":
        return f"\\u{ord(ch):04x}"
    return ch
