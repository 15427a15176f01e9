"""POST /v1/analytics/columns' core: the column keys of an experiment's runs from the index's lists of
column groups alone, the same (and in the same order) as the scan's and as the keys of full rows."""
from __future__ import annotations

import pytest

from skytune.errors import InvalidInput, NotFound
from skytune.tracking import run_search
from skytune.tracking.records import ColumnsRequest, SearchRequest
from tests.unit.index.test_differential import Index, Repo, Series
from tests.unit.index.test_projection import record


def records() -> list[dict]:
    rows = [record(i) for i in range(30)]
    rows[17]["params"]["late"] = 1            # one run alone has this param, another this tag,
    rows[23]["tags"]["only"] = "x"            # and one a third metric (in another bucket, likely)
    rows[5]["metric_summaries"]["val loss"] = rows[5]["metric_summaries"]["acc"]
    return rows


def test_the_index_answers_every_column_of_the_full_rows_in_their_order_reading_only_id_groups():
    rows = records()
    index = Index(rows, buckets=3)
    got = run_search.columns(Repo(rows), Series({}), ColumnsRequest(experiments=["e1"]), index)
    full = run_search.search(Repo(rows), Series({}), SearchRequest(experiments=["e1"], limit=1000))[0]
    assert got == list(full[0])
    assert got == run_search.columns(Repo(rows), Series({}), ColumnsRequest(experiments=["e1"]))  # the scan
    assert {"params.late", "tags.only", "metrics.`val loss`.max"} <= set(got)
    assert got[-2:] == ["tags.only", "tags.team"]
    assert set().union(*(chunk.loaded for chunk in index.decoded["e1"].chunks)) == {"a"}


def test_chosen_statistics_and_bad_input():
    rows = records()
    got = run_search.columns(Repo(rows), Series({}), ColumnsRequest(experiments=["e1"], metric_stats=["last"]), Index(rows))
    assert [c for c in got if c.startswith("metrics.")] == ["metrics.acc.last", "metrics.loss.last", "metrics.`val loss`.last"]
    with pytest.raises(InvalidInput) as bad:
        run_search.columns(Repo(rows), Series({}), ColumnsRequest(experiments=["e1"], metric_stats=["p99"]), Index(rows))
    assert bad.value.field == "metric_stats"
    with pytest.raises(NotFound):
        run_search.columns(Repo(rows), Series({}), ColumnsRequest(experiments=["nope"]), Index(rows))
