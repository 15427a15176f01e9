"""The PynamoDB implementation of the domain repositories."""
from __future__ import annotations

import base64
import json

from pynamodb.exceptions import PutError

from skytune.storage.items import ExperimentItem
from skytune.tracking.records import Experiment


def encode_cursor(last_evaluated_key: dict | None) -> str | None:
    if not last_evaluated_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None) -> dict | None:
    if not cursor:
        return None
    from skytune.errors import InvalidInput

    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one this API returned", field="cursor") from None


def _conditional_failed(error: PutError) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


class DynamoRepository:
    # -- experiments ----------------------------------------------------------------------
    def insert_experiment(self, experiment: Experiment) -> bool:
        pk, sk = ExperimentItem.key(experiment.name)
        item = ExperimentItem(pk, sk, gsi1sk=experiment.name, **experiment.model_dump())
        try:
            item.save(condition=ExperimentItem.pk.does_not_exist())
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def get_experiment(self, name: str) -> Experiment | None:
        try:
            item = ExperimentItem.get(*ExperimentItem.key(name))
        except ExperimentItem.DoesNotExist:
            return None
        return _experiment(item)

    def list_experiments(self, limit: int, cursor: str | None) -> tuple[list[Experiment], str | None]:
        page = ExperimentItem.listing.query(
            "EXPERIMENTS", limit=limit, last_evaluated_key=decode_cursor(cursor)
        )
        experiments = [_experiment(item) for item in page]
        return experiments, encode_cursor(page.last_evaluated_key)


def _experiment(item: ExperimentItem) -> Experiment:
    return Experiment(
        name=item.name,
        description=item.description,
        tags=dict(item.tags.as_dict() if hasattr(item.tags, "as_dict") else item.tags),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
