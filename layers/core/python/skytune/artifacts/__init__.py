"""Artifacts of runs: files that go straight to storage through presigned URLs the API issues.

The API never carries the bytes. `POST /v1/runs/{id}/artifacts/upload` answers a presigned PUT for
one object; larger files use an S3 multipart upload (`.../multipart`: create, presigned part URLs,
list the parts already uploaded, complete with the parts' ETags, abort). Every URL binds the
SHA-256 of what it may carry, so storage refuses any other body. On completion the service checks
what was stored (size, digest) and records the file as an output of the run with its URI, size and
digest; lineage follows the URI. Downloads are presigned GETs.

- `keys`: artifact paths, object keys and URIs (`mlflow-artifacts:/<experiment>/<run id>/artifacts/<path>`,
  the same keys MLflow's proxied artifacts use, so both clients see the same files).
- `records`: the request and answer models of the routes.
- `service`: the logic, over a `store` (the `ArtifactStore` protocol): S3 when deployed (its
  adapter lives with the API function, since the core imports no AWS SDK), a directory under
  `skytune local` (`local.DirectoryStore`, whose "presigned" URLs the local server serves, signed
  with HMAC-SHA256 and time-limited).
"""
