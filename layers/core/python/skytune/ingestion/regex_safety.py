"""Static check that rejects regular expressions able to backtrack catastrophically.

A backtracking engine (``re``, ``regex``) takes exponential time when a repeated
sub-pattern can match the same text in many different ways and the overall match
then fails: ``(a+)+$`` against ``"aaaa…!"`` tries every split of the ``a`` run.
Two shapes cause (almost) all of it, and both are rejected:

1. **Nested quantifier** - a repeat that can iterate more than once (``*``, ``+``,
   ``{m,n}`` with ``n > 1``) whose body contains another variable-width repeat
   (``+``, ``*``, ``?``, ``{m,n}`` with ``m < n``): ``(a+)+``, ``(.*)*``, ``(\\d+\\.?)+``,
   ``(\\d+){10}``.
2. **Ambiguous alternation under a quantifier** - a repeat that can iterate more than
   once whose body contains an alternation where two branches can start with the
   same character, or a branch can match the empty string: ``(a|a)*``, ``(\\w|\\d)+``,
   ``(a|ab)*``, ``(a|)+``.

The check is deliberately conservative: some safe patterns are rejected too
(``(\\d+\\.){3}\\d+`` - write ``\\d+\\.\\d+\\.\\d+\\.\\d+``). A repeat is exempt when it
cannot be backtracked into: possessive (``(a+)++``) or with an atomic body
(``(?>a+)+``); an inner repeat is exempt when it is possessive or atomic. Polynomial
blow-ups such as ``.*.*.*x`` are not rejected here: the per-match timeout bounds them.

Why a hand-written parser: ``re._parser`` is private and rewrites the tree
(``(a|a)`` becomes the set ``[aa]``), which hides exactly the alternations the
``regex`` engine does backtrack over, and ``regex`` exposes no parser at all. The
parser below only needs the *structure* (groups, alternations, repeats); every
character-consuming token is handed to ``regex`` itself to learn which characters it
matches, so escapes and classes are interpreted by the engine that will run them.
Syntax we do not understand is rejected, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

# Characters used to compare character classes: every ASCII character plus a few
# non-ASCII letters, digits and spaces that Unicode classes (\w, \d, \s) also match.
# Literal characters of the pattern itself are added per pattern.
_BASE_PROBES: frozenset[str] = frozenset(
    [chr(code) for code in range(128)] + ["é", "Ω", "中", "٣", "\u00a0", "\u2003", "\u0301"]
)

_ZERO_WIDTH_ESCAPES = frozenset("bBAZzGmMK")
_CLASS_ESCAPES = frozenset("dDwWsShHvV")
_UNSUPPORTED_ESCAPES = frozenset("XLRgkQE")  # grapheme clusters, named lists, subroutine calls, quoting
# The body of a fuzzy-matching constraint of the regex package: "{e}", "{e<=1}", "{1<=i+d<=3}".
_FUZZY_BODY = regex.compile(r"[eids0-9<=+,\s]*[eids][eids0-9<=+,\s]*")


class UnsupportedPattern(ValueError):
    """The pattern uses syntax the safety check does not analyse (so it is rejected)."""


class CatastrophicPattern(ValueError):
    """The pattern can backtrack catastrophically; the message says where and how to fix it."""


# --- syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    span: tuple[int, int]


@dataclass(frozen=True)
class CharNode(Node):
    """Consumes exactly one character from ``members`` (projected on the probe alphabet)."""

    members: frozenset[str]


@dataclass(frozen=True)
class EmptyNode(Node):
    """Consumes nothing: anchors, word boundaries, inline flags, comments."""


@dataclass(frozen=True)
class BackrefNode(Node):
    """Matches a previously captured text: any width, any first character."""


@dataclass(frozen=True)
class SeqNode(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AltNode(Node):
    branches: tuple[Node, ...]


@dataclass(frozen=True)
class GroupNode(Node):
    body: Node
    atomic: bool


@dataclass(frozen=True)
class LookaroundNode(Node):
    body: Node


@dataclass(frozen=True)
class RepeatNode(Node):
    body: Node
    min: int
    max: int | None  # None: unbounded
    possessive: bool

    @property
    def can_iterate_again(self) -> bool:
        return self.max is None or self.max > 1

    @property
    def variable(self) -> bool:
        return self.max is None or self.max > self.min


# --- parser ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, pattern: str, class_flags: int) -> None:
        self.pattern = pattern
        self.pos = 0
        self.class_flags = class_flags
        self.probes = _BASE_PROBES | frozenset(pattern)

    def parse(self) -> Node:
        node = self._alternation()
        if self.pos != len(self.pattern):
            raise UnsupportedPattern(f"unbalanced ')' at position {self.pos}")
        return node

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def _alternation(self) -> Node:
        start = self.pos
        branches = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence())
        if len(branches) == 1:
            return branches[0]
        return AltNode((start, self.pos), tuple(branches))

    def _sequence(self) -> Node:
        start = self.pos
        items: list[Node] = []
        while self._peek() and self._peek() not in "|)":
            atom_start = self.pos
            items.append(self._quantified(self._atom(), atom_start))
        return SeqNode((start, self.pos), tuple(items))

    # -- atoms

    def _atom(self) -> Node:
        start = self.pos
        char = self._peek()
        if char == "(":
            return self._group()
        if char == "[":
            return self._char_class()
        if char == "\\":
            return self._escape()
        self.pos += 1
        if char in "^$":
            return EmptyNode((start, self.pos))
        return self._chars(char, start)

    def _chars(self, token: str, start: int) -> CharNode:
        return CharNode((start, self.pos), _members(token, self.class_flags, self.probes))

    def _char_class(self) -> Node:
        start = self.pos
        index = start + 1
        if index < len(self.pattern) and self.pattern[index] == "^":
            index += 1
        if index < len(self.pattern) and self.pattern[index] == "]":
            index += 1  # a ']' first in the class is a literal
        while index < len(self.pattern):
            char = self.pattern[index]
            if char == "\\":
                index = self._escape_end(index)
                continue
            if char == "[" and self.pattern.startswith("[:", index):
                close = self.pattern.find(":]", index + 2)
                if close < 0:
                    raise UnsupportedPattern(f"unterminated POSIX class at position {index}")
                index = close + 2
                continue
            if char == "]":
                self.pos = index + 1
                return self._chars(self.pattern[start : self.pos], start)
            index += 1
        raise UnsupportedPattern(f"unterminated character class at position {start}")

    def _escape_end(self, index: int) -> int:
        """Index just past the escape sequence that starts at ``index`` (a backslash)."""
        letter = self.pattern[index + 1 : index + 2]
        if not letter:
            raise UnsupportedPattern("pattern ends with a backslash")
        end = index + 2
        if letter in "pPN" or (letter in "xuU" and self.pattern[end : end + 1] == "{"):
            if self.pattern[end : end + 1] == "{":
                close = self.pattern.find("}", end)
                if close < 0:
                    raise UnsupportedPattern(f"unterminated escape at position {index}")
                return close + 1
            return end + 1 if letter in "pP" else end
        if letter == "x":
            return end + 2
        if letter == "u":
            return end + 4
        if letter == "U":
            return end + 8
        if letter == "0":
            while end < min(index + 4, len(self.pattern)) and self.pattern[end] in "01234567":
                end += 1
        return end

    def _escape(self) -> Node:
        start = self.pos
        letter = self._peek(1)
        if letter in _ZERO_WIDTH_ESCAPES:
            self.pos += 2
            return EmptyNode((start, self.pos))
        if letter in _UNSUPPORTED_ESCAPES:
            raise UnsupportedPattern(f"unsupported escape '\\{letter}' at position {start}")
        if letter.isdigit() and letter != "0":
            end = self.pos + 1
            while end < len(self.pattern) and self.pattern[end].isdigit():
                end += 1
            token = self.pattern[start:end]
            self.pos = end
            if int(token[1:]) <= _group_count(self.pattern):
                return BackrefNode((start, end))
            return self._chars(token, start)  # an octal escape such as \101
        self.pos = self._escape_end(start)
        if letter.isalpha() and letter not in _CLASS_ESCAPES and letter not in "pPNxuUaftnr":
            raise UnsupportedPattern(f"unsupported escape '\\{letter}' at position {start}")
        return self._chars(self.pattern[start : self.pos], start)

    def _group(self) -> Node:
        start = self.pos
        self.pos += 1
        atomic = False
        lookaround = False
        if self._peek() == "?":
            self.pos += 1
            kind = self._peek()
            if not kind:
                raise UnsupportedPattern(f"pattern ends inside a group at position {start}")
            if kind == ":":
                self.pos += 1
            elif kind == ">":
                self.pos += 1
                atomic = True
            elif kind in "=!":
                self.pos += 1
                lookaround = True
            elif kind == "<" and self._peek(1) and self._peek(1) in "=!":
                self.pos += 2
                lookaround = True
            elif kind == "#":
                close = self.pattern.find(")", self.pos)
                if close < 0:
                    raise UnsupportedPattern(f"unterminated comment at position {start}")
                self.pos = close + 1
                return EmptyNode((start, self.pos))
            elif kind == "P" and self._peek(1) == "<" or kind in "<'":
                closer = "'" if kind == "'" else ">"
                close = self.pattern.find(closer, self.pos + (2 if kind == "P" else 1))
                if close < 0:
                    raise UnsupportedPattern(f"unterminated group name at position {start}")
                self.pos = close + 1
            elif kind == "P" and self._peek(1) == "=":
                close = self.pattern.find(")", self.pos)
                if close < 0:
                    raise UnsupportedPattern(f"unterminated back-reference at position {start}")
                self.pos = close + 1
                return BackrefNode((start, self.pos))
            elif kind.isalpha() or kind == "-":
                return self._inline_flags(start)
            else:
                raise UnsupportedPattern(f"unsupported group syntax '(?{kind}' at position {start}")
        body = self._alternation()
        if self._peek() != ")":
            raise UnsupportedPattern(f"unbalanced '(' at position {start}")
        self.pos += 1
        if lookaround:
            return LookaroundNode((start, self.pos), body)
        return GroupNode((start, self.pos), body, atomic)

    def _inline_flags(self, start: int) -> Node:
        index = self.pos
        while index < len(self.pattern) and (self.pattern[index].isalpha() or self.pattern[index] == "-"):
            index += 1
        flags = self.pattern[self.pos : index]
        terminator = self.pattern[index : index + 1]
        if not set(flags) <= set("aiLmsu-") or terminator not in (")", ":"):
            # x (verbose), V0/V1, w, f, r, b, e change how the pattern is read or matched.
            raise UnsupportedPattern(f"unsupported inline flags '(?{flags}' at position {start}")
        self.pos = index + 1
        if terminator == ")":
            return EmptyNode((start, self.pos))
        body = self._alternation()
        if self._peek() != ")":
            raise UnsupportedPattern(f"unbalanced '(' at position {start}")
        self.pos += 1
        return GroupNode((start, self.pos), body, atomic=False)

    # -- quantifiers

    def _quantified(self, atom: Node, atom_start: int) -> Node:
        while True:
            bounds = self._quantifier()
            if bounds is None:
                return atom
            low, high = bounds
            possessive = False
            if self._peek() == "?":
                self.pos += 1  # lazy: same backtracking, other order
            elif self._peek() == "+":
                self.pos += 1
                possessive = True
            atom = RepeatNode((atom_start, self.pos), atom, low, high, possessive)

    def _quantifier(self) -> tuple[int, int | None] | None:
        char = self._peek()
        if char and char in "*+?":
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{":
            return None
        close = self.pattern.find("}", self.pos)
        if close < 0:
            return None
        body = self.pattern[self.pos + 1 : close]
        if _FUZZY_BODY.fullmatch(body):
            raise UnsupportedPattern(f"fuzzy matching '{{{body}}}' is not supported")
        low_text, comma, high_text = body.partition(",")
        if not (low_text.isdigit() or (comma and low_text == "")) or (high_text and not high_text.isdigit()):
            return None  # '{' that is not a quantifier is a literal; the caller reads it as a char
        if not low_text and not high_text:
            return None
        self.pos = close + 1
        low = int(low_text) if low_text else 0
        if not comma:
            return low, low
        return low, int(high_text) if high_text else None


@lru_cache(maxsize=4096)
def _members(token: str, flags: int, probes: frozenset[str]) -> frozenset[str]:
    compiled = regex.compile(token, flags)
    return frozenset(char for char in probes if compiled.fullmatch(char))


@lru_cache(maxsize=1024)
def _group_count(pattern: str) -> int:
    return regex.compile(pattern).groups


# --- analysis ----------------------------------------------------------------------------


def _width(node: Node) -> tuple[int, int | None]:
    """(minimum, maximum or None) number of characters ``node`` can consume."""
    if isinstance(node, CharNode):
        return 1, 1
    if isinstance(node, (EmptyNode, LookaroundNode)):
        return 0, 0
    if isinstance(node, BackrefNode):
        return 0, None
    if isinstance(node, GroupNode):
        return _width(node.body)
    if isinstance(node, SeqNode):
        low, high = 0, 0
        for item in node.items:
            item_low, item_high = _width(item)
            low += item_low
            high = None if high is None or item_high is None else high + item_high
        return low, high
    if isinstance(node, AltNode):
        widths = [_width(branch) for branch in node.branches]
        highs = [high for _, high in widths]
        return min(low for low, _ in widths), None if None in highs else max(h for h in highs if h is not None)
    if isinstance(node, RepeatNode):
        low, high = _width(node.body)
        if node.max is None:
            return low * node.min, None if high != 0 else 0
        return low * node.min, None if high is None else high * node.max
    raise TypeError(node)


def _first(node: Node, everything: frozenset[str]) -> frozenset[str]:
    """Probe characters that can be the first one ``node`` consumes."""
    if isinstance(node, CharNode):
        return node.members
    if isinstance(node, (EmptyNode, LookaroundNode)):
        return frozenset()
    if isinstance(node, BackrefNode):
        return everything
    if isinstance(node, (GroupNode, RepeatNode)):
        return _first(node.body, everything)
    if isinstance(node, AltNode):
        return frozenset().union(*(_first(branch, everything) for branch in node.branches))
    if isinstance(node, SeqNode):
        first: frozenset[str] = frozenset()
        for item in node.items:
            first |= _first(item, everything)
            if _width(item)[0] > 0:
                break
        return first
    raise TypeError(node)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, SeqNode):
        return node.items
    if isinstance(node, AltNode):
        return node.branches
    if isinstance(node, (GroupNode, LookaroundNode, RepeatNode)):
        return (node.body,)
    return ()


def _committed(node: Node) -> bool:
    """True when the engine cannot backtrack into ``node`` once it has matched."""
    return (isinstance(node, RepeatNode) and node.possessive) or (isinstance(node, GroupNode) and node.atomic)


def _ambiguity_inside(body: Node, everything: frozenset[str], pattern: str) -> str | None:
    """Why ``body`` can match one text in several ways when repeated, or None."""
    if _committed(body):
        return None
    if isinstance(body, RepeatNode) and body.variable and _width(body.body)[1] != 0:
        return f"nested quantifier '{pattern[body.span[0]:body.span[1]]}'"
    if isinstance(body, AltNode):
        firsts = [_first(branch, everything) for branch in body.branches]
        for index, branch in enumerate(body.branches):
            if _width(branch)[0] == 0:
                return f"alternation '{pattern[body.span[0]:body.span[1]]}' has a branch that can match nothing"
            if any(firsts[index] & other for other in firsts[index + 1 :]):
                return f"alternation '{pattern[body.span[0]:body.span[1]]}' has branches that can start with the same character"
    for child in _children(body):
        reason = _ambiguity_inside(child, everything, pattern)
        if reason:
            return reason
    return None


def _find_hazard(node: Node, everything: frozenset[str], pattern: str) -> str | None:
    if isinstance(node, RepeatNode) and node.can_iterate_again and not node.possessive and not _committed(node.body):
        reason = _ambiguity_inside(node.body, everything, pattern)
        if reason:
            return f"{reason} inside the repeat '{pattern[node.span[0]:node.span[1]]}'"
    for child in _children(node):
        reason = _find_hazard(child, everything, pattern)
        if reason:
            return reason
    return None


def parse_structure(pattern: str, flags: int = 0) -> Node:
    """The structural tree of ``pattern`` (already known to compile with ``regex``)."""
    if flags & (regex.VERBOSE | regex.VERSION1 | regex.FULLCASE):
        raise UnsupportedPattern("verbose mode, VERSION1 and full case-folding are not supported")
    ignore_case = bool(flags & regex.IGNORECASE) or regex.search(r"\(\?[a-zA-Z-]*i", pattern) is not None
    class_flags = regex.IGNORECASE if ignore_case else 0
    return _Parser(pattern, class_flags).parse()


def check_backtracking(pattern: str, flags: int = 0) -> None:
    """Raise :class:`CatastrophicPattern` or :class:`UnsupportedPattern` for an unsafe ``pattern``."""
    tree = parse_structure(pattern, flags)
    everything = _BASE_PROBES | frozenset(pattern)
    reason = _find_hazard(tree, everything, pattern)
    if reason:
        raise CatastrophicPattern(
            f"{reason} can backtrack catastrophically; remove the nesting, make the branches "
            "start differently, or make the repeat possessive ('++', '*+') or atomic ('(?>...)')"
        )
