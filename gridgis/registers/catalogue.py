"""The kinds of register a user may import: one entry each, read by the web page (and the CLI).

Each :class:`ImportKind` names its importer (a library function taking an
engine, a file and options, returning a
:class:`~gridgis.registers.report.RegisterReport`), the options it takes, the
files it reads and its label in Chinese and English. The web import page
offers exactly the kinds registered here, with their options; another kind is
plugged in by one :func:`register` call at the end of this module.

Options (besides ``--X-field``, one per entry of ``fields``):

``crs``
    the system of the coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:n``);
``encoding``
    the text encoding of a CSV file or shapefile;
``sheet``
    the sheet of an Excel file;
``layer``
    the layer of a GeoPackage;
``estimate``
    estimate households where the file has none;
``street``
    the importer keeps a street office within its street (a kind without it is
    for administrators only).

Examples
--------
>>> kind = import_kind("buildings")
>>> kind.label("zh"), kind.label("en")
('楼栋', 'Buildings')
>>> kind.checked_options({"households_field": "户数", "estimate": True})
{'households_field': '户数', 'estimate': True}
>>> import_kind("trees")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gridgis.errors.NotFoundError: `kind` was 'trees' but is expected to be one of ['buildings', ...]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from gridgis.errors import ForbiddenError, InputError, NotFoundError
from gridgis.registers.activities import ACTIVITY_FIELDS, import_activities
from gridgis.registers.branches import BRANCH_FIELDS, import_branches
from gridgis.registers.buildings import BUILDING_FIELDS, import_buildings
from gridgis.registers.compounds import COMPOUND_FIELDS, import_compounds
from gridgis.registers.departments import DEPARTMENT_FIELDS, import_departments
from gridgis.registers.facilities import FACILITY_FIELDS, import_facilities
from gridgis.registers.households import import_households
from gridgis.registers.members import MEMBER_FIELDS, import_members
from gridgis.registers.report import RegisterReport
from gridgis.registers.resident_units import UNIT_FIELDS as RESIDENT_UNIT_FIELDS
from gridgis.registers.resident_units import import_resident_units
from gridgis.registers.residents import RESIDENT_FIELDS, import_residents
from gridgis.registers.roads import ROAD_FIELDS, import_roads
from gridgis.registers.units import UNIT_FIELDS, import_units
from gridgis.registers.workers import WORKER_FIELDS, import_workers

__all__ = ["OPTIONS", "ImportKind", "import_kind", "kinds", "register"]

OPTIONS: tuple[str, ...] = ("crs", "encoding", "sheet", "layer", "estimate", "street")
"""Every option a kind may take besides its field options (see the module's description)."""

_FLAGS = frozenset({"estimate"})
"""The options that are on or off (the others are text)."""


@dataclass(frozen=True)
class ImportKind:
    """One kind of register: what imports it, with which options, from which files.

    Attributes
    ----------
    name:
        ``buildings``, ``households``... (the CLI's ``gridgis import NAME``).
    label_zh, label_en:
        What people call it, in Chinese and English.
    importer:
        The importer: ``importer(engine, path, *, dry_run, progress, actor, **options)``.
    fields:
        The fields whose column may be named (an option ``<field>_field`` each).
    options:
        Which of :data:`OPTIONS` it takes.
    suffixes:
        The file types it reads (a shapefile: zipped, ``.zip``).
    required:
        The fields the file must have (found by their headers when not named).
    """

    name: str
    label_zh: str
    label_en: str
    importer: Callable[..., RegisterReport]
    fields: tuple[str, ...]
    options: frozenset[str]
    suffixes: tuple[str, ...]
    required: tuple[str, ...] = ("id",)

    def __post_init__(self) -> None:
        unknown = sorted(self.options - set(OPTIONS))
        if unknown:
            raise ValueError(f"`options` had {unknown} but is expected to be of {list(OPTIONS)}")

    def label(self, language: str) -> str:
        """The label in ``language`` (``"en"``: English, else Chinese)."""
        return self.label_en if language == "en" else self.label_zh

    @property
    def street_limited(self) -> bool:
        """Whether the importer can keep a street office within its street."""
        return "street" in self.options

    def accepts(self, file_name: str) -> bool:
        """Whether a file of this name is of a type the kind reads."""
        return Path(file_name).suffix.lower() in self.suffixes

    def checked_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` as the importer's keyword arguments: blanks dropped, unknown ones refused.

        Raises
        ------
        InputError
            Naming an option the kind does not take, and those it takes.
        """
        allowed = [f"{f}_field" for f in self.fields] + [
            o for o in OPTIONS if o in self.options and o != "street"
        ]
        out: dict[str, Any] = {}
        for key, value in given.items():
            if key not in allowed:
                raise InputError(
                    f"option {key!r} is not one of the {self.name} import's: {', '.join(allowed)}",
                    zh=f"选项 {key!r} 不属于{self.label_zh}导入；可用的选项：{', '.join(allowed)}",
                )
            if key in _FLAGS:
                if value:
                    out[key] = True
            elif isinstance(value, str) and value.strip():
                out[key] = value.strip()
        return out

    def run(
        self,
        engine: Engine,
        path: Path,
        *,
        options: Mapping[str, Any],
        street: str | None,
        dry_run: bool,
        progress: Callable[[str], None] | None,
        actor: str,
    ) -> RegisterReport:
        """Import ``path`` with the importer and ``options`` (:meth:`checked_options`).

        ``street`` keeps a street office within its street; a kind that cannot
        is refused to it.

        Raises
        ------
        ForbiddenError
            When ``street`` is given and the kind is not :attr:`street_limited`.
        """
        arguments = self.checked_options(options)
        if street is not None:
            if not self.street_limited:
                raise ForbiddenError(
                    f"{self.name} are imported by administrators only (street {street})",
                    zh=f"{self.label_zh}只能由管理员导入（街道 {street}）",
                )
            arguments["street"] = street
        return self.importer(
            engine, path, dry_run=dry_run, progress=progress, actor=actor, **arguments
        )


_KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    """Add ``kind`` to the kinds offered (its name must be new)."""
    if kind.name in _KINDS:
        raise ValueError(f"import kind {kind.name!r} is registered already")
    _KINDS[kind.name] = kind
    return kind


def kinds() -> list[ImportKind]:
    """Every registered kind, in the order registered."""
    return list(_KINDS.values())


def import_kind(name: str) -> ImportKind:
    """The kind called ``name``.

    Raises
    ------
    NotFoundError
        Naming the kinds there are.
    """
    try:
        return _KINDS[name]
    except KeyError:
        raise NotFoundError(
            f"`kind` was {name!r} but is expected to be one of {list(_KINDS)}",
            field="kind",
            zh=f"`kind` 为 {name!r}，应为以下之一：{list(_KINDS)}",
        ) from None


_VECTOR = (".geojson", ".json", ".gpkg", ".zip")
_TABLE = (".csv", ".txt", ".xlsx")

register(
    ImportKind(
        name="buildings",
        label_zh="楼栋",
        label_en="Buildings",
        importer=import_buildings,
        fields=BUILDING_FIELDS,
        options=frozenset({"crs", "encoding", "sheet", "layer", "estimate", "street"}),
        suffixes=_VECTOR + _TABLE,
    )
)
register(
    ImportKind(
        name="households",
        label_zh="户数（实有房屋登记）",
        label_en="Households (housing register)",
        importer=import_households,
        fields=("address", "households", "id"),
        options=frozenset({"encoding", "sheet", "street"}),
        suffixes=_TABLE,
        required=("address",),
    )
)
register(
    ImportKind(
        name="units",
        label_zh="单元及各单元户数",
        label_en="Units of buildings (households per unit)",
        importer=import_units,
        fields=UNIT_FIELDS,
        options=frozenset({"encoding", "sheet", "layer"}),
        suffixes=_TABLE,
        required=("building", "unit"),
    )
)
register(
    ImportKind(
        name="workers",
        label_zh="网格员及楼栋长、单元长",
        label_en="Grid workers and building/unit leaders",
        importer=import_workers,
        fields=WORKER_FIELDS,
        options=frozenset({"encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="branches",
        label_zh="党组织",
        label_en="Party organisations",
        importer=import_branches,
        fields=BRANCH_FIELDS,
        options=frozenset({"crs", "encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="facilities",
        label_zh="服务设施",
        label_en="Service facilities",
        importer=import_facilities,
        fields=FACILITY_FIELDS,
        options=frozenset({"crs", "encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name", "kind"),
    )
)
register(
    ImportKind(
        name="residents",
        label_zh="重点户（大走访对象）",
        label_en="Key households (visit targets)",
        importer=import_residents,
        fields=RESIDENT_FIELDS,
        options=frozenset({"encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="departments",
        label_zh="职能部门",
        label_en="Departments",
        importer=import_departments,
        fields=DEPARTMENT_FIELDS,
        options=frozenset({"encoding", "sheet", "layer"}),
        suffixes=_TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="resident-units",
        label_zh="驻区单位",
        label_en="Resident organisations (驻区单位)",
        importer=import_resident_units,
        fields=RESIDENT_UNIT_FIELDS,
        options=frozenset({"crs", "encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="compounds",
        label_zh="小区物业管理（红心物业）",
        label_en="Compounds and their property management (红心物业)",
        importer=import_compounds,
        fields=COMPOUND_FIELDS,
        options=frozenset({"encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("community", "compound"),
    )
)
register(
    ImportKind(
        name="members",
        label_zh="党员名册",
        label_en="Party members",
        importer=import_members,
        fields=MEMBER_FIELDS,
        options=frozenset({"encoding", "sheet", "layer", "street"}),
        suffixes=_VECTOR + _TABLE,
        required=("id", "name"),
    )
)
register(
    ImportKind(
        name="activities",
        label_zh="党员活动（积分）",
        label_en="Party members' activity (points)",
        importer=import_activities,
        fields=ACTIVITY_FIELDS,
        options=frozenset({"encoding", "sheet", "layer", "street"}),
        suffixes=_TABLE,
        required=("member", "kind", "date"),
    )
)
register(
    ImportKind(
        name="roads",
        label_zh="道路及铁路、河流、围墙",
        label_en="Roads, railways, rivers and walls",
        importer=import_roads,
        fields=ROAD_FIELDS,
        options=frozenset({"crs", "encoding", "sheet", "layer"}),
        suffixes=_VECTOR + _TABLE,
        required=(),
    )
)
