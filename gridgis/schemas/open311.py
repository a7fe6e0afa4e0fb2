"""Open311 GeoReport v2: the service requests that third-party clients file and read.

The fields follow the specification (wiki.open311.org/GeoReport_v2); the
cases behind them are :mod:`gridgis.schemas.cases`'.

Examples
--------
>>> NewRequest.model_validate({"service_code": "dispute", "lat": "25.43", "long": "119.01"}).lat
25.43
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, RootModel, model_validator

from gridgis.errors import listing
from gridgis.schemas.common import Answer, Moment, Request

__all__ = [
    "CATEGORY_PATTERN",
    "NewRequest",
    "Open311Query",
    "RequestCreated",
    "RequestsQuery",
    "Service",
    "ServiceDefinition",
    "ServiceRequest",
    "ServiceRequests",
    "Services",
]

CATEGORY_PATTERN = "^[a-z][a-z0-9_]{0,63}$"
"""A service code: a case category's code."""
_TEXT = Field(None, max_length=200)
UNSUPPORTED_FIELDS: dict[str, str] = {
    "address_id": "send `lat` and `long` or `address_string` instead",
}
"""Fields of the specification this server cannot keep, and what to send instead."""


class Open311Query(Request):
    """What every Open311 request may carry besides its own parameters."""

    jurisdiction_id: str | None = Field(None, max_length=200, description="Accepted and ignored.")
    api_key: str | None = Field(
        None,
        max_length=200,
        description="An API token (`gridgis users token NAME`), unless the request sends a "
        "bearer token or has a session.",
    )


class RequestsQuery(Open311Query):
    """Which service requests (newest first; without dates, the last 90 days)."""

    service_request_id: str | None = Field(
        None,
        pattern="^[0-9]{1,18}(,[0-9]{1,18}){0,99}$",
        description="Comma-separated ids; when given, the other filters are ignored.",
    )
    service_code: str | None = Field(
        None,
        pattern="^[a-z][a-z0-9_]{0,63}(,[a-z][a-z0-9_]{0,63}){0,9}$",
        description="Comma-separated service codes (at most 10).",
    )
    start_date: Moment | None = Field(None, description="Requested at or after (w3 date-time).")
    end_date: Moment | None = Field(None, description="Requested before (w3 date-time).")
    status: str | None = Field(
        None,
        pattern="^(open|closed)(,(open|closed))?$",
        description="open, closed or both (comma-separated).",
    )


class NewRequest(Request):
    """A service request: ``service_code``, and ``lat`` + ``long`` (WGS84) or ``address_string``.

    ``api_key`` is an API token (``gridgis users token NAME``), needed unless the
    request has a bearer token or a session. ``jurisdiction_id``, ``device_id``
    and ``account_id`` are accepted and ignored. ``media_url`` (an http or https URL) is
    kept as a link photo of the case. ``address_id`` and
    ``attribute[...]`` are not supported (no service has attributes). The case's
    ``reported_by`` is the key's user, then the requester's name, email and phone.
    """

    what: ClassVar[str] = "service request"
    what_zh: ClassVar[str] = "服务请求"

    api_key: str | None = _TEXT
    jurisdiction_id: str | None = _TEXT
    service_code: str = Field(pattern=CATEGORY_PATTERN)
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)
    address_string: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    device_id: str | None = _TEXT
    account_id: str | None = _TEXT
    first_name: str | None = Field(None, max_length=50)
    last_name: str | None = Field(None, max_length=50)
    phone: str | None = Field(None, max_length=30)
    description: str | None = Field(None, max_length=4000)
    media_url: str | None = Field(
        None, min_length=1, max_length=2048, description="A photo's http or https URL."
    )

    @model_validator(mode="before")
    @classmethod
    def _supported(cls, data: Any) -> Any:
        """Refuse the fields this server cannot keep, saying what to send instead."""
        if not isinstance(data, dict):
            return data
        problems = []
        for key in data:
            if key in UNSUPPORTED_FIELDS:
                problems.append(
                    f"`{key}` is not supported by this server: {UNSUPPORTED_FIELDS[key]}"
                )
            elif isinstance(key, str) and key.startswith("attribute["):
                problems.append(f"`{key}`: no service of this server has attributes")
        if problems:
            raise ValueError(listing(problems, noun=""))
        return data

    @model_validator(mode="after")
    def _placed(self) -> NewRequest:
        if (self.lat is None or self.long is None) and self.address_string is None:
            raise ValueError("`service request` needs `lat` and `long` or `address_string`")
        return self


class Service(Answer):
    """A service: a case category."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class Services(RootModel[list[Service]]):
    """The services (case categories) that requests can be filed in."""


class ServiceDefinition(Answer):
    """A service definition: no service has attributes."""

    service_code: str
    attributes: list[dict[str, Any]] = Field(max_length=0)


class _Created(Answer):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class RequestCreated(RootModel[list[_Created]]):
    """The new request's id, as a list of one."""


class ServiceRequest(Answer):
    """A case as a GeoReport v2 service request."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str = Field(json_schema_extra={"format": "date-time"})
    updated_datetime: str = Field(json_schema_extra={"format": "date-time"})
    expected_datetime: str | None = Field(json_schema_extra={"format": "date-time"})
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class ServiceRequests(RootModel[list[ServiceRequest]]):
    """Service requests."""
