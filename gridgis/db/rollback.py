"""Publishing an earlier layout again: rollback, with the links as they were.

History is append-only: a rollback publishes the cells of an earlier version
as a *new* version (method ``rollback``), with their codes and names. The codes
of those cells that were retired since are put back in force (they are the
same cells, not a code issued to another cell). The links of grid workers and
party organisations that the versions rolled back moved (``cell_link_move``)
are moved back, newest first, to the restored cells; links made since stay
where they are while their cell survives, and follow the lineage otherwise.

Which communities: one community goes back to ``to_version`` (default: the
version before its current one). A street or district goes back one step in
the communities that its *last change* touched — the versions published in the
one transaction with the newest time among them (a multi-community redraw is
one transaction, so its versions share their time); the others stay as they are.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from gridgis.db.continuity import LINK_TABLES, LinkChange
from gridgis.db.layout import LayoutDiff, publish_cells
from gridgis.db.models import CellCode, CellLinkMove, GridCell, LayoutVersion
from gridgis.db.queries import ewkb, read_geoframe
from gridgis.errors import InputError, NotFoundError

__all__ = ["rollback", "rollback_targets"]

_made, _closed = aliased(LayoutVersion), aliased(LayoutVersion)


def rollback_targets(
    conn: Connection, area_code: str, *, to_version: int | None = None
) -> list[tuple[str, int, int]]:
    """``(community, current version, version to go back to)`` for each community to roll back.

    Raises
    ------
    InputError
        When ``to_version`` is given for a street or district, or is not an earlier
        version of the community.
    NotFoundError
        When nothing in the area has a version to go back to.
    """
    if to_version is not None and len(area_code) != 12:
        raise InputError(
            "`--to` names a version of one community; give it with --community, not with "
            f"the street or district {area_code}",
            zh="`--to` 指的是某一个社区的版本；请与 --community 一起使用，而不是与街道或区 "
            f"{area_code} 一起使用",
        )
    latest = (
        select(
            LayoutVersion.community_code,
            func.max(LayoutVersion.version).label("version"),
            func.max(LayoutVersion.published_at).label("at"),
        )
        .where(LayoutVersion.community_code.startswith(area_code, autoescape=True))
        .group_by(LayoutVersion.community_code)
        .order_by(LayoutVersion.community_code)
    )
    rows = conn.execute(latest).all()
    if not rows:
        raise NotFoundError(
            f"no community in {area_code} has a published layout",
            zh=f"{area_code} 内没有已发布网格的社区",
        )
    if len(area_code) == 12:
        [(code, version, _)] = rows
        target = version - 1 if to_version is None else to_version
        if not 1 <= target < version:
            raise InputError(
                f"community {code} is at version {version}: `--to` was {to_version} but is "
                f"expected to be an earlier version, 1 to {version - 1}"
                if to_version is not None
                else f"community {code} has only version 1: there is no earlier layout",
                zh=(
                    f"社区 {code} 现为第 {version} 版：`--to` 为 {to_version}，应为更早的版本（1 "
                    f"到 {version - 1}）"
                    if to_version is not None
                    else f"社区 {code} 只有第 1 版：没有更早的网格可以回退"
                ),
            )
        return [(code, version, target)]
    newest = max(r.at for r in rows)
    chosen = [(r.community_code, r.version, r.version - 1) for r in rows if r.at == newest]
    chosen = [c for c in chosen if c[2] >= 1]
    if not chosen:
        raise NotFoundError(
            f"the last change in {area_code} drew communities for the first time",
            zh=f"{area_code} 最近一次变更是首次划分社区网格，没有可回退的版本",
        )
    return chosen


def _cells_at(conn: Connection, community: str, version: int):  # type: ignore[no-untyped-def]
    """The cells (code, name, flags, geometry) in force at ``version`` of the community."""
    statement = (
        select(GridCell.code, GridCell.name, GridCell.flags, ewkb(GridCell.geom))
        .join(_made, _made.id == GridCell.version_from_id)
        .outerjoin(_closed, _closed.id == GridCell.version_to_id)
        .where(
            GridCell.community_code == community,
            _made.version <= version,
            (_closed.version.is_(None)) | (_closed.version > version),
        )
        .order_by(GridCell.code)
    )
    frame = read_geoframe(conn, statement)
    return frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame


def _restore_links(
    conn: Connection, community: str, after_version: int, version_id: int, restored: set[str]
) -> list[LinkChange]:
    """Put the links that versions after ``after_version`` moved back as they were.

    For each worker or organisation those versions moved, the cells it was linked to at
    ``after_version`` (the cells its links were moved *from*, among the ``restored`` codes)
    are linked again, and the links the moves made to other cells are removed; links made
    by hand since are not touched. Each restored link is recorded as a move of version
    ``version_id``.
    """
    source, target = aliased(GridCell), aliased(GridCell)
    moves = conn.execute(
        select(
            CellLinkMove.link,
            CellLinkMove.owner_id,
            CellLinkMove.from_cell_id,
            source.code.label("from_code"),
            target.code.label("to_code"),
        )
        .join(LayoutVersion, LayoutVersion.id == CellLinkMove.version_id)
        .join(source, source.id == CellLinkMove.from_cell_id)
        .outerjoin(target, target.id == CellLinkMove.to_cell_id)
        .where(
            LayoutVersion.community_code == community,
            LayoutVersion.version > after_version,
            LayoutVersion.id != version_id,
        )
        .order_by(LayoutVersion.version, CellLinkMove.id)
    ).all()
    active = {
        code: int(i)
        for code, i in conn.execute(
            select(GridCell.code, GridCell.id).where(
                GridCell.community_code == community, GridCell.valid_to.is_(None)
            )
        )
    }
    owners: dict[tuple[str, int], tuple[dict[str, int], set[str]]] = {}
    for move in moves:
        was, made = owners.setdefault((move.link, move.owner_id), ({}, set()))
        if move.from_code in restored:
            was.setdefault(move.from_code, move.from_cell_id)  # the first: the row at the time
        if move.to_code is not None:
            made.add(move.to_code)
    changes: list[LinkChange] = []
    for (link, owner_id), (was, made) in owners.items():
        table, owner_column, owner_table = LINK_TABLES[link]
        linked = {
            cell_id: code
            for cell_id, code in conn.execute(
                select(table.cell_id, GridCell.code)
                .join(GridCell, GridCell.id == table.cell_id)
                .where(owner_column == owner_id, GridCell.community_code == community)
            )
        }
        wanted = {active[c] for c in was if c in active}
        drop = [
            i
            for i, code in linked.items()
            if i not in wanted
            and (code in made - set(was) or (code in was and i != active.get(code)))
        ]
        if drop:
            conn.execute(delete(table).where(owner_column == owner_id, table.cell_id.in_(drop)))
        name = str(
            conn.execute(select(owner_table.name).where(owner_table.id == owner_id)).scalar()
        )
        for code in sorted(c for c in was if c in active and active[c] not in linked):
            conn.execute(
                pg_insert(table)
                .values({owner_column.key: owner_id, "cell_id": active[code]})
                .on_conflict_do_nothing()
            )
            conn.execute(
                insert(CellLinkMove).values(
                    version_id=version_id,
                    link=link,
                    owner_id=owner_id,
                    from_cell_id=was[code],
                    to_cell_id=active[code],
                )
            )
            changes.append(LinkChange(link, owner_id, str(name), code, code))
    return changes


def _rollback_one(
    conn: Connection, community: str, current: int, target: int, *, actor: str
) -> LayoutDiff:
    cells = _cells_at(conn, community, target)
    if cells.empty:
        raise NotFoundError(
            f"community {community} had no cells at version {target}",
            zh=f"社区 {community} 在第 {target} 版时没有网格",
        )
    conn.execute(
        update(CellCode)
        .where(CellCode.code.in_(cells["code"].tolist()), CellCode.retired_at.is_not(None))
        .values(retired_at=None)
    )
    diff = publish_cells(
        conn,
        community,
        cells[["code", "name", "flags", "geometry"]],
        method="rollback",
        expected_version=current,
        actor=actor,
        note=f"rollback to version {target}",
        accept_unlinked=True,
    )
    if diff.version is not None:
        version_id = conn.execute(
            select(LayoutVersion.id).where(
                LayoutVersion.community_code == community,
                LayoutVersion.version == diff.version,
            )
        ).scalar_one()
        restored = _restore_links(conn, community, target, version_id, set(cells["code"]))
        moved = {(c.link, c.owner_id): c for c in diff.links_moved}
        for change in restored:
            moved[change.link, change.owner_id] = change
        diff.links_moved = list(moved.values())
        diff.links_undecided = [
            c for c in diff.links_undecided if (c.link, c.owner_id) not in moved
        ]
    return diff


def rollback(
    engine: Engine,
    area_code: str,
    *,
    to_version: int | None = None,
    actor: str,
    dry_run: bool = False,
) -> list[LayoutDiff]:
    """Publish the earlier layouts of an area again, in one transaction (all or none).

    Parameters
    ----------
    engine:
        The database.
    area_code:
        A community (12 digits), street (9) or district (6); see the module for which
        communities of a street or district are rolled back.
    to_version:
        For a community: the version to publish again (default: the one before).
    actor:
        Who rolls back (audit trail, ``published_by``).
    dry_run:
        Compute the diffs, then roll back the transaction.

    Returns
    -------
    list of LayoutDiff
        One per community rolled back.
    """
    with engine.connect() as conn, conn.begin() as transaction:
        diffs = [
            _rollback_one(conn, code, current, target, actor=actor)
            for code, current, target in rollback_targets(conn, area_code, to_version=to_version)
        ]
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return diffs
