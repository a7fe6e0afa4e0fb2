"""The address book: buildings indexed for matching, and matching many addresses.

:func:`address_book` (from frames) and :func:`load_address_book` (from the
database) build an :class:`AddressBook` once: buildings by (road, number,
building) and by name, and the names of the places in all their forms.
:func:`match_addresses` matches many addresses with index look-ups and
scores each relaxation (see :mod:`gridgis.address` for the scores).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy
from sqlalchemy import literal, select, union_all

from gridgis.address.normalising import _normalise, normalise_address
from gridgis.address.parsing import (
    _generic_cuts,
    _generic_places,
    _split_tail,
    _Tail,
    parse_address,
)
from gridgis.address.similar import _SIMILAR, _osa_within_one
from gridgis.db.models import Building, Community, District, Street
from gridgis.db.queries import result_frame
from gridgis.errors import InputError

MATCH_THRESHOLD = 0.7
"""Lowest score of an accepted match.

One relaxation (a typo in the road, a missing 栋, a wrong community) keeps a
match above it, and so do a similar character together with a missing 栋
(0.80) or a typo with a missing 栋 (0.75); a typo together with a wrong place
(0.60) or two wrong places (0.50) fall below it.
"""

_PENALTY_SIMILAR = 0.10
_PENALTY_TYPO = 0.15
_PENALTY_BUILDING_INFERRED = 0.10
_PENALTY_BUILDING_IGNORED = 0.10
_PENALTY_NO_ROAD = 0.25
_PENALTY_PLACE_CONFLICT = 0.25

_MAX_LENGTH = 200
"""Longest normalised address matched (real ones have well under 100 characters)."""

_LEVELS = ("district", "street", "community")
_LEVEL_LABELS = ("区", "街道", "社区")
_CODE_LENGTHS = (6, 9, 12)


_COMMUNITY_SUFFIX = re.compile(
    r"(?:社区居民委员会|社区居委会|居民委员会|村民委员会|村委会|居委会|社区|村)[一二三四五六七八九十\d]?$"
)
_URBAN_FORMS = ("社区", "居委会", "社区居委会", "社区居民委员会")
_VILLAGE_FORMS = ("村", "村委会", "村民委员会")
_STREET_SUFFIX = re.compile(r"(?:街道|地区办事处|镇|乡)$")
_DISTRICT_SUFFIX = re.compile(r"(?:区|县|市|旗)$")


def _place_forms(name: str, level: str) -> tuple[set[str], str | None]:
    """How a place's name is written in addresses, and its bare name.

    镇海街道 → ({镇海街道, 镇海}, 镇海); 文献社区居委会 → ({文献社区居委会, 文献社区,
    文献居委会, …, 文献}, 文献); 步云村委会 → ({步云村委会, 步云村, 步云村民委员会, 步云}, 步云).
    """
    full = _normalise(name, drop_prefix=False)
    pattern = {"community": _COMMUNITY_SUFFIX, "street": _STREET_SUFFIX}.get(
        level, _DISTRICT_SUFFIX
    )
    m = pattern.search(full)
    base = full[: m.start()] if m else full
    if not m or len(base) < 2:
        return {full}, None
    forms = {full, base}
    if level == "community":
        village = "村" in full[m.start() :]
        forms.update(base + s for s in (_VILLAGE_FORMS if village else _URBAN_FORMS))
    return forms, base


@dataclass(frozen=True)
class _Parse:
    """One reading of an address's head: the places it names and the road left."""

    places: tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None]
    road: str
    known: bool


@dataclass
class _Candidate:
    score: float
    parts: list[str]
    conflict: bool
    where: str


_Key = tuple[str, int | None, int | None]


