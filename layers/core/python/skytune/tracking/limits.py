"""Limits of experiment tracking (trials, runs, batches, search). The general ones (names, tags,
param sizes, page size) live in `skytune.limits`; docs/limits.md lists both modules.

Every limit is enforced with a 4xx answer that names the offending field.
"""
from __future__ import annotations

import re

# -- a run ----------------------------------------------------------------------------------
TRIALS_PER_RUN = 20  # each costs two items of the 100-item creation transaction
ARTIFACTS_PER_RUN = 100  # inputs + outputs together
ARTIFACT_URI_MAX_LENGTH = 1024  # the URI is a GSI key (DynamoDB allows 2048 bytes)
ARTIFACT_MEDIA_TYPE_MAX_LENGTH = 256
ARTIFACT_DIGEST_MAX_LENGTH = 256
SOURCE_MAX_LENGTH = 2048  # an ARN is at most 2048 characters
PARAMS_PER_RUN = 1000
METRICS_PER_RUN = 10_000  # metric names (each with exact summaries) one run holds; one item per metric

# -- one log-batch request (MLflow's log_batch limits) ---------------------------------------
BATCH_METRICS_MAX = 1000
BATCH_PARAMS_MAX = 100
BATCH_TAGS_MAX = 100
BATCH_BODY_MAX_BYTES = 1024 * 1024  # the raw request body

# -- metric points --------------------------------------------------------------------------
METRIC_VALUE_MAX_ABS = 1e150  # finite values only; the metric store's summaries keep exact sums within it
# Steps are whole numbers >= 0 (a JSON integer: "5" and true are refused) below 2**53, everywhere:
# log-batch, worker heartbeats, series reads and the search language's at()/window().

# -- metric / param / tag keys ---------------------------------------------------------------
METRIC_NAME_MAX_LENGTH = 250
# Keys may hold letters, digits, and _ - . / : space (MLflow's set plus ':'), so "train/loss" and
# "mlflow.source.name" work; control characters and other punctuation are refused up front, since
# they break URLs, CSV headers and the search language's bare names.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-./: ]+$")

# -- numbers stored as DynamoDB numbers (params): 38 significant digits, 1e-130 <= |x| < 1e126 --
NUMBER_MAX_ABS = 1e126  # numeric params: |x| < this (DynamoDB numbers)
NUMBER_MIN_ABS = 1e-130  # numeric params: |x| >= this, or exactly 0

# -- any request ------------------------------------------------------------------------------
JSON_MAX_DEPTH = 32  # nesting of objects and arrays in a JSON body (400 past it; no route needs more than 8)
# Run ids in paths and bodies: server-made ULIDs (26 characters), or UUIDs for SageMaker jobs' runs.
RUN_ID_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")

# -- reads -----------------------------------------------------------------------------------
SERIES_MAX_POINTS = 100_000  # max_points of a series read
SERIES_BATCH_MAX = 100  # (run, metric) series in one batch read (POST /v1/analytics/series)
SERIES_BATCH_POINTS_MAX = 50_000  # series x max_points of one batch read: the answer stays under Lambda's 6 MB
SEARCH_EXPERIMENTS_MAX = 100  # experiments named in one search
SEARCH_PAGE_MAX = 1000
FILTER_MAX_LENGTH = 10_000
LINEAGE_DEPTH_MAX = 5


def limits_markdown() -> str:
    """docs/limits.md: every limit of `skytune.limits` and this module, with its value and the
    comment beside it in the source (regenerate: python -m skytune.tracking.limits > docs/limits.md)."""
    import inspect

    from skytune import limits as general
    from skytune.artifacts import limits as artifacts
    from skytune.tuning import limits as tuning

    lines = [
        "# Limits",
        "",
        "Generated from `skytune/limits.py`, `skytune/tracking/limits.py`, `skytune/artifacts/limits.py` and `skytune/tuning/limits.py` (a",
        "unit test fails when this page is stale; regenerate with `python -m skytune.tracking.limits >",
        "docs/limits.md`). Every limit is enforced with a 4xx answer whose `error.field` names the offending",
        "field (413 for sizes).",
    ]
    for title, module in (("General", general), ("Experiment tracking", __import__(__name__, fromlist=["_"])),
                          ("Artifacts (presigned uploads)", artifacts), ("Tuning jobs", tuning)):
        lines += ["", f"## {title}", "", "| limit | value | note |", "|---|---|---|"]
        notes = _source_comments(inspect.getsource(module))
        for name, value in vars(module).items():
            if name.isupper() and not name.startswith("_"):
                shown = value.pattern if hasattr(value, "pattern") else value
                cell = str(shown).replace("|", "\\|")
                lines.append(f"| `{name}` | `{cell}` | {notes.get(name, '')} |")
    return "\n".join(lines) + "\n"


def _source_comments(source: str) -> dict[str, str]:
    """NAME -> the `# comment` on its assignment line, or on the lines right above it."""
    notes: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if not text.startswith("--"):
                pending.append(text)
            continue
        match = re.match(r"^([A-Z][A-Z0-9_]*)\s*=", line)
        if match:
            inline = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            notes[match.group(1)] = " ".join(pending + ([inline] if inline else [])).replace("|", "\\|")
        pending = []
    return notes


if __name__ == "__main__":
    print(limits_markdown(), end="")
