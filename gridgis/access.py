"""Who may see and change what: the one access policy of gridgis.

Every page, API route, tile and export asks a :class:`Policy` instead of
checking roles and streets itself (FixMyStreet's ``has_permission_to`` is the
model). The rules:

- nobody signed in (``Policy.anonymous()``) may use only what is public;
- an **administrator** (``admin``) sees and changes everything;
- an **analyst** sees and exports everything and changes nothing (its own
  password aside, which is the web layer's business);
- a **street office** (``street``) sees and changes only what lies in its
  street: areas, cells and cases whose code starts with its 9-digit street
  code, and the outline of its district. Something in no area (a case placed
  in no cell) is outside every street;
- a **grid worker** (``worker``, 网格员) reads the maps and figures of its street
  like a street office and changes no area; of the cases it sees those in the
  cells and communities it serves (``areas``) and those it filed itself; it files
  cases and verifies (核查) those in its cells;
- a **department** (``department``, 职能部门) sees only the cases dispatched to it
  and takes their steps: handles them (处置) or returns them (退单). It reads no
  area pages: a route open to "every signed-in user" is closed to it; routes a
  department may call name the role;
- a **party member** (``member``, 党员) sees only the 大走访 targets assigned to it and
  its own visits (:mod:`gridgis.party.visits`), and reads no area page nor case: like
  a department, it calls only the routes that name its role.

A refusal is a :class:`gridgis.errors.ForbiddenError` (403) that names the
value asked for and what the user may see; a case outside the street is
reported as not found (:class:`gridgis.errors.NotFoundError`), so that a
street office cannot learn which ids other streets hold.

Examples
--------
>>> office = Policy(name="zhenhai", role="street", street="350304001")
>>> office.may_see("350304001007003"), office.may_see("350304002001")
(True, False)
>>> office.may_change("350304001007"), Policy(name="li", role="analyst").may_change("350304")
(True, False)
>>> office.area_filter("community", "350304002001")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gridgis.errors.ForbiddenError: `community` was '350304002001' but user 'zhenhai' may see ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridgis.errors import ConfigError, ForbiddenError, NotFoundError

if TYPE_CHECKING:
    from gridgis.users import User

__all__ = ["ROLES", "Policy"]

ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker", "department", "member")
"""Every role, in the order pages list them (the database's ``USER_ROLES``)."""
OFFICE_ROLES: tuple[str, ...] = ("admin", "street", "analyst")
"""The roles that read areas, maps and figures (and export them)."""
CASE_ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker", "department")
"""The roles that work on cases (every role but ``member``; each sees the cases
:meth:`Policy.may_see_case` allows)."""
VISIT_ROLES: tuple[str, ...] = ("admin", "street", "worker", "member")
"""The roles that log 大走访 visits (a party member, a grid worker, a street office's cadre;
an administrator for any of them)."""
_NO_AREAS = ("department", "member")

_DISTRICT_DIGITS = 6


@dataclass(frozen=True)
class Policy:
    """What one user may see and change.

    Attributes
    ----------
    name:
        The user's name (``None``: nobody is signed in).
    role:
        ``admin``, ``street`` or ``analyst`` (``None`` when anonymous).
    street:
        The 9-digit street code a street office or grid worker is limited to; ``None``
        for the other roles.
    areas:
        A grid worker's cells and communities (codes): the cases it sees.
    department:
        A department's code: the cases it sees are those dispatched to it.
    member:
        A party member login's member id (``party_member.id``).
    worker:
        A grid worker login's worker id (``grid_worker.id``).
    """

    name: str | None = None
    role: str | None = None
    street: str | None = None
    areas: tuple[str, ...] = ()
    department: str | None = None
    member: int | None = None
    worker: int | None = None

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ConfigError(
                f"`role` was {self.role!r} but is expected to be one of {ROLES}",
                zh=f"`role`（角色）为 {self.role!r}，应为以下之一：{ROLES}",
            )
        if self.role == "street" and not self.street:
            raise ConfigError(
                f"user {self.name!r} is a street office but has no street",
                zh=f"用户 {self.name!r} 是街道办账号，但没有所属街道",
            )
        if self.role == "department" and not self.department:
            raise ConfigError(
                f"user {self.name!r} is a department login but has no department",
                zh=f"用户 {self.name!r} 是职能部门账号，但没有所属部门",
            )
        if self.role not in ("street", "worker") and self.street is not None:
            object.__setattr__(self, "street", None)  # only a street office is limited
        if self.role == "member" and self.member is None:
            raise ConfigError(
                f"user {self.name!r} is a party member login but has no member",
                zh=f"用户 {self.name!r} 是党员账号，但没有关联的党员",
            )
        if self.role != "worker" and self.areas:
            object.__setattr__(self, "areas", ())

    @classmethod
    def anonymous(cls) -> Policy:
        """The policy of a request with no user."""
        return cls()

    @classmethod
    def for_user(cls, user: User | None) -> Policy:
        """The policy of ``user`` (``None``: anonymous)."""
        if user is None:
            return cls()
        return cls(
            name=user.name,
            role=user.role,
            street=user.scope,
            areas=user.areas,
            department=user.department_code,
            member=user.member_id,
            worker=user.worker_id,
        )

    # --- what the user is -----------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """Whether a user is signed in."""
        return self.role is not None

    def may_call(self, roles: Iterable[str] | None) -> bool:
        """Whether the user may use a route open to ``roles``: ``None`` means every
        signed-in user who reads areas (every role but ``department`` and ``member``),
        ``("*",)`` anyone at all."""
        if roles is None:
            return self.signed_in and self.role not in _NO_AREAS
        allowed = set(roles)
        return "*" in allowed or (self.role is not None and self.role in allowed)

    @property
    def changes_anything(self) -> bool:
        """Whether the user may change anything at all (an analyst may not)."""
        return self.role in ("admin", "street")

    # --- areas, cells and cases -------------------------------------------------------------------

    def may_see(self, code: str | None) -> bool:
        """Whether the area, cell or case with this (area) code is visible to the user.

        ``code`` is a district, street, community or cell code, or a case's
        street code; ``None`` (in no area) is visible to administrators and
        analysts only.
        """
        if not self.signed_in or self.role in _NO_AREAS:
            return False
        if self.role == "worker" and self.street is None:
            return False  # a worker placed nowhere sees no area
        if self.street is None:
            return True
        return code is not None and code.startswith(self.street)

    def may_see_outline(self, code: str) -> bool:
        """Like :meth:`may_see`, and a street office also sees its district's outline."""
        return self.may_see(code) or (
            self.street is not None and code == self.street[:_DISTRICT_DIGITS]
        )

    def may_change(self, code: str | None) -> bool:
        """Whether the user may change what lies in the area ``code`` (cases, cells, layouts)."""
        return self.changes_anything and self.may_see(code)

    @property
    def people_scope(self) -> bool | str:
        """Whose people's data the user sees as stored, as plain data (a background job's
        parameters keep it): everyone's (``True``, an administrator), those of the areas
        whose codes start with this street code (a street office, a grid worker placed
        in a street), or no one's (``False``).

        Examples
        --------
        >>> Policy(name="a", role="admin").people_scope
        True
        >>> Policy(name="l", role="analyst").people_scope
        False
        >>> Policy(name="z", role="street", street="350304001").people_scope
        '350304001'
        """
        if self.role == "admin":
            return True
        if self.role in ("street", "worker") and self.street is not None:
            return self.street
        return False

    def may_see_people(self, code: str | None) -> bool:
        """Whether the user sees people's names and phones as stored in the area ``code``
        (an administrator everywhere; a street office and a grid worker in their street);
        others see them masked."""
        scope = self.people_scope
        if isinstance(scope, bool):
            return scope
        return code is not None and code.startswith(scope)

    def may_file(self, code: str | None) -> bool:
        """Whether the user may file a case that falls in the area ``code``: where it may
        change things, and a grid worker anywhere in its street."""
        if self.role == "worker":
            return self.may_see(code)
        return self.may_change(code)

    def may_edit_layouts(self, code: str | None = None) -> bool:
        """Whether the user may draw, upload, edit by hand and publish cell layouts: an
        administrator anywhere, a street office in the communities of its street.

        Without ``code``: whether the user may edit any layout at all.
        """
        if self.role == "admin":
            return True
        if self.role != "street":
            return False
        return code is None or self.may_see(code)

    # --- cases ----------------------------------------------------------------------------------

    def may_see_case(self, case: Mapping[str, Any]) -> bool:
        """Whether the user sees ``case`` (a dict as :func:`gridgis.cases.get_case` gives)."""
        if self.role == "worker":
            places = (case.get("cell_code"), case.get("community_code"))
            return (case.get("reported_by") == self.name and self.name is not None) or any(
                place is not None and place.startswith(area)
                for place in places
                for area in self.areas
            )
        if self.role == "department":
            return case.get("department_code") == self.department
        if self.role == "member":
            return False
        return self.may_see(case.get("street_code"))

    def seen(self, case: Mapping[str, Any]) -> None:
        """Refuse a case the user may not see as if it did not exist (404)."""
        if not self.may_see_case(case):
            raise NotFoundError(f"case {case['id']} does not exist", zh=f"事件 {case['id']} 不存在")

    def case_filters(self) -> dict[str, Any]:
        """The filters of :func:`gridgis.cases.list_cases` that keep to the cases the user
        sees (empty for those who see every case)."""
        if self.role == "worker":
            return {"within": self.areas, "within_reporter": self.name}
        if self.role == "department":
            return {"department": self.department}
        return {"street": self.street} if self.street is not None else {}

    def may_take(self, case: Mapping[str, Any], step: str) -> bool:
        """Whether the user may take ``step`` on ``case`` (a step of the lifecycle,
        ``returned``, ``escalated``, ``merged`` or ``note``), if the case allows it: an
        administrator, and a street office in its street, any; a grid worker notes and
        verifies (核查) cases in its cells; a department handles (处置) and returns (退单)
        the cases dispatched to it, and notes them."""
        if not self.may_see_case(case):
            return False
        if self.role == "admin":
            return True
        if self.role == "street":
            return self.may_change(case.get("street_code"))
        if self.role == "worker":
            in_cells = any(
                (case.get(key) or "").startswith(area)
                for key in ("cell_code", "community_code")
                for area in self.areas
            )
            return step == "note" or (step == "verified" and in_cells)
        if self.role == "department":
            return step in ("handled", "returned", "note")
        return False

    def case_actions(self, case: Mapping[str, Any]) -> tuple[str, ...]:
        """What the user may do to ``case`` now: its next step, ``dispatched`` again (改派),
        ``returned``, ``rejected``, ``escalated``, ``merged``, ``note`` — the ones both the
        case's step and the user's role allow."""
        step = case["step"]
        possible: list[str] = []
        if step not in ("closed", "rejected"):
            following = {
                "reported": "registered",
                "registered": "dispatched",
                "dispatched": "handled",
                "handled": "verified",
                "verified": "closed",
            }[step]
            possible.append(following)
            if step == "dispatched":
                possible += ["returned", "dispatched"]
            possible += ["rejected", "escalated", "merged"]
        possible.append("note")
        return tuple(dict.fromkeys(a for a in possible if self.may_take(case, a)))

    # --- answers that refuse ----------------------------------------------------------------------

    def refusal(self, key: str, value: str) -> ForbiddenError:
        """The 403 for a filter ``key`` of ``value`` outside what the user sees."""
        if self.role == "department":
            return ForbiddenError(
                f"`{key}` was {value!r} but user {self.name or ''!r} sees only the cases "
                f"dispatched to department {self.department}"
            )
        return ForbiddenError(
            f"`{key}` was {value!r} but user {self.name or ''!r} may see only street {self.street}"
        )

    def area_filter(self, key: str, value: str | None) -> str | None:
        """An area filter (street, community or cell code) as asked, refused outside the street.

        Raises
        ------
        ForbiddenError
            (403) when a street office names an area outside its street.
        """
        if value is None or self.may_see(value):
            return value
        raise self.refusal(key, value)

    def outline_filter(self, key: str, value: str | None) -> str | None:
        """A district, street, community or cell code as asked, refused (403) unless
        :meth:`may_see_outline` (a street office also sees its district's outline)."""
        if value is None or self.may_see_outline(value):
            return value
        raise self.refusal(key, value)

    def area_choice(self, key: str, value: str | None) -> str | None:
        """The area a page or export is of: as asked, a street office's own street when it
        asks for none or for its own district, refused (403) outside its street."""
        if self.street is not None and (value is None or self.street.startswith(value)):
            return self.street
        return self.area_filter(key, value)

    def street_filter(self, value: str | None) -> str | None:
        """The street to filter by: as asked, and a street office's own when none is asked."""
        checked = self.area_filter("street", value)
        return checked if checked is not None else self.street

    def within(self, level: str, within: str | None) -> str | None:
        """The code prefix to read the areas of ``level`` with.

        A street office reads its district's outline (``level="district"``)
        and at every other level only what lies in its street; a ``within``
        that narrows this further is kept, one outside it is refused.

        Raises
        ------
        ForbiddenError
            (403) when ``within`` lies outside the street office's street.
        """
        if self.street is None:
            return within
        own = self.street[:_DISTRICT_DIGITS] if level == "district" else self.street
        if within is None or own.startswith(within):
            return own
        if within.startswith(own):
            return within
        raise self.refusal("within", within)

    def seen_case(self, case_id: int, street_code: str | None) -> None:
        """Refuse a case the user may not see as if it did not exist.

        Raises
        ------
        NotFoundError
            (404) when the case lies outside the street office's street (or in no street).
        """
        if not self.may_see(street_code):
            raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
