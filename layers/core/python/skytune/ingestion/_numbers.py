"""Strict decimal parsing shared by log values and SageMaker hyperparameters.

``float()`` alone is too lenient for text scraped from logs: it accepts ``"1_000"``,
``" nan "`` and ``"infinity"``. We accept plain decimal and scientific notation only,
so what counts as a number is the same everywhere and easy to document.
"""

from __future__ import annotations

import math
import re

# Sign, then digits with an optional fraction (or a bare fraction), then an optional exponent.
DECIMAL_PATTERN = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
INTEGER_PATTERN = re.compile(r"[-+]?\d+")


def parse_decimal(text: str) -> float | None:
    """The finite float written in ``text`` (surrounding whitespace ignored), else None."""
    text = text.strip()
    if not DECIMAL_PATTERN.fullmatch(text):
        return None
    value = float(text)
    # "1e999" is decimal syntax but overflows to inf: not a usable metric value.
    return value if math.isfinite(value) else None


def is_integer_literal(text: str) -> bool:
    return INTEGER_PATTERN.fullmatch(text.strip()) is not None
