"""The party members register and 党员积分 as JSON, under ``/api/party``.

Routes
------
``GET /api/party/members?organisation=&kind=&community=&cell=&age=&reported=&limit=&offset=``
    The members the user sees (:func:`gridgis.party.members.list_members`): an
    administrator every member; a street office or grid worker the members living
    or organised in its street, personal data masked for those living elsewhere.
    An analyst is answered 403: it sees the figures only.
``GET /api/party/members/stats``
    The counts per organisation and per cell by kind, sex, age band and 报到
    (:func:`gridgis.party.members.member_figures`), of the members the user's area
    holds; same filters.
``GET /api/party/members.<fmt>``
    The members as a file (``csv``, ``xlsx`` or ``gpkg``) that ``gridgis import
    members`` reads back, personal data masked unless the user may see the people
    of the member's street (not for analysts).
``GET /api/party/ranking?year=&organisation=``
    The yearly ranking of members per organisation; names masked as in the list
    (all masked for an analyst). ``/api/party/ranking.<fmt>`` (csv, xlsx): as a file.
``GET /api/party/rules``, ``POST /api/party/rules``
    The points rules; administrators add or change one (audited).
"""

from __future__ import annotations

import io
import tempfile

from flask import Blueprint, Response, jsonify

from gridgis.errors import NotFoundError
from gridgis.export import FORMATS
from gridgis.party.members import list_members, member_figures, member_view
from gridgis.party.ranking import list_rules, ranking, set_rule, write_ranking
from gridgis.schemas.party import (
    MemberFigures,
    Members,
    MembersQuery,
    Ranking,
    RankingQuery,
    Rule,
    RuleBody,
    Rules,
    StatsQuery,
)
from gridgis.web.auth import policy
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.export_api import content_disposition

__all__ = ["MEMBER_FORMATS", "RANKING_FORMATS", "bp"]

bp = Blueprint("members_api", __name__, url_prefix="/api/party")

MEMBER_ROLES = ("admin", "street", "worker")
"""Who sees members (an analyst sees the figures only)."""
READERS = ("admin", "street", "analyst", "worker")
"""Who reads the figures, the ranking and the rules."""
MEMBER_FORMATS = {fmt: FORMATS[fmt] for fmt in ("csv", "xlsx", "gpkg")}
RANKING_FORMATS = {k: v for k, v in MEMBER_FORMATS.items() if k != "gpkg"}
_FILE = {"type": "string", "format": "binary"}


@endpoint(
    bp, "/members", operation_id="listPartyMembers", tags=("members",), roles=MEMBER_ROLES,
    query=MembersQuery, replies=(Reply(200, Members, "A page of members."),), errors=(403,),
)  # fmt: skip
def members(*, query: MembersQuery) -> Response:
    """The members the user sees, personal data masked where it may not see it."""
    found = list_members(
        get_engine(), policy(), filters=query.filters(), year=query.year,
        limit=query.limit, offset=query.offset,
    )  # fmt: skip
    return jsonify(found)


@endpoint(
    bp, "/members/stats", operation_id="partyMemberFigures", tags=("members",), roles=READERS,
    query=StatsQuery, replies=(Reply(200, MemberFigures, "The counts."),), errors=(403,),
)  # fmt: skip
def member_stats(*, query: StatsQuery) -> Response:
    """Counts of members per organisation and per cell, by kind, sex, age band and 报到."""
    view = member_view(policy())
    figures = member_figures(
        get_engine(), within=view.within, filters=query.filters(), year=query.year
    )
    return jsonify(figures)