class AddressBook:
    """Buildings indexed for address matching; build once with :func:`address_book`.

    Attributes
    ----------
    ids:
        The buildings' ids, in the order they were given.
    community_codes:
        Each building's community code.
    """

    def __init__(
        self,
        ids: Sequence[int],
        community_codes: Sequence[str],
        addresses: Sequence[str | None],
        names: Sequence[str | None],
        compounds: Sequence[str | None],
        places: pd.DataFrame,
    ) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.community_codes = np.asarray([str(c) for c in community_codes], dtype=object)
        # Place names of each level: form -> codes.
        self._forms: list[dict[str, frozenset[str]]] = []
        own_forms: dict[str, list[str]] = {}
        for level in _LEVELS:
            rows = places[places["level"] == level]
            forms: dict[str, set[str]] = defaultdict(set)
            for code, name in zip(rows["code"], rows["name"], strict=True):
                variants, base = _place_forms(str(name), level)
                for form in variants:
                    forms[form].add(str(code))
                # A building's own address is stripped of its places written in full only
                # (步云村 but not 步云: the road could be 步云路).
                own = sorted(variants - {base}, key=len, reverse=True)
                own_forms[str(code)] = own_forms.get(str(code), []) + own
            self._forms.append({k: frozenset(v) for k, v in forms.items()})
        self._form_max = [max((len(f) for f in forms), default=0) for forms in self._forms]
        self._keys: dict[_Key, list[int]] = defaultdict(list)
        self._at_number: dict[tuple[str, int | None], list[int]] = defaultdict(list)
        self._buildings_at: dict[tuple[str, int | None], set[int]] = defaultdict(set)
        self._community_number: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._road_communities: dict[str, set[str]] = defaultdict(set)
        # One loop over the buildings: each address is parsed once, by regular expressions.
        for i, (code, address, name, compound) in enumerate(
            zip(self.community_codes, addresses, names, compounds, strict=True)
        ):
            keys: set[_Key] = set()
            if address:
                keys.add(self._own_key(address, code, own_forms))
            if name:
                tail = _split_tail(_normalise(name, drop_prefix=True))
                if tail.head:
                    keys.add((tail.head, tail.number, tail.building))
            for road, number, building in keys:
                if not road:
                    continue
                self._keys[(road, number, building)].append(i)
                at_number = self._at_number[(road, number)]
                if not at_number or at_number[-1] != i:  # its address and name may agree
                    at_number.append(i)
                self._road_communities[road].add(code)
                if building is not None:
                    self._buildings_at[(road, number)].add(building)
            for number in {k[1] for k in keys if k[1] is not None}:
                self._community_number[(code, number)].append(i)
            whole = _normalise(compound, drop_prefix=True) if compound else ""
            if whole and all(k[0] != whole for k in keys):
                # A compound's name alone (文林街区): its buildings, to say how many there are.
                self._at_number[(whole, None)].append(i)
                self._road_communities[whole].add(code)
        self._roads = frozenset(self._road_communities)
        self._by_similar: dict[str, list[str]] = defaultdict(list)
        self._by_deletion: dict[str, list[str]] = defaultdict(list)
        for road in self._roads:
            self._by_similar[road.translate(_SIMILAR)].append(road)
            if len(road) >= 3:
                self._by_deletion[road].append(road)
                for j in range(len(road)):
                    self._by_deletion[road[:j] + road[j + 1 :]].append(road)
        self._parse_cache: dict[str, list[_Parse]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"<AddressBook: {len(self)} buildings, {len(self._roads)} roads and compounds>"

    def _own_key(self, address: str, code: str, own_forms: dict[str, list[str]]) -> _Key:
        """A building's (road, number, building): its address without its own places."""
        tail = _split_tail(_normalise(address, drop_prefix=True))
        head = tail.head
        stripped = False
        for length in _CODE_LENGTHS:
            for form in own_forms.get(code[:length], ()):
                if head.startswith(form) and len(form) < len(head):
                    head = head[len(form) :]
                    stripped = True
                    break
        if not stripped:
            head = _generic_places(head)[3] or head
        return head, tail.number, tail.building

    # --- reading the places of a query ---

    def _parses(self, head: str) -> list[_Parse]:
        """The best readings of ``head`` as [district][street][community]road.

        Each place may be left out and written in any of its forms; the readings that leave a
        known road are kept (several when a short name fits two levels: 镇海 is a street office
        and a community). When none does, the readings after places the book does not know but
        their suffixes tell (a typo in a community's name, a city), else the reading naming most
        places.
        """
        cached = self._parse_cache.get(head)
        if cached is not None:
            return cached
        readings = self._readings(head)
        chosen = [p for p in readings if p.known]
        if not chosen:
            chosen = readings[:1]
            for cut in _generic_cuts(readings[0].road):
                rest = [p for p in self._readings(readings[0].road[cut:]) if p.known]
                if rest:
                    chosen = [_Parse(_merge_places(readings[0].places, p.places), p.road, True)
                              for p in rest]  # fmt: skip
                    break
        if len(self._parse_cache) > 200_000:
            self._parse_cache.clear()
        self._parse_cache[head] = chosen
        return chosen

    def _readings(self, head: str) -> list[_Parse]:
        """Every reading of ``head`` with the book's place names, the most places first."""
        readings: list[tuple[tuple[int, int, int], _Parse]] = []

        def walk(level: int, pos: int, picks: list[frozenset[str] | None], used: int) -> None:
            if level == 3:
                road = head[pos:]
                known = road in self._roads or self._unsuffixed(road) is not None
                parse = _Parse((picks[0], picks[1], picks[2]), road, known)
                readings.append(((sum(p is not None for p in picks), used, -len(road)), parse))
                return
            walk(level + 1, pos, [*picks, None], used)
            forms = self._forms[level]
            for length in range(min(self._form_max[level], len(head) - pos), 0, -1):
                codes = forms.get(head[pos : pos + length])
                if codes is not None:
                    walk(level + 1, pos + length, [*picks, codes], used + length)

        walk(0, 0, [], 0)
        readings.sort(key=lambda r: r[0], reverse=True)
        return [p for _, p in readings]

    def _unsuffixed(self, road: str) -> str | None:
        """The book's name for ``road`` written with or without 小区."""
        if road.endswith("小区") and road[:-2] in self._roads:
            return road[:-2]
        if road and road + "小区" in self._roads:
            return road + "小区"
        return None

    def _fuzzy_roads(self, road: str) -> list[tuple[str, float, str]]:
        """Roads one similar character or (length ≥ 3) one edit away from ``road``."""
        found: dict[str, tuple[float, str]] = {}
        if len(road) >= 2:
            for other in self._by_similar.get(road.translate(_SIMILAR), ()):
                if other != road and sum(a != b for a, b in zip(other, road, strict=True)) == 1:
                    found[other] = (_PENALTY_SIMILAR, "路(音形近)")
        if len(road) >= 3:
            probes = {road} | {road[:j] + road[j + 1 :] for j in range(len(road))}
            for probe in probes:
                for other in self._by_deletion.get(probe, ()):
                    if other != road and other not in found and _osa_within_one(road, other):
                        found[other] = (_PENALTY_TYPO, "路(近似)")
        return [(other, pen, label) for other, (pen, label) in found.items()]

    # --- matching one address ---

    def _offer(
        self,
        candidates: dict[int, _Candidate],
        position: int,
        penalty: float,
        parts: list[str],
        places: tuple[frozenset[str] | None, ...],
        where: str,
    ) -> None:
        code = self.community_codes[position]
        place_parts: list[str] = []
        conflict = False
        for given, length, label in zip(places, _CODE_LENGTHS, _LEVEL_LABELS, strict=True):
            if given is None:
                continue
            if code[:length] in given:
                place_parts.append(label)
            else:
                penalty += _PENALTY_PLACE_CONFLICT
                place_parts.append(f"{label}不符")
                conflict = True
        score = round(max(1.0 - penalty, 0.0), 4)
        old = candidates.get(position)
        if old is None or score > old.score:
            candidates[position] = _Candidate(score, place_parts + parts, conflict, where)

    def _lookup(
        self,
        candidates: dict[int, _Candidate],
        problems: list[str],
        tail: _Tail,
        road: str,
        penalty: float,
        label: str,
        places: tuple[frozenset[str] | None, ...],
    ) -> None:
        """Offer the buildings at ``road`` with the tail's number and building."""
        number, building = tail.number, tail.building
        num_part = ["号"] if number is not None else []
        where = f"{road}{number}号" if number is not None else road
        exact = self._keys.get((road, number, building))
        if exact:
            bld_part = ["栋"] if building is not None else []
            full = f"{where}{building}栋" if building is not None else where
            for position in exact:
                parts = [label, *num_part, *bld_part]
                self._offer(candidates, position, penalty, parts, places, full)
            if building is not None:
                return
        here = self._at_number.get((road, number))
        if not here:
            if number is None:
                problems.append(f"no number: {road} has numbered buildings and no 号 was given")
            else:
                problems.append(f"no such number: {road} has no {number}号")
            return
        numbered = sorted(self._buildings_at.get((road, number), ()))
        if building is None:
            # Every building of the number, each as if its 栋 were given: one is a match,
            # several tie (and so beat a building of the number in another place).
            parts = [label, *num_part, "栋(推定)"]
            for position in here:
                penalty_here = penalty + _PENALTY_BUILDING_INFERRED
                self._offer(candidates, position, penalty_here, parts, places, where)
            return
        if len(here) == 1 and not numbered:
            parts = [label, *num_part, "栋(略)"]
            penalty += _PENALTY_BUILDING_IGNORED
            self._offer(candidates, here[0], penalty, parts, places, where)
            return
        listed = ", ".join(map(str, numbered[:8])) + ("…" if len(numbered) > 8 else "")
        problems.append(f"no such building: {where} has no {building}栋 (it has {listed})")

    def _in_places(self, road: str, places: tuple[frozenset[str] | None, ...]) -> bool:
        """Whether ``road`` has buildings in every place given."""
        communities = self._road_communities.get(road, set())
        for given, length in zip(places, _CODE_LENGTHS, strict=True):
            if given is not None and not any(c[:length] in given for c in communities):
                return False
        return True

    def _match_one(self, tail: _Tail) -> tuple[int | None, float, str, str | None]:
        """Best building position, score, what matched and, when unmatched, why."""
        readings = self._parses(tail.head)
        candidates: dict[int, _Candidate] = {}
        problems: list[str] = []
        for parse in readings:
            road, places = parse.road, parse.places
            if road:
                exact = road if road in self._roads else self._unsuffixed(road)
                if exact is not None:
                    self._lookup(candidates, problems, tail, exact, 0.0, "路", places)
                # A road unknown, or known only outside the places given, may be a typo.
                if exact is None or not self._in_places(exact, places):
                    for other, penalty, label in self._fuzzy_roads(road):
                        self._lookup(candidates, problems, tail, other, penalty, label, places)
            if (
                tail.compound
                and tail.building is not None
                and (not candidates or all(c.conflict for c in candidates.values()))
            ):
                # 梅园路12号梅园小区3栋 where the road or number is off: the compound and 栋.
                compound_tail = _Tail(tail.compound, None, tail.building, None, None, "")
                named = tail.compound if tail.compound in self._roads else None
                if named is not None:
                    self._lookup(candidates, [], compound_tail, named, 0.0, "小区", places)
            if not road and places[2] is not None and tail.number is not None:
                for code in places[2]:
                    for position in self._community_number.get((code, tail.number), ()):
                        where = f"{tail.number}号"
                        parts = ["号(无路)"]
                        self._offer(candidates, position, _PENALTY_NO_ROAD, parts, places, where)
        if not candidates:
            return None, 0.0, _recognised(readings[0]), self._why(readings[0], tail, problems)
        best = max(c.score for c in candidates.values())
        top = [(p, c) for p, c in candidates.items() if c.score == best]
        top.sort(key=lambda pc: self.ids[pc[0]])
        matched = "+".join(top[0][1].parts)
        if len(top) > 1:
            ids = ", ".join(str(self.ids[p]) for p, _ in top[:5]) + ("…" if len(top) > 5 else "")
            wheres = sorted({c.where for _, c in top})
            if len(wheres) == 1:
                what = f"at {wheres[0]}"
                if "栋(推定)" in top[0][1].parts:
                    what += " and no 栋 given"
            else:
                what = "match equally well: " + ", ".join(wheres[:4])
            return None, 0.0, matched, f"ambiguous: {len(top)} buildings {what} (ids {ids})"
        position, chosen = top[0]
        if chosen.score < MATCH_THRESHOLD:
            why = (
                f"low score: the best building (id {self.ids[position]}) scores "
                f"{chosen.score:.2f} < {MATCH_THRESHOLD} ({matched})"
            )
            return None, 0.0, matched, why
        return position, chosen.score, matched, None

    @staticmethod
    def _why(parse: _Parse, tail: _Tail, problems: list[str]) -> str:
        """Why nothing matched, the most telling problem first."""
        for prefix in ("no such building", "no such number", "no number"):
            for problem in problems:
                if problem.startswith(prefix):
                    return problem
        places = [p for p in parse.places if p is not None]
        if not parse.road and not places:
            return "no road or place found"
        if not parse.road:
            if tail.number is not None:
                return f"no such number: no building numbered {tail.number}号 in the place given"
            return "no road found: only places are given"
        if not places:
            return f"no road or place found: {parse.road!r} is not a known road or place"
        return f"no road found: {parse.road!r} is not a road, compound or hamlet of the place"


def _merge_places(
    first: tuple[frozenset[str] | None, ...], second: tuple[frozenset[str] | None, ...]
) -> tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None]:
    a, b, c = (x if x is not None else y for x, y in zip(first, second, strict=True))
    return a, b, c


