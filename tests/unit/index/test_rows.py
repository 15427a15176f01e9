"""The index's row items (skytune.index.rows): a stored row gives back exactly the record it was
made from, or the run is not stored (and is read from the tables)."""
from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from skytune.index import rows
from tests.unit.index.test_differential import BASE, SETTINGS, _same, json_values, records


@SETTINGS
@given(data=records(most=6), params=json_values)
def test_a_stored_row_decodes_to_the_same_record(data, params):
    """Same values and the same types all the way down (1 is not 1.0 nor True, -0.0 is not 0.0,
    NaN is NaN, big integers exact, datetimes with their time zone), whatever JSON-shaped params a
    run has: the page from rows is the page from the tables."""
    records_, _series = data
    for record in records_:
        record = {**record, "params": {"p": params, **record["params"]}}
        blob = rows.encode(record)
        assert blob is not None
        decoded = rows.decode(blob)
        assert _same(decoded, record), (decoded, record)


def test_what_json_cannot_carry_exactly_is_not_stored():
    record = {"run_id": "r1", "name": "a", "experiment": "e1", "status": "Completed", "trials": [], "parent": None,
              "source": None, "created_at": BASE, "start_time": None, "end_time": None, "params": {}, "tags": {},
              "metric_summaries": {}}
    assert rows.decode(rows.encode(record)) == record
    for params in ({"b": b"\x00"}, {"t": (1, 2)}, {"d": Decimal("1.5")}, {1: "int key"}):
        assert rows.encode({**record, "params": params}) is None, params
    assert rows.encode({**record, "start_time": "2026-01-01"}) is None  # not a datetime: not what the tables give
    noise = random.Random(0)
    big = {f"m{i}": noise.randbytes(60).hex() for i in range(2000)}
    assert len(zlib.compress(repr(big).encode())) > rows.ROW_BYTES_MAX
    assert rows.encode({**record, "metric_summaries": big}) is None
    naive = datetime(2026, 1, 1)
    assert rows.decode(rows.encode({**record, "created_at": naive}))["created_at"].tzinfo is None
    assert rows.decode(rows.encode({**record, "created_at": datetime(2026, 1, 1, tzinfo=UTC)}))["created_at"].tzinfo is not None


@given(st.binary(max_size=64))
def test_bytes_that_are_not_a_row_do_not_decode(blob):
    decoded = rows.decode(blob)
    assert decoded is None or isinstance(decoded, dict)
