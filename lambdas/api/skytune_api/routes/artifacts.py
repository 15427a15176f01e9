"""A run's artifacts through presigned URLs (skytune.artifacts): the API issues URLs, checks what
was stored, and records the file as an output of the run; the bytes never pass through the API."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from skytune.artifacts import records, service
from skytune.tracking.records import Run
from skytune_api.artifact_store import artifact_store
from skytune_api.context import repository
from skytune_api.routes._common import errors
from skytune_api.routes._params import RunId

router = APIGatewayHttpRouter()
_TAGS = ["artifacts"]
_URLS = (f"URLs are valid for {records.URL_SECONDS} s and allow only what they name (one object or one part, "
         "the SHA-256 declared); send the answer's `headers` with the request.")


def _store():
    # The local server answers its "presigned" URLs on the host the caller reached it by (Host is
    # checked by the local server's front door); S3 ignores it.
    return artifact_store(f"http://{router.current_event.request_context.domain_name}")


@router.post("/runs/<run_id>/artifacts/upload", tags=_TAGS, responses=errors(400, 404, 415),
             summary="A presigned PUT URL for one artifact (up to 5 GiB; larger files: multipart)",
             description=_URLS + " Then call `.../artifacts/complete`.")
def start_upload(run_id: RunId, body: records.UploadRequest) -> records.UploadTicket:
    return service.start_upload(repository(), _store(), run_id, body)


@router.post("/runs/<run_id>/artifacts/complete", tags=_TAGS, responses=errors(400, 404, 409, 415),
             summary="Check an uploaded artifact (size, SHA-256) and record it as an output of the run",
             description="400 with `details.code` SizeMismatch or BadDigest when the stored object is not the declared one.")
def complete_upload(run_id: RunId, body: records.UploadRequest) -> Run:
    return service.complete_upload(repository(), _store(), run_id, body)


@router.post("/runs/<run_id>/artifacts/multipart", tags=_TAGS, responses=errors(400, 404, 415),
             summary="Start a multipart upload (parts of 5 MiB to 5 GiB, at most 10,000)")
def start_multipart(run_id: RunId, body: records.MultipartRequest) -> records.MultipartTicket:
    return service.start_multipart(repository(), _store(), run_id, body)


@router.post("/runs/<run_id>/artifacts/multipart/part-urls", tags=_TAGS, responses=errors(400, 404, 415),
             summary=f"Presigned PUT URLs for up to {records.PART_URLS_PER_REQUEST} parts, each bound to its SHA-256",
             description=_URLS + " Keep each part's `ETag` response header for `.../multipart/complete`.")
def part_urls(run_id: RunId, body: records.PartUrlsRequest) -> records.PartUrls:
    return service.part_urls(repository(), _store(), run_id, body)


@router.get("/runs/<run_id>/artifacts/multipart/parts", tags=_TAGS, responses=errors(400, 404),
            summary="The parts an unfinished multipart upload holds (to resume it)")
def list_parts(run_id: RunId, path: Annotated[str, Query(min_length=1, max_length=1024)],
               upload_id: Annotated[str, Query(min_length=1, max_length=1024)]) -> records.UploadedParts:
    return service.list_parts(repository(), _store(), run_id, records.UploadRef(path=path, upload_id=upload_id))


@router.post("/runs/<run_id>/artifacts/multipart/complete", tags=_TAGS, responses=errors(400, 404, 409, 415),
             summary="Complete a multipart upload (parts with their ETags and SHA-256) and record the output",
             description="400 names the part whose ETag or SHA-256 is not the uploaded one, a part too small, or a "
                         "total that is not `size`.")
def complete_multipart(run_id: RunId, body: records.CompleteMultipart) -> Run:
    return service.complete_multipart(repository(), _store(), run_id, body)


@router.post("/runs/<run_id>/artifacts/multipart/abort", tags=_TAGS, responses=errors(400, 404, 415),
             summary="Abort a multipart upload (its parts are deleted)")
def abort_multipart(run_id: RunId, body: records.UploadRef) -> dict:
    service.abort_multipart(repository(), _store(), run_id, body)
    return {"aborted": body.upload_id}


@router.get("/runs/<run_id>/artifacts/download", tags=_TAGS, responses=errors(400, 404),
            summary="A presigned GET URL for an artifact, with its recorded size and digest")
def download(run_id: RunId, path: Annotated[str, Query(min_length=1, max_length=1024)]) -> records.DownloadTicket:
    return service.download(repository(), _store(), run_id, path)