def _recognised(parse: _Parse) -> str:
    """The places (and road) recognised in an address that matched nothing."""
    parts = [lab for given, lab in zip(parse.places, _LEVEL_LABELS, strict=True) if given]
    return "+".join([*parts, "路"] if parse.known else parts)


def _check_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"`{what}` lacks the column(s) {missing}: it has {list(frame.columns)} "
            f"but is expected to have {list(required)}",
            zh=f"`{what}` 缺少列 {missing}：现有的列为 {list(frame.columns)}，"
            f"应有的列为 {list(required)}",
        )


def _places_from_addresses(buildings: pd.DataFrame) -> pd.DataFrame:
    """Place names read from the addresses themselves, by suffix (when no places are given)."""
    rows: dict[tuple[str, str], str] = {}
    for address, code in zip(buildings["address"], buildings["community_code"], strict=True):
        if not address:
            continue
        parsed = parse_address(str(address))
        for level, name, length in zip(
            _LEVELS, (parsed.district, parsed.street, parsed.community), _CODE_LENGTHS, strict=True
        ):
            if name:
                rows[(level, str(code)[:length])] = name
    return pd.DataFrame(
        {
            "code": [code for _, code in rows],
            "name": list(rows.values()),
            "level": [level for level, _ in rows],
        },
        columns=["code", "name", "level"],
    )


