"""What every table shares: the SRID, the naming convention, the base class, and
helpers for geometry columns and their checks."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Index,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

SRID = 4326

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _area(srid_type: str) -> Geometry:
    return Geometry(srid_type, srid=SRID, spatial_index=False)


def _gist(table: str, column: str = "geom") -> Index:
    return Index(f"ix_{table}_{column}", column, postgresql_using="gist")


def _valid(column: str = "geom") -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR ST_IsValid({column})", name=f"{column}_valid")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({listed})", name=column)


class Base(DeclarativeBase):
    """Declarative base of every gridgis table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
