"""One error shape and documented codes (issue 9 §1): every code the code base can answer is in
`skytune.errors.ERROR_CODES`, the OpenAPI document's enum and docs/search.md, with one status each."""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import skytune
from skytune.errors import ERROR_CODES, SkytuneError
from skytune.tracking.query import errors as query_errors

ROOT = Path(__file__).resolve().parents[3]


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_domain_error_class_has_a_documented_code_and_status():
    for module in pkgutil.walk_packages(skytune.__path__, "skytune."):
        if ".local" not in module.name and not module.name.endswith(("cli", "__main__")):
            importlib.import_module(module.name)
    importlib.import_module("skytune_api.app")
    classes = [SkytuneError, *_all_subclasses(SkytuneError)]
    assert len(classes) >= 6
    for cls in classes:
        assert cls.code in ERROR_CODES, cls
        assert ERROR_CODES[cls.code][0] == cls.status, cls


def test_codes_written_out_in_the_api_are_documented():
    app = (ROOT / "lambdas" / "api" / "skytune_api" / "app.py").read_text()
    written = set(re.findall(r'error_response\(\d+, "(\w+)"', app))
    assert written and written <= set(ERROR_CODES)


def test_the_openapi_document_lists_exactly_the_codes():
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    code = document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]
    assert code["enum"] == list(ERROR_CODES)


def test_docs_list_every_code_and_every_search_detail_code():
    text = (ROOT / "docs" / "search.md").read_text()
    for code, (status, _when) in ERROR_CODES.items():
        assert re.search(rf"\| `{code}` +\| {status} ", text), code
    for cls in [query_errors.QueryError, *_all_subclasses(query_errors.QueryError)]:
        if cls is not query_errors.QueryError:
            assert f"`{cls.code}`" in text, cls


def test_a_search_error_is_a_validation_error_with_its_kind_in_details():
    # Was: docs/search.md said the code is FilterSyntaxError while the API answered ValidationError.
    error = query_errors.FilterSyntaxError(position=3, expected="a value", found="end of input")
    assert error.to_dict()["code"] == "FilterSyntaxError"
    text = (ROOT / "docs" / "search.md").read_text()
    assert '{"error": {"code": "ValidationError", "field": "filter"' in text
    assert '"details": {"code": "FilterSyntaxError"' in text