def address_book(buildings: pd.DataFrame, *, places: pd.DataFrame | None = None) -> AddressBook:
    """Index buildings for :func:`match_addresses`.

    Parameters
    ----------
    buildings:
        Columns ``id``, ``address``, ``community_code`` (12 digits), and
        optionally ``name`` (荔园小区3栋) and ``compound`` (荔园小区), which are
        indexed too; other columns (``cell_id``) are ignored.
    places:
        Columns ``code``, ``name``, ``level`` (``district``, ``street`` or
        ``community``): the names addresses may start with. When ``None``,
        they are read from the addresses by their suffixes (区, 街道/镇/乡,
        社区/村), which misses short forms such as 镇海 for 镇海街道.

    Returns
    -------
    AddressBook

    Raises
    ------
    InputError
        When a column is missing or a level is unknown.

    Examples
    --------
    >>> b = pd.DataFrame({"id": [1, 2], "community_code": ["350304001001"] * 2,
    ...                   "address": ["荔城区镇海街道文献社区瑞隆里59号1栋",
    ...                               "荔城区镇海街道文献社区瑞隆里59号2栋"]})
    >>> book = address_book(b)
    >>> match_addresses(book, ["文献社区瑞隆里59号2幢"])["building_id"].tolist()
    [2]
    """
    _check_columns(buildings, ["id", "address", "community_code"], "buildings")
    if places is None:
        places = _places_from_addresses(buildings)
    else:
        _check_columns(places, ["code", "name", "level"], "places")
        bad = sorted(set(places["level"]) - set(_LEVELS))
        if bad:
            raise InputError(
                f"`places` has the level(s) {bad} but levels are expected to be in {list(_LEVELS)}",
                zh=f"`places` 中有级别 {bad}，级别应为以下之一：{list(_LEVELS)}",
            )
    n = len(buildings)

    def optional(column: str) -> list[str | None]:
        if column not in buildings.columns:
            return [None] * n
        return [None if pd.isna(v) else str(v) for v in buildings[column]]

    return AddressBook(
        ids=buildings["id"].astype(np.int64).tolist(),
        community_codes=buildings["community_code"].astype(str).tolist(),
        addresses=optional("address"),
        names=optional("name"),
        compounds=optional("compound"),
        places=places,
    )


