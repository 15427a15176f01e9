"""Lexer: text -> tokens with their character offsets.

Keywords are not special here: ``and``, ``in``, ``like``... come out as ``NAME`` tokens and the
parser decides from context (so ``params.in`` is a parameter named ``in``). A character that
starts no token becomes an ``ERROR`` token, letting the parser say what it expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import FilterSyntaxError


class T(Enum):
    NAME = "name"  # bare word: letters, digits, _, - and inner :, not starting with a digit or -
    QNAME = "quoted name"  # `backquoted`, a doubled backquote stands for one
    NUMBER = "number"
    STRING = "string"
    OP = "operator"  # = != < <= > >=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    DOT = "."
    ERROR = "error"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: T
    text: str  # the source slice
    value: object  # the decoded value: name, number, string
    start: int  # 0-based offset of the first character
    end: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is T.EOF:
            return "end of input"
        return quote(self.text if len(self.text) <= 30 else self.text[:27] + "...")


def quote(text: str) -> str:
    """Text as an error message shows it: in single quotes, or double if it holds one."""
    return f'"{text}"' if "'" in text else f"'{text}'"


# A bare name: letters, digits, _ and -, not starting with a digit or -, with inner ':' between word
# parts, so SageMaker's metric names (train:loss, validation:rmse) need no backquotes. No token
# of the grammar holds ':', so this takes nothing away.
_NAME = re.compile(r"[^\W\d][\w-]*(?::[\w-]+)*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
# Longer literals are refused: stored numbers have at most 38 significant digits and magnitudes in
# 1e-130..1e126 (written out, 1e-130 takes 132 characters), and Python refuses to convert integer
# strings over 4300 digits, which would otherwise escape as a bare ValueError.
NUMBER_MAX_LENGTH = 256
_SPACE = re.compile(r"\s+")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_PUNCTUATION = {"(": T.LPAREN, ")": T.RPAREN, ",": T.COMMA, ".": T.DOT}
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
# Kept as backslash + character so that LIKE patterns can say "a literal % or _".
_LIKE_ESCAPES = ("%", "_")
ESCAPES_EXPECTED = "an escape sequence (\\\\, \\', \\\", \\n, \\t, \\r, \\uXXXX, \\% or \\_)"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, length = 0, len(text)
    while True:
        space = _SPACE.match(text, position)
        if space:
            position = space.end()
        if position >= length:
            tokens.append(Token(T.EOF, "", None, length, length))
            return tokens
        ch = text[position]
        if ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, ch, position, position + 1))
            position += 1
        elif ch == "'" or ch == '"':
            token = _read_string(text, position)
            tokens.append(token)
            position = token.end
        elif ch == "`":
            token = _read_quoted_name(text, position)
            tokens.append(token)
            position = token.end
        elif number := _NUMBER.match(text, position):
            raw = number.group()
            if len(raw) > NUMBER_MAX_LENGTH:
                raise FilterSyntaxError(position=position, expected=f"a number of at most {NUMBER_MAX_LENGTH} characters",
                                        found=Token(T.NUMBER, raw, None, position, number.end()).describe())
            is_float = "." in raw or "e" in raw or "E" in raw
            value = float(raw) if is_float else int(raw)
            tokens.append(Token(T.NUMBER, raw, value, position, number.end()))
            position = number.end()
        elif name := _NAME.match(text, position):
            tokens.append(Token(T.NAME, name.group(), name.group(), position, name.end()))
            position = name.end()
        else:
            operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
            if operator:
                tokens.append(Token(T.OP, operator, operator, position, position + len(operator)))
                position += len(operator)
            else:
                tokens.append(Token(T.ERROR, ch, ch, position, position + 1))
                position += 1


def _read_string(text: str, start: int) -> Token:
    closing = text[start]
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        ch = text[position]
        if ch == closing:
            return Token(T.STRING, text[start : position + 1], "".join(chars), start, position + 1)
        if ch != "\\":
            chars.append(ch)
            position += 1
            continue
        escape = text[position + 1 : position + 2]
        if escape in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[escape])
            position += 2
        elif escape in _LIKE_ESCAPES:
            chars.append("\\" + escape)
            position += 2
        elif escape == "u":
            digits = text[position + 2 : position + 6]
            if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise FilterSyntaxError(
                    position=position,
                    expected="four hexadecimal digits after \\u",
                    found=quote(text[position : position + 6]) if digits else "end of input",
                )
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF:
                raise FilterSyntaxError(
                    position=position,
                    expected="a \\u escape outside the surrogate range D800-DFFF",
                    found=quote(text[position : position + 6]),
                )
            chars.append(chr(code))
            position += 6
        else:
            found = quote("\\" + escape) if escape else "end of input"
            raise FilterSyntaxError(position=position, expected=ESCAPES_EXPECTED, found=found)
    raise FilterSyntaxError(
        position=len(text), expected=f"a closing {closing} for the string opened at {start}", found="end of input"
    )


def _read_quoted_name(text: str, start: int) -> Token:
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        ch = text[position]
        if ch == "`":
            if text.startswith("``", position):
                chars.append("`")
                position += 2
                continue
            if not chars:
                raise FilterSyntaxError(position=start, expected="a name inside the backquotes", found="'``'")
            return Token(T.QNAME, text[start : position + 1], "".join(chars), start, position + 1)
        chars.append(ch)
        position += 1
    raise FilterSyntaxError(
        position=len(text), expected=f"a closing ` for the name opened at {start}", found="end of input"
    )
