"""Placing register rows that have an address and no coordinates (地址定位).

gridgis has no gazetteer of its own: an address can only be placed where the
address book (:mod:`gridgis.address`, the addresses of the stored buildings)
knows it. So a row is placed

- at its own stored building when its id is stored (a file without
  coordinates changes no footprint or point);
- at the point of the building its address matches (``building`` precision):
  another building with the same (or a near) address, flagged so that a person checks it is not the
  same building under another id;
- at the middle of the buildings of its house number (``number`` precision,
  门牌) when the number is known but not its 栋 (a new building at a known
  number), or the address names no 栋 and the number has several; flagged;
- nowhere otherwise: the row is rejected with the reason and the best
  candidates, and wants coordinates.

Examples
--------
>>> candidate_ids("ambiguous: 2 buildings at 梅园路12号 and no 栋 given (ids 7, 9)")
[7, 9]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import BigInteger, Connection, Table, Text, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.address import load_address_book, match_addresses, parse_address
from gridgis.db.models import Building
from gridgis.db.queries import result_frame

__all__ = ["AddressPlaces", "candidate_ids", "place_by_address"]

_IDS = re.compile(r"\bids? ([0-9][0-9, ]*)")
_SAME_NUMBER = re.compile(r"^ambiguous: \d+ buildings at \S+号 and no 栋 given")


def candidate_ids(reason: str | None) -> list[int]:
    """The building ids (at most five) an unmatched address's reason names (ambiguous,
    low score)."""
    found = _IDS.search(reason or "")
    if not found:
        return []
    return [int(v) for v in re.findall(r"[0-9]+", found.group(1))][:5]


@dataclass
class AddressPlaces:
    """Where the addresses were placed.

    Attributes
    ----------
    location:
        A WGS84 point per address (``None``: not placed).
    footprint:
        The stored footprint of a row placed at its own stored building (same id),
        which it keeps; ``None`` otherwise.
    precision:
        ``"stored"`` (its own stored building), ``"building"``, ``"number"`` or
        ``None`` (not placed).
    note:
        Why a row placed by its address is flagged (``None``: at its own stored building).
    reason:
        Why an address was not placed (``None``: placed).
    candidates:
        The best candidate buildings of an unplaced address, ``id address | ...``.
    """

    location: np.ndarray
    footprint: np.ndarray
    precision: list[str | None]
    note: list[str | None]
    reason: list[str | None]
    candidates: list[str | None]


def _buildings(
    conn: Connection, ids: list[int], *, external: list[str] | None = None
) -> pd.DataFrame:
    """Stored buildings by database id (or, given ``external``, by external id)."""
    table = cast(Table, Building.__table__)
    query = select(
        table.c.id,
        table.c.external_id,
        table.c.address,
        table.c.community_code,
        func.ST_AsBinary(table.c.location).label("location"),
        func.ST_AsBinary(table.c.footprint).label("footprint"),
    )
    if external is None:
        query = query.where(table.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger))))
    else:
        query = query.where(
            table.c.external_id == any_(bindparam("ids", external, type_=ARRAY(Text)))
        )
    columns = ["id", "external_id", "address", "community_code", "location", "footprint"]
    frame = result_frame(conn.execute(query), columns=columns)
    for column in ("location", "footprint"):
        frame[column] = shapely.from_wkb(frame[column].to_numpy(dtype=object))
    return frame.set_index("id")


def _without_building(address: str) -> str | None:
    """The address cut to its house number (梅园路12号3栋 → 梅园路12号), if it has both."""
    parts = parse_address(address)
    if parts.road is None or parts.number is None or parts.building is None:
        return None
    places = "".join(p for p in (parts.district, parts.street, parts.community) if p)
    return f"{places}{parts.road}{parts.number}号"


def place_by_address(
    conn: Connection, addresses: Sequence[str | None], ids: Sequence[str | None]
) -> AddressPlaces:
    """Place rows without coordinates: at their stored building, else by their address.

    A row whose id is stored keeps its stored footprint and point (a file that
    gives no coordinates changes no geometry); the others are placed by their
    address (see the module notes) or refused.

    Parameters
    ----------
    conn:
        The database, with the buildings whose addresses are known.
    addresses:
        The rows' addresses (``None``: none given).
    ids:
        The rows' ids in their file.
    """
    n = len(addresses)
    location = np.full(n, None, dtype=object)
    footprint = np.full(n, None, dtype=object)
    precision: list[str | None] = [None] * n
    note: list[str | None] = [None] * n
    reason: list[str | None] = [None] * n
    candidates: list[str | None] = [None] * n
    out = AddressPlaces(location, footprint, precision, note, reason, candidates)
    if n == 0:
        return out
    wanted = sorted({i for i in ids if i is not None and "\x00" not in i})
    own = _buildings(conn, [], external=wanted).set_index("external_id")
    todo: list[int] = []
    for i in range(n):  # each row: its stored building, or its address to match
        if ids[i] is not None and ids[i] in own.index:
            location[i] = own.at[ids[i], "location"]
            footprint[i] = own.at[ids[i], "footprint"]
            precision[i] = "stored"
        elif addresses[i] is None:
            reason[i] = "no coordinates and no address"
        else:
            todo.append(i)
    if todo:
        _match(conn, [cast(str, addresses[i]) for i in todo], todo, out)
    return out


def _match(conn: Connection, addresses: list[str], rows: list[int], out: AddressPlaces) -> None:
    """Place ``rows`` of ``out`` by their ``addresses`` among the stored buildings."""
    book = load_address_book(conn)
    found = match_addresses(book, addresses)
    reasons: list[str | None] = found["reason"].tolist()
    # A new 栋 at a known number: the number's buildings, matched without the 栋.
    numbers = [
        _without_building(a) if str(r).startswith("no such building") else None
        for a, r in zip(addresses, reasons, strict=True)
    ]
    at_number = match_addresses(book, [a or "" for a in numbers])
    matched_ids = found["building_id"].to_numpy(dtype=np.int64, na_value=-1)
    number_ids = at_number["building_id"].to_numpy(dtype=np.int64, na_value=-1)
    number_reasons: list[str | None] = at_number["reason"].tolist()
    groups: list[list[int]] = [[] for _ in addresses]
    for k, why in enumerate(reasons):  # gathering each address's candidate buildings
        if why is None:
            groups[k] = [int(matched_ids[k])]
        elif _SAME_NUMBER.match(why):
            groups[k] = candidate_ids(why)
        elif numbers[k] is not None:
            groups[k] = (
                [int(number_ids[k])] if number_ids[k] >= 0 else candidate_ids(number_reasons[k])
            )
        else:
            groups[k] = candidate_ids(why)
    stored = _buildings(conn, sorted({b for g in groups for b in g}))

    def label(b: int) -> str:
        row = stored.loc[b]
        return f"{row['external_id'] or b} {row['address'] or ''}".strip()

    for k, (i, why) in enumerate(zip(rows, reasons, strict=True)):  # wording each place
        group = [b for b in groups[k] if b in stored.index]
        if why is None and group:
            b = group[0]
            out.location[i] = stored.at[b, "location"]
            out.precision[i] = "building"
            out.note[i] = (
                f"placed by its address at building {label(b)} (score "
                f"{found['score'].iat[k]:.2f}, {found['matched'].iat[k]}): check it is not "
                "the same building"
            )
            continue
        same_number = _SAME_NUMBER.match(str(why)) is not None or numbers[k] is not None
        communities = set(stored.loc[group, "community_code"]) if group else set()
        if same_number and group and len(communities) == 1:
            points = shapely.multipoints(stored.loc[group, "location"].to_numpy(dtype=object))
            out.location[i] = shapely.centroid(points)
            out.precision[i] = "number"
            out.note[i] = (
                f"placed by its address at the house number only ({why}): at the middle of "
                f"buildings {', '.join(label(b) for b in group)}; give its coordinates"
            )
            continue
        out.reason[i] = (
            f"address {addresses[k]!r} cannot be placed: {why}; give the building's "
            "coordinates (only the addresses of stored buildings are known)"
        )
        out.candidates[i] = " | ".join(label(b) for b in group) or None
