"""The photos of cases: ``GET /api/cases/<id>/photos``, one photo and its thumbnail.

Photos come with a filing or a step (multipart field ``photos`` on ``POST /api/cases``
and ``POST /api/cases/<id>/steps``: :mod:`gridgis.web.cases_api`); here they are listed
and served, only to users who may see the case (404 otherwise), never cached by shared
caches, with a sandboxing content security policy.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from gridgis.access import CASE_ROLES
from gridgis.cases import photos as photo_lib
from gridgis.errors import NotFoundError
from gridgis.schemas.cases import CasePhotos
from gridgis.schemas.common import MAX_ID
from gridgis.web.cases_api import photo_links, photo_store, scoped_case
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["PHOTO_REPLY", "bp"]

bp = Blueprint("photos", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/cases/<int:case_id>/photos",
    operation_id="listCasePhotos",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, CasePhotos, "The photos, oldest first."),),
    errors=(404,),
)
def list_case_photos(case_id: int) -> Response:
    """The photos of a case: those filed with it and those of its steps and notes."""
    scoped_case(case_id)
    found = []
    for photo in photo_lib.list_photos(get_engine(), case_id):
        shown = photo_links(case_id, photo["id"], photo["url"])
        keep = ("event_id", "kind", "content_type", "width", "height", "bytes", "sha256")
        found.append(
            shown
            | {key: photo[key] for key in keep}
            | {"created_at": photo["created_at"], "created_by": photo["created_by"]}
        )
    return jsonify(case_id=case_id, photos=found)


_IMAGE = {"type": "string", "contentMediaType": "image/jpeg"}
PHOTO_REPLY = Reply(
    200,
    description="The photo (metadata removed but its orientation), as uploaded.",
    content={"image/jpeg": _IMAGE, "image/png": {**_IMAGE, "contentMediaType": "image/png"}},
)
"""The answer of a route serving one photo as uploaded (a case's, a visit's)."""


def _served(data: bytes, content_type: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _scoped_photo(case_id: int, photo_id: int) -> dict[str, Any]:
    scoped_case(case_id)
    if not 1 <= photo_id <= MAX_ID:
        raise NotFoundError(
            f"case {case_id} has no photo {photo_id}", zh=f"事件 {case_id} 没有照片 {photo_id}"
        )
    return photo_lib.get_photo(get_engine(), case_id, photo_id)


@endpoint(
    bp,
    "/cases/<int:case_id>/photos/<int:photo_id>",
    operation_id="getCasePhoto",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(PHOTO_REPLY,),
    errors=(404,),
)
def case_photo(case_id: int, photo_id: int) -> Response:
    """One photo of a case (a link is not served: 404)."""
    photo = _scoped_photo(case_id, photo_id)
    return _served(photo_lib.read_photo(photo_store(), photo), photo["content_type"])


@endpoint(
    bp,
    "/cases/<int:case_id>/photos/<int:photo_id>/thumbnail",
    operation_id="getCasePhotoThumbnail",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, description="The thumbnail.", media_type="image/jpeg", schema=_IMAGE),),
    errors=(404,),
)
def case_photo_thumbnail(case_id: int, photo_id: int) -> Response:
    """A photo's thumbnail: JPEG, 320 px on its longer side, the right way up."""
    photo = _scoped_photo(case_id, photo_id)
    return _served(photo_lib.thumbnail(photo_store(), photo), "image/jpeg")
