"""Households per building from the population/housing register (实有人口/实有房屋), by address.

The register has no geometry: each row is an address (and a count of
households, or one household a row). Addresses are matched to the stored
buildings with :mod:`gridgis.address`; the counts are summed per building and
replace its households, estimated or not (``households_estimated`` is cleared).
A row whose address matches no building, or several equally, is rejected with
the reason and the best candidates. Importing the same file twice changes
nothing the second time: every row is ``unchanged``.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> report = import_households(get_engine(), "实有房屋.xlsx", address_field="房屋地址",
...                            actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 5210, 'imported': 0, 'updated': 5102, 'unchanged': 0, 'flagged': 0, 'rejected': 108}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Engine, Table, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.codes import check_code
from gridgis.db.models import Building
from gridgis.db.queries import result_frame
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.registers.addresses import candidate_ids
from gridgis.registers.columns import match_columns
from gridgis.registers.loading import run_import
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.values import numbers, texts

__all__ = ["import_households"]


def _buildings(conn: Connection, ids: list[int]) -> pd.DataFrame:
    table = cast(Table, Building.__table__)
    query = select(
        table.c.id, table.c.external_id, table.c.address, table.c.households,
        table.c.households_estimated, table.c.community_code,
    ).where(table.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger))))  # fmt: skip
    columns = [
        "id", "external_id", "address", "households", "households_estimated", "community_code",
    ]  # fmt: skip
    return result_frame(conn.execute(query), columns=columns).set_index("id")


def import_households(
    engine: Engine,
    path: str | Path,
    *,
    address_field: str | None = None,
    households_field: str | None = None,
    id_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Sum the households of a register per building, matched by address, and store them.

    Parameters
    ----------
    engine:
        The database, with the buildings (``gridgis import buildings``).
    path:
        CSV or ``.xlsx`` (a vector file's geometry is not used).
    address_field:
        The column of the address (default: ``address``, ``地址``, ``房屋地址``...).
    households_field:
        The column of the households at the address (default: ``households``,
        ``户数``...); without one, each row is one household.
    id_field:
        A column naming the row, shown in the report (optional).
    encoding, sheet:
        See :func:`gridgis.intake.read_table`.
    street:
        A street office's 9-digit code: rows whose address is a building of
        another street are rejected.
    dry_run:
        Match and count everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports; one audit row sums the import up.

    Returns
    -------
    RegisterReport
        A row is ``updated`` when its building's households changed, else
        ``unchanged``; ``rejected`` with the reason (and ``candidates``) when its
        address matched no single building or its count is not a whole number
        ≥ 0. Extra columns ``building`` (the building's id in the file it came
        from, else its database id), ``building_households`` (the new total) and
        ``candidates``.
    """
    if street is not None:
        check_code(street, "street")
    say(progress, f"reading {path}")
    table = read_table(path, encoding=encoding, sheet=sheet)
    columns = match_columns(
        table.field_names,
        ("id", "address", "households"),
        given={"id": id_field, "address": address_field, "households": households_field},
        required=("address",),
        source=table.path.name,
    )
    n = len(table.fields)

    def column(field: str) -> pd.Series:
        name = columns[field]
        if name is None:
            return pd.Series([None] * n, dtype=object)
        return table.fields[name].astype(object).reset_index(drop=True)

    def body(conn: Connection) -> RegisterReport:
        from gridgis.address import load_address_book, match_addresses

        ids = texts(column("id"))
        addresses = texts(column("address"))
        outcomes = RowOutcomes(table.row, ids)
        if columns["households"] is not None:
            counts, why = numbers(column("households"), "households", whole=True)
            missing = ~np.isfinite(counts) & np.array([w is None for w in why])
            why = [
                w or ("households missing" if m else None)
                for w, m in zip(why, missing, strict=True)
            ]
        else:
            counts, why = np.ones(n), [None] * n
        no_address = addresses.isna().to_numpy()
        why = [
            w or ("address missing" if a else None) for w, a in zip(why, no_address, strict=True)
        ]
        bad = np.array([w is not None for w in why], dtype=bool)
        outcomes.reject(bad, [w for w in why if w is not None])
        todo = np.flatnonzero(~bad)
        say(progress, f"matching {todo.size} addresses")
        book = load_address_book(conn)
        matches = match_addresses(book, addresses.iloc[todo].tolist())
        building = np.full(n, -1, dtype=np.int64)
        building[todo] = matches["building_id"].to_numpy(dtype=np.int64, na_value=-1)
        reasons = np.full(n, None, dtype=object)
        reasons[todo] = matches["reason"].to_numpy(dtype=object)
        unmatched = ~bad & (building < 0)
        wanted = sorted({int(b) for b in building[building >= 0]})
        wanted += [i for r in reasons[unmatched] for i in candidate_ids(r)]
        stored = _buildings(conn, sorted(set(wanted)))
        labels = {
            int(i): f"{e or i} {a or ''}".strip()
            for i, e, a in zip(stored.index, stored["external_id"], stored["address"], strict=True)
        }
        candidates = np.full(n, None, dtype=object)
        for i in np.flatnonzero(unmatched):  # wording each unmatched row with its candidates
            shown = [labels.get(c, str(c)) for c in candidate_ids(reasons[i])]
            candidates[i] = " | ".join(shown) or None
            outcomes.reject([i], f"address {addresses.iat[int(i)]!r} not matched: {reasons[i]}")
        matched = ~bad & ~unmatched
        if street is not None:
            outside = stored.index[~stored["community_code"].fillna("").str.startswith(street)]
            for i in np.flatnonzero(matched & np.isin(building, outside)):  # worded one by one
                found = stored.loc[building[i]]
                outcomes.reject(
                    [i],
                    f"address {addresses.iat[int(i)]!r} is building "
                    f"{found['external_id'] or building[i]} of community "
                    f"{found['community_code']}, outside street {street}",
                )
            matched &= ~np.isin(building, outside)
        say(progress, "comparing with the stored households")
        totals = pd.Series(counts[matched]).groupby(building[matched]).sum().astype(np.int64)
        before = stored.reindex(totals.index)
        changed = (before["households"].to_numpy() != totals.to_numpy()) | before[
            "households_estimated"
        ].to_numpy(dtype=bool)
        changed_ids = set(totals.index[changed].tolist())
        rows_changed = matched & np.isin(building, list(changed_ids))
        outcomes.set(rows_changed, "updated")
        outcomes.set(matched & ~rows_changed, "unchanged")
        for b in changed_ids:  # one sentence per building whose count changed
            old = before.loc[b]
            estimate = " (estimated)" if old["households_estimated"] else ""
            outcomes.changes[building == b] = (
                f"households {old['households']}{estimate} → {totals.loc[b]}"
            )
        if changed_ids:
            say(progress, f"updating the households of {len(changed_ids)} buildings")
            table_ = cast(Table, Building.__table__)
            statement = (
                update(table_)
                .where(table_.c.id == bindparam("b_id"))
                .values(households=bindparam("v_households"), households_estimated=False)
            )
            conn.execute(
                statement,
                [{"b_id": int(b), "v_households": int(totals.loc[b])} for b in sorted(changed_ids)],
            )
        outcomes.add_column(
            "building",
            [labels.get(int(b), "").split(" ")[0] or None if b >= 0 else None for b in building],
        )
        total_of = totals.to_dict()
        outcomes.add_column("building_households", [total_of.get(int(b)) for b in building])
        outcomes.add_column("candidates", candidates)
        notes = (
            []
            if columns["households"] is not None
            else ["no households column: one row, one household"]
        )
        return RegisterReport(
            "households",
            table.path,
            outcomes.frame(),
            numbering=table.numbering,
            encoding=table.encoding,
            notes=notes,
        )

    return run_import(engine, "households", table.path, body, dry_run=dry_run, actor=actor)
