"""Request and answer shapes of the artifact routes (`/v1/runs/{run_id}/artifacts/...`)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skytune.artifacts.keys import checked_path
from skytune.tracking import limits as tracking_limits

from skytune.artifacts.limits import (  # noqa: F401 - re-exported for the routes
    MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT, MIN_PART_SIZE, PART_URLS_PER_REQUEST, URL_SECONDS,
)

Sha256Hex = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content, 64 lowercase hex digits")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithPath(_Input):
    path: str = Field(description="The artifact's path under the run's artifacts (relative, '/'-separated; "
                                  "also its output name)", examples=["model/weights.bin"])

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return checked_path(value)


class UploadRequest(_WithPath):
    size: int = Field(ge=0, le=MAX_OBJECT_SIZE, strict=True, description="Size in bytes")
    sha256: str = Sha256Hex
    media_type: str | None = Field(default=None, max_length=tracking_limits.ARTIFACT_MEDIA_TYPE_MAX_LENGTH,
                                   pattern=r"^[\w.+-]+/[\w.+-]+$", examples=["application/json"])


class MultipartRequest(UploadRequest):
    part_size: int = Field(ge=MIN_PART_SIZE, le=MAX_PART_SIZE, strict=True,
                           description="Bytes per part (every part but the last); 5 MiB to 5 GiB")


class PartChecksum(_Input):
    part_number: int = Field(ge=1, le=MAX_PARTS, strict=True)
    sha256: str = Sha256Hex


class PartUrlsRequest(_WithPath):
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[PartChecksum] = Field(min_length=1, max_length=PART_URLS_PER_REQUEST)


class UploadRef(_WithPath):
    upload_id: str = Field(min_length=1, max_length=1024)


class CompletedPart(_Input):
    part_number: int = Field(ge=1, le=MAX_PARTS, strict=True)
    etag: str = Field(min_length=1, max_length=256)
    sha256: str = Sha256Hex


class CompleteMultipart(UploadRequest):
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)


class PresignedRequest(BaseModel):
    method: Literal["PUT", "GET"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="Send exactly these headers (they are signed)")
    expires_at: datetime


class UploadTicket(PresignedRequest):
    uri: str


class MultipartTicket(BaseModel):
    upload_id: str
    uri: str
    part_size: int
    part_count: int


class PartUrl(PresignedRequest):
    part_number: int


class PartUrls(BaseModel):
    parts: list[PartUrl]


class UploadedPart(BaseModel):
    part_number: int
    size: int
    etag: str
    sha256: str | None = None


class UploadedParts(BaseModel):
    upload_id: str
    parts: list[UploadedPart]


class DownloadTicket(PresignedRequest):
    path: str
    uri: str
    size: int | None = None
    digest: str | None = None
