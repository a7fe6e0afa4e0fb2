"""Fuzz the JSON APIs with schemathesis against the app's own OpenAPI document.

Each operation of ``/api/openapi.json`` gets valid and invalid requests
generated from its schemas and sent to the app on a fresh copy of the demo
district. Every answer must be free of server errors, have a status, content
type and body the document declares, and every request the document calls
invalid must be refused with a 4xx.

The operations on cases are also run statefully: chains of calls along the
document's links (file a case, then read it and move it on; list cases, then
read one), where a case just filed must also be found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from conftest import DEMO_DISTRICT, add_test_user
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from gridgis.demo.cases import CATEGORY_SHARES
from gridgis.demo.profiles import PROFILES
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


# --- stateful: chains of calls along the document's links ----------------------------------------

LINKED_OPERATIONS = ["createCase", "getCase", "advanceCase", "listCases"]
"""The operations on cases the document links together."""

LINKS = {
    ("createCase", "201", "getCase"),
    ("createCase", "201", "advanceCase"),
    ("advanceCase", "200", "getCase"),
    ("advanceCase", "200", "advanceCase"),
    ("listCases", "200", "getCase"),
}
"""(operation, status, operation its answer links to) the document must declare."""


def _stateful_document() -> dict[str, Any]:
    """The fuzzed document, with new cases placed by a point near the demo's centre.

    The chains start from a case just filed; a body the description allows but the app
    refuses (no point and no address, a point outside China, a year before 1900) would
    end nearly every chain at its first call. Each field's refusals are fuzzed by the
    tests above; here a new case has ``lon``/``lat`` within 0.05° of the centre, and a
    step is taken now (``at`` left out: a random time is mostly before the report).
    """
    document = _fuzzed_document()
    schemas = document["components"]["schemas"]
    lon, lat = PROFILES[DEMO_DISTRICT].centre
    new_case = schemas["NewCase"]
    for name in ("crs", "address", "reported_at", "external_id"):
        del new_case["properties"][name]
    for name, centre in (("lon", lon), ("lat", lat)):
        new_case["properties"][name] = {
            "type": "number",
            "minimum": centre - 0.05,
            "maximum": centre + 0.05,
        }
    new_case["required"] = ["category", "lon", "lat"]
    del schemas["CaseStep"]["properties"]["at"]
    return document


# Only the declared links: schemathesis's own inference of links is off, so the test
# fails when the document loses them.
stateful_schema = schemathesis.openapi.from_dict(
    _stateful_document(),
    config=SchemathesisConfig.from_dict(
        {
            "phases": {"stateful": {"inference": {"algorithms": []}}},
            # Valid requests only: the point of a new case is narrowed to the demo's centre
            # above, so a point outside that range is no invalid request (the app files it);
            # refusals of every field are fuzzed by the tests above.
            "generation": {"mode": "positive"},
        }
    ),
).include(operation_id=LINKED_OPERATIONS)

STATEFUL_SETTINGS = settings(
    max_examples=15,
    stateful_step_count=6,
    # Generation only, as schemathesis runs chains itself: a failing chain replayed to shrink
    # it would meet the database the chains before it changed, and tell nothing.
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
"""15 chains of up to 6 calls: about 100 calls, a few seconds."""


def _links(document: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every link of the document by (operation, status, target operation)."""
    found = {}
    for item in document["paths"].values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                for link in answer.get("links", {}).values():
                    found[(operation["operationId"], status, link["operationId"])] = link
    return found


def test_links_lead_to_declared_operations_and_their_parameters() -> None:
    document = openapi_document()
    parameters = {
        operation["operationId"]: {p["name"] for p in operation.get("parameters", [])}
        for item in document["paths"].values()
        for operation in item.values()
    }
    links = _links(document)
    missing = sorted(LINKS - set(links))
    assert not missing, f"links missing from the document: {missing}"
    wrong = [
        f"{source} {status} -> {target}: {sorted(set(link['parameters']) - parameters[target])}"
        if target in parameters
        else f"{source} {status} -> {target}: no such operation"
        for (source, status, target), link in sorted(links.items())
        if target not in parameters or not set(link["parameters"]) <= parameters[target]
    ]
    assert not wrong, "links to unknown operations or parameters:\n" + "\n".join(wrong)


def test_linked_case_operations_statefully(fuzzed_app: Flask, api_headers: dict[str, str]) -> None:
    """Chains of up to 6 calls along the links, each call checked as above; a case just
    filed must be found, and the chains must have filed a case and read it back by its link.

    (schemathesis's own check of that, ``ensure_resource_availability``, stays silent here:
    it wants every parameter of the follow-up to come from the link, and counts the
    security schemes' header and cookie among them.)
    """
    filed: set[int] = set()
    read_back: set[int] = set()
    lost: set[tuple[str, int]] = set()
    failures: list[Exception] = []

    class CaseChains(stateful_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": fuzzed_app, "headers": api_headers}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            operation = case.operation.definition.raw["operationId"]
            case_id = (case.path_parameters or {}).get("case_id")
            if operation == "createCase" and response.status_code == 201:
                filed.add(response.json()["id"])
            elif case_id in filed and response.status_code == 404:
                lost.add((operation, case_id))
            elif case_id in filed and operation == "getCase" and response.status_code == 200:
                read_back.add(case_id)

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kw: Any,
        ) -> None:
            case.validate_response(
                response, checks=CHECKS, transport_kwargs=kw, recorder=self.recorder
            )

        def step(self, input: StepInput) -> StepOutput:
            try:
                return super().step(input)
            except Exception as exc:  # a check failed, or the app raised: kept, come what may
                failures.append(exc)
                raise

    try:
        CaseChains.run(settings=STATEFUL_SETTINGS)
    except Flaky:
        # Each chain runs against the database the chains before it changed, and schemathesis
        # follows a link or not on a toss Hypothesis does not record, so a chain replayed may
        # draw differently. Its own runner takes that as no failure unless a check failed;
        # so does this test.
        if failures:
            raise failures[0] from None
    assert not lost, f"cases just filed, then not found: {sorted(lost)}"
    assert read_back, f"no case filed ({len(filed)}) was read back through its link"
