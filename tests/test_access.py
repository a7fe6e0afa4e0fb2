"""The one access policy: every route of the app declares who may call it, and each role
gets exactly what :class:`gridgis.access.Policy` answers for it.

The whole route table is run as each role (anonymous, administrator, street office,
analyst) on the demo district, with arguments inside the street office's street: a
route the policy refuses answers 403 (401 or the login page for nobody), one it
allows answers anything but 401/403. A new route that declares no access fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _api_auth import user_token
from conftest import ROUTE_SAMPLE_ARGS, sample_url
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from gridgis.access import Policy
from gridgis.cases.departments import add_department
from gridgis.errors import ForbiddenError, NotFoundError
from gridgis.users import add_user, get_user, issue_token
from gridgis.web.auth import PUBLIC_ROLES, access_of
from gridgis.web.errors import wants_json

ROLES = ("admin", "street", "analyst", "worker", "department")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ANALYST_MAY_CHANGE = {
    "auth.change_password",
    "export_jobs.start_export",
    "export_jobs.cancel_job",
    "notices.mark_read",
    "notices.mark_all_read",
    "notice_pages.read_from_page",
}
"""What an analyst may post: signing in and out, its own password, its exports, its inbox."""


@pytest.fixture(scope="module")
def app(shared_client: FlaskClient) -> Flask:
    return shared_client.application


@pytest.fixture(scope="module")
def samples(app: Flask) -> dict[str, str]:
    """Route arguments inside the busiest street: its code, a community, a cell, a case."""
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            cell = conn.execute(
                text(
                    "SELECT g.code, g.community_code FROM grid_cell g WHERE valid_to IS NULL "
                    "ORDER BY (SELECT count(*) FROM case_record c WHERE c.cell_id = g.id) DESC, "
                    "g.code LIMIT 1"
                )
            ).one()
            case_id = conn.execute(
                text(
                    "SELECT c.id FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                    "WHERE g.code = :code ORDER BY c.id LIMIT 1"
                ),
                {"code": cell.code},
            ).scalar_one()
            draft = conn.execute(text("SELECT coalesce(max(id), 1) FROM layout_draft")).scalar()
    finally:
        engine.dispose()
    return ROUTE_SAMPLE_ARGS | {
        "code": cell.community_code[:9],
        "community": cell.community_code,
        "case_id": str(case_id),
        "service_request_id": str(case_id),
        "draft_id": str(draft),
        "sample_cell": cell.code,
    }


@pytest.fixture(scope="module")
def clients(app: Flask, samples: dict[str, str]) -> Iterator[dict[str, FlaskClient]]:
    """A client per role, signed in by API token (no CSRF token needed); one without."""
    url = app.config["DATABASE_URL"]
    out = {"anonymous": app.test_client()}
    for role in ROLES:
        street = samples["code"] if role == "street" else None
        if role in ("worker", "department"):
            token = _case_role_token(url, role, samples)
        else:
            token = user_token(url, f"access-{role}", role=role, street=street)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        out[role] = client
    yield out


def _case_role_token(url: str, role: str, samples: dict[str, str]) -> str:
    """A grid worker who serves the sample cell, or a department of its district; its token."""
    engine = create_engine(url)
    try:
        extra: dict[str, str] = {}
        if role == "worker":
            with engine.connect() as conn:
                extra["worker"] = conn.execute(
                    text(
                        "SELECT w.external_id FROM grid_worker w "
                        "JOIN worker_cell wc ON wc.worker_id = w.id "
                        "JOIN grid_cell g ON g.id = wc.cell_id "
                        "WHERE g.code LIKE :street ORDER BY g.code = :cell DESC, w.id LIMIT 1"
                    ),
                    {"cell": samples["sample_cell"], "street": samples["code"] + "%"},
                ).scalar_one()
        else:
            add_department(
                engine, "access-dept", "访问测试部门", district=samples["code"][:6], actor="test"
            )
            extra["department"] = "access-dept"
        name = f"access-{role}"
        add_user(engine, name, role=role, password="correct horse battery", actor="test", **extra)
        return issue_token(engine, name, actor="test")
    finally:
        engine.dispose()


def _policy(app: Flask, role: str, samples: dict[str, str]) -> Policy:
    if role == "anonymous":
        return Policy.anonymous()
    if role in ("worker", "department"):
        engine = create_engine(app.config["DATABASE_URL"])
        try:
            return Policy.for_user(get_user(engine, f"access-{role}"))
        finally:
            engine.dispose()
    return Policy(
        name=f"access-{role}", role=role, street=samples["code"] if role == "street" else None
    )


def _routes(app: Flask) -> list[tuple[Any, str]]:
    return [
        (rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_every_route_declares_who_may_call_it(app: Flask) -> None:
    undeclared = [
        rule.endpoint
        for rule, _ in _routes(app)
        if not (
            access_of(app.view_functions[rule.endpoint]) is None
            or isinstance(access_of(app.view_functions[rule.endpoint]), tuple)
        )
    ]
    assert not undeclared, f"routes without a declared access: {undeclared}"


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_each_role_gets_what_the_policy_answers(
    app: Flask, clients: dict[str, FlaskClient], samples: dict[str, str], role: str
) -> None:
    policy = _policy(app, role, samples)
    wrong: list[str] = []
    for rule, method in _routes(app):
        roles = access_of(app.view_functions[rule.endpoint])
        url = sample_url(rule, samples)
        response = clients[role].open(url, method=method)
        status = response.status_code
        where = f"{method} {url} ({rule.endpoint}, roles {roles})"
        if roles == PUBLIC_ROLES:
            if status in (401, 403):
                wrong.append(f"{where}: public but answered {status}")
            continue
        if not policy.signed_in:
            with app.test_request_context(url):
                json_route = wants_json()
            login = status == 302 and "/login" in response.headers.get("Location", "")
            if not (status == 401 if json_route else login):
                wrong.append(f"{where}: anonymous got {status}")
            continue
        named = isinstance(roles, tuple) and role in roles and role in ("worker", "department")
        refused = not policy.may_call(roles) or (  # type: ignore[arg-type]
            method in UNSAFE
            and not policy.changes_anything
            and rule.endpoint not in ANALYST_MAY_CHANGE
            and not named  # a worker or department changes only where its role is named
        )
        if refused and status != 403:
            wrong.append(f"{where}: the policy refuses {role} but it answered {status}")
        if not refused and status in (401, 403):
            wrong.append(
                f"{where}: the policy lets {role} in but it answered {status}: "
                f"{response.get_data(as_text=True)[:200]}"
            )
    assert not wrong, "\n".join(wrong)


def test_the_policy_answers_for_areas_and_cases() -> None:
    office = Policy(name="zhenhai", role="street", street="350304001")
    assert office.may_see("350304001007") and not office.may_see("350304002001")
    assert not office.may_see(None)  # a case in no cell lies in no street
    assert office.may_see_outline("350304") and not office.may_see_outline("350305")
    assert office.within("district", None) == "350304"
    assert office.within("cell", "350304001007") == "350304001007"
    assert office.street_filter(None) == "350304001"
    assert office.area_choice("area", "350304") == "350304001"
    with pytest.raises(ForbiddenError, match=r"`within` was '350304002' but user 'zhenhai'"):
        office.within("cell", "350304002")
    with pytest.raises(NotFoundError, match="case 7 does not exist"):
        office.seen_case(7, "350304002")
    analyst = Policy(name="li", role="analyst")
    assert analyst.may_see(None) and not analyst.may_change("350304001")
    admin = Policy(name="root", role="admin")
    assert admin.may_change(None) and admin.may_edit_layouts()
    assert not Policy.anonymous().may_see("350304")
    assert not Policy.anonymous().may_call(None) and Policy.anonymous().may_call(("*",))
