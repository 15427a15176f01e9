"""Items of the index table (its own table: rebuildable data, kept apart from the tracking table so
its writes neither feed back into the tracking stream nor count against tracking's capacity).

| item     | pk          | sk                  | attributes                                                   |
|----------|-------------|---------------------|--------------------------------------------------------------|
| manifest | IDX#<exp>   | MANIFEST            | gen, build, buckets, version, runs, chunks (bucket -> version)|
| chunk    | IDX#<exp>   | G<gen>#C<b>#<group> | gen, bucket, group, version, crc, count, blob (index.format) |
| lock     | IDX#<exp>   | LOCK                | owner, expires (epoch s): one folder per experiment at a time|
| row      | IDX#<exp>   | R#<run_id>          | crc, blob: the run's record, for pages shown in full (index.rows) |

A run lives in bucket `crc32(run_id) % buckets`; a bucket is one item per column group (the "a"
item's document lists the bucket's groups and their versions, so a missing group item is detected). A rebuild or a split writes a new generation of
chunks, switches the manifest to it, then deletes the old one.
"""
from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from skytune.storage import table_model

MANIFEST_SK = "MANIFEST"
LOCK_SK = "LOCK"


def index_pk(experiment: str) -> str:
    return f"IDX#{experiment}"


def chunk_sk(gen: int, bucket: int, group: str) -> str:
    return f"G{gen:06d}#C{bucket:05d}#{group}"


ROW_PREFIX = "R#"


def row_sk(run_id: str) -> str:
    return f"{ROW_PREFIX}{run_id}"


@table_model("index_table")
class IndexManifestItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=MANIFEST_SK)
    gen = NumberAttribute()
    build = UnicodeAttribute()  # random per generation: a dropped and rebuilt index never reuses a token
    buckets = NumberAttribute()
    version = NumberAttribute()  # +1 per fold: with `build`, the token a cached result is valid for
    runs = NumberAttribute(default=0)
    chunks = MapAttribute(default=dict)  # str(bucket) -> chunk version


@table_model("index_table")
class IndexChunkItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gen = NumberAttribute()
    bucket = NumberAttribute()
    group = UnicodeAttribute()  # "a", "at:<attribute>", "p:<param>", ... (skytune.index.format)
    version = NumberAttribute()
    crc = NumberAttribute()
    count = NumberAttribute()
    blob = BinaryAttribute(legacy_encoding=False)


@table_model("index_table")
class IndexLockItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=LOCK_SK)
    owner = UnicodeAttribute()
    expires = NumberAttribute()


@table_model("index_table")
class IndexRowItem(Model):
    """One run's record (skytune.index.rows), kept by the same writers as the chunks. Not part of a
    generation: a run's row is overwritten in place by every fold or rebuild that sees the run."""

    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    crc = NumberAttribute()
    blob = BinaryAttribute(legacy_encoding=False)