@endpoint(
    bp, "/members.<fmt>", operation_id="exportPartyMembers", tags=("members",),
    roles=MEMBER_ROLES, path={"fmt": {"type": "string", "enum": list(MEMBER_FORMATS)}},
    replies=(Reply(200, description="The members as a file.",
                   content={m: _FILE for m in MEMBER_FORMATS.values()}),),
    errors=(403, 404),
)  # fmt: skip
def export_members(fmt: str) -> Response:
    """The members as a file ``gridgis import members`` reads back; masked per the user."""
    from gridgis.export import export

    if fmt not in MEMBER_FORMATS:
        raise NotFoundError(
            f"`fmt` was {fmt!r} but is expected to be one of {list(MEMBER_FORMATS)}",
            zh=f"`fmt` 为 {fmt!r}，应为以下之一：{list(MEMBER_FORMATS)}",
        )
    rules = policy()
    view = member_view(rules)
    with tempfile.TemporaryFile(prefix="gridgis-members-") as out:
        export(
            get_engine(), "members", fmt, out, street=view.within,
            reveal=True if rules.role == "admin" else view.reveals, actor=signed_in_name(),
        )  # fmt: skip
        out.seek(0)
        body = out.read()
    name = f"members_{view.within}.{fmt}" if view.within else f"members.{fmt}"
    response = Response(body, content_type=MEMBER_FORMATS[fmt])
    response.headers["Content-Disposition"] = content_disposition(f"党员名册_{name}", name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@endpoint(
    bp, "/ranking", operation_id="partyRanking", tags=("members",), roles=READERS,
    query=RankingQuery, replies=(Reply(200, Ranking, "The ranking."),), errors=(403,),
)  # fmt: skip
def ranking_json(*, query: RankingQuery) -> Response:
    """Members ranked by their points of a year, per organisation."""
    found = ranking(get_engine(), year=query.year, organisation=query.organisation,
                    policy=policy())  # fmt: skip
    return jsonify(found)


@endpoint(
    bp, "/ranking.<fmt>", operation_id="exportPartyRanking", tags=("members",), roles=READERS,
    query=RankingQuery, path={"fmt": {"type": "string", "enum": list(RANKING_FORMATS)}},
    replies=(Reply(200, description="The ranking as a file.",
                   content={m: _FILE for m in RANKING_FORMATS.values()}),),
    errors=(403, 404),
)  # fmt: skip
def ranking_file(fmt: str, *, query: RankingQuery) -> Response:
    """The ranking of a year as CSV or Excel (Chinese headers)."""
    if fmt not in RANKING_FORMATS:
        raise NotFoundError(
            f"`fmt` was {fmt!r} but is expected to be one of {list(RANKING_FORMATS)}",
            zh=f"`fmt` 为 {fmt!r}，应为以下之一：{list(RANKING_FORMATS)}",
        )
    found = ranking(get_engine(), year=query.year, organisation=query.organisation,
                    policy=policy())  # fmt: skip
    buffer = io.BytesIO()
    write_ranking(found["rows"], buffer, fmt=fmt)
    name = f"ranking_{query.year}.{fmt}"
    response = Response(buffer.getvalue(), content_type=RANKING_FORMATS[fmt])
    response.headers["Content-Disposition"] = content_disposition(f"党员积分排名_{name}", name)
    return response


@endpoint(
    bp, "/rules", operation_id="partyRules", tags=("members",), roles=READERS,
    replies=(Reply(200, Rules, "The rules."),),
)  # fmt: skip
def rules() -> Response:
    """What each kind of activity is worth in points."""
    return jsonify({"rules": list_rules(get_engine())})


@endpoint(
    bp, "/rules", method="POST", operation_id="setPartyRule", tags=("members",), roles=("admin",),
    body=RuleBody, replies=(Reply(200, Rule, "The rule as stored."),), errors=(400, 413, 415, 422),
)  # fmt: skip
def set_party_rule(*, body: RuleBody) -> Response:
    """Add or change a rule (administrators; audited); it applies to activity from now on."""
    stored = set_rule(
        get_engine(), body.kind, body.points, per=body.per, label_zh=body.label_zh,
        label_en=body.label_en, actor=signed_in_name(),
    )  # fmt: skip
    return jsonify(stored)
