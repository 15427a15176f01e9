"""The Python SDK: `skytune.Run`, `skytune.search`, `skytune.Client`. Standard library plus botocore
(SigV4 for a deployed API); never PynamoDB, pydantic or the Lambda-side core."""
from skytune.client.http import ApiError, Client, ServerUnreachable
from skytune.client.run import Rows, Run, search

__all__ = ["ApiError", "Client", "Rows", "Run", "ServerUnreachable", "search"]
