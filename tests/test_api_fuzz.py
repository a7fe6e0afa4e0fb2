"""Fuzz the JSON APIs with schemathesis against the app's own OpenAPI document.

Each operation of ``/api/openapi.json`` gets valid and invalid requests
generated from its schemas and sent to the app on a fresh copy of the demo
district. Every answer must be free of server errors, have a status, content
type and body the document declares, and every request the document calls
invalid must be refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from conftest import add_test_user
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from gridgis.demo.cases import CATEGORY_SHARES
from gridgis.users import issue_token
from gridgis.web import create_app
from gridgis.web.db import dispose_engine
from gridgis.web.openapi import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzzed_app(demo_url: str) -> Iterator[Flask]:
    """The app on a fresh demo copy: one per operation, shared by its examples."""
    # HiGHS may take 5 s a request by default: 1 s keeps the suggestions' examples quick.
    application = create_app(
        {"TESTING": True, "DATABASE_URL": demo_url, "PLACEMENT_TIME_LIMIT": 1.0}
    )
    yield application
    dispose_engine(application)


@pytest.fixture
def api_headers(demo_url: str) -> dict[str, str]:
    """An administrator's API token: every route but /api/health and /api/openapi.json needs
    a signed-in user or a token (gridgis.web.auth); tests/test_api_scope.py covers the roles."""
    add_test_user(demo_url, "fuzzer", role="admin")
    engine = create_engine(demo_url)
    try:
        token = issue_token(engine, "fuzzer", actor="test")
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def _fuzzed_document() -> dict[str, Any]:
    """The app's document, with category fields narrowed to the stored categories.

    The app accepts any text there and answers an unknown category with 404; left as
    text, nearly every generated case would stop at that 404 and never be located,
    stored or moved on. Negative examples still send other categories, and the app
    must refuse them (404).
    """
    document = openapi_document()
    schemas = document["components"]["schemas"]
    codes = sorted(CATEGORY_SHARES)
    schemas["NewCase"]["properties"]["category"]["enum"] = codes
    schemas["NewRequest"]["properties"]["service_code"]["enum"] = codes
    return document


# The document is static (no database needed to build it), so the schema is loaded at
# collection; the lazy fixture loader of schemathesis does not support pytest 9.
schema = schemathesis.openapi.from_dict(_fuzzed_document())

SLOW_OPERATIONS = ["densityCells", "placementCoverage", "placementSuggest", "exportData"]
"""Operations that compute for up to seconds a request (Gi* over every cell, walking
networks, a MILP, writing an export file): fewer examples, to keep the suite quick."""

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
}


@schema.exclude(operation_id=SLOW_OPERATIONS).parametrize()
@settings(max_examples=25, **_SETTINGS)
def test_api_never_fails_and_keeps_its_document(
    case: schemathesis.Case, fuzzed_app: Flask, api_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=fuzzed_app, checks=CHECKS, headers=api_headers)


@schema.include(operation_id=SLOW_OPERATIONS).parametrize()
@settings(max_examples=6, **_SETTINGS)
def test_slow_apis_never_fail_and_keep_their_document(
    case: schemathesis.Case, fuzzed_app: Flask, api_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=fuzzed_app, checks=CHECKS, headers=api_headers)
