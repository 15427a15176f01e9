from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from skytune import __version__, storage
from skytune_api.context import settings

router = APIGatewayHttpRouter()


class Health(BaseModel):
    status: str
    version: str
    stage: str
    storage: dict[str, str]


@router.get("/health", summary="Service version and storage status", tags=["service"])
def health() -> Health:
    tables = storage.table_status(settings())
    healthy = all(status == "ACTIVE" for status in tables.values())
    return Health(status="ok" if healthy else "degraded", version=__version__, stage=settings().stage, storage=tables)