def load_address_book(connection: sqlalchemy.Connection) -> AddressBook:
    """The address book of every building in the database.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> with get_engine().connect() as conn:
    ...     book = load_address_book(conn)
    """
    buildings = result_frame(
        connection.execute(
            select(
                Building.id,
                Building.address,
                Building.name,
                Building.compound,
                Building.community_code,
            ).order_by(Building.id)
        )
    )
    places = result_frame(
        connection.execute(
            union_all(
                select(District.code, District.name, literal("district").label("level")),
                select(Street.code, Street.name, literal("street")),
                select(Community.code, Community.name, literal("community")),
            )
        )
    )
    return address_book(buildings, places=places)


def match_addresses(book: AddressBook, addresses: Sequence[str | None]) -> pd.DataFrame:
    """Match addresses to the book's buildings.

    Each address is normalised, its places read with the book's names (full
    or short, any of them left out), and its road, number and building looked
    up in the book's index: exactly first, then tolerating a missing 栋, a
    road one similar character or one edit away, a wrong place (see the
    module's table of penalties). Identical addresses are matched once.

    Parameters
    ----------
    book:
        From :func:`address_book` or :func:`load_address_book`.
    addresses:
        Addresses as written; ``None`` and empty ones are reported, not
        skipped.

    Returns
    -------
    pandas.DataFrame
        One row per address, in order, with a RangeIndex: ``building_id``
        (Int64, <NA> when unmatched), ``score`` (0–1, 0 when unmatched),
        ``matched`` (what matched, e.g. ``街道+社区+路+号+栋``), ``reason``
        (``None`` when matched, else why not: ``empty address``,
        ``no road or place found``, ``no road found: …``,
        ``no such number: …``, ``no such building: …``, ``no number: …``,
        ``ambiguous: …``, ``low score: …``, ``not an address: …`` for a text of
        over 200 characters), ``unit`` (Int64) and ``room``
        (text) when given.

    Examples
    --------
    >>> b = pd.DataFrame({"id": [7], "community_code": ["350304001001"],
    ...                   "address": ["荔城区镇海街道文献社区瑞隆里59号1栋"]})
    >>> book = address_book(b)
    >>> found = match_addresses(book, ["瑞龙里五十九号一栋3单元502室", None])
    >>> found["building_id"].tolist(), found["score"].tolist(), found["matched"].tolist()
    ([7, <NA>], [0.9, 0.0], ['路(音形近)+号+栋', ''])
    >>> found["unit"].tolist(), found["room"].tolist(), found["reason"].tolist()
    ([3, <NA>], ['502', None], [None, 'empty address'])
    """
    n = len(addresses)
    building_id: list[int | None] = [None] * n
    score = np.zeros(n, dtype=np.float64)
    matched: list[str] = [""] * n
    reason: list[str | None] = [None] * n
    unit: list[int | None] = [None] * n
    room: list[str | None] = [None] * n
    done: dict[str, tuple[int | None, float, str, str | None, _Tail]] = {}
    # One loop over the addresses: each is text work and dictionary look-ups.
    for i, address in enumerate(addresses):
        norm = normalise_address(address) if isinstance(address, str) else ""
        if not norm:
            reason[i] = "empty address"
            continue
        if len(norm) > _MAX_LENGTH:
            reason[i] = f"not an address: {len(norm)} characters (at most {_MAX_LENGTH})"
            continue
        result = done.get(norm)
        if result is None:
            tail = _split_tail(norm)
            result = (*book._match_one(tail), tail)
            done[norm] = result
        position, s, what, why, tail = result
        if position is not None:
            building_id[i] = int(book.ids[position])
            score[i] = s
        matched[i] = what
        reason[i] = why
        unit[i] = tail.unit
        room[i] = tail.room
    return pd.DataFrame(
        {
            "building_id": pd.array(building_id, dtype="Int64"),
            "score": score,
            "matched": pd.Series(matched, dtype=object),
            "reason": pd.Series(reason, dtype=object),
            "unit": pd.array(unit, dtype="Int64"),
            "room": pd.Series(room, dtype=object),
        }
    )
