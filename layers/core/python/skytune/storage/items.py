"""Item types of the tracking table (single-table design).

Key layout (pk / sk; gsi1 lists children of a parent; gsi2 looks up by a secondary identity):

| item        | pk               | sk        | gsi1pk              | gsi1sk             |
|-------------|------------------|-----------|---------------------|--------------------|
| experiment  | EXP#<name>       | EXP       | EXPERIMENTS         | <name>             |
"""
from __future__ import annotations

from pynamodb.attributes import MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from skytune.storage import table_model


class ListingIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


@table_model("tracking_table")
class ExperimentItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="EXP")
    gsi1pk = UnicodeAttribute(default="EXPERIMENTS")
    gsi1sk = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    tags = MapAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    listing = ListingIndex()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        return f"EXP#{name}", "EXP"
