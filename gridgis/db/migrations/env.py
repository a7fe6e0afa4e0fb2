"""Alembic environment of gridgis: run by :mod:`gridgis.db.migrate`, online only."""

from __future__ import annotations

from alembic import context

from gridgis.db.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # PostGIS owns spatial_ref_sys and its own tables (tiger, topology) when installed.
    return not (type_ == "table" and name in {"spatial_ref_sys"})


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "gridgis runs its migrations with a connection: use `gridgis db upgrade`"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
