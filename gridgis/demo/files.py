"""The demo district's registers as the files a district office would have.

:func:`write_buildings` writes the buildings as a GeoPackage of footprints (EPSG:4326)
under the headers of ``gridgis template buildings`` (编号, 名称, 地址, 户数, 人口, 层数,
小区), :func:`write_facilities` the service facilities as a CSV with coordinates in
that of ``gridgis template facilities``, :func:`write_workers` the roster of grid
workers as an Excel workbook in the layout of ``gridgis template workers`` (Chinese
headers: 编号, 姓名, 电话, 角色, 网格), :func:`write_branches` the party organisations
as a CSV in that of ``gridgis template branches``, so that
:func:`gridgis.demo.run.run_demo` loads them through
:func:`gridgis.registers.buildings.import_buildings`,
:func:`gridgis.registers.facilities.import_facilities`,
:func:`gridgis.registers.workers.import_workers` and
:func:`gridgis.registers.branches.import_branches`, the path a real user takes;
:func:`write_roads` writes the roads, railway and river as a GeoPackage of lines with
their ids (编号, 名称, 类型) for :func:`gridgis.registers.roads.import_roads`, and
:func:`write_units` the units of the buildings as a CSV in the layout of ``gridgis
template units`` (楼栋编号, 单元, 户数) for :func:`gridgis.registers.units.import_units`.

A GeoPackage, not a zipped shapefile, for the buildings: it keeps Chinese headers
and text as they are (a shapefile's field names are cut to 10 bytes, 3 Chinese
characters in UTF-8), needs no ``.cpg`` for its encoding, and is read and written
in one go by GDAL.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis.demo.party_tree import PartyTree, role_names
from gridgis.errors import InputError
from gridgis.registers.kinds import BRANCH_KIND_NAMES, FACILITY_KIND_NAMES, WORKER_ROLE_NAMES
from gridgis.registers.templates import template_columns
from gridgis.times import CHINA_TZ

__all__ = [
    "BRANCHES_FILE",
    "BUILDINGS_FILE",
    "CASE_FILES",
    "FACILITIES_FILE",
    "INSPECTIONS_FILE",
    "ROADS_FILE",
    "ROAD_HEADERS",
    "UNITS_FILE",
    "WORKERS_FILE",
    "branch_register",
    "building_register",
    "case_register",
    "facility_register",
    "inspection_register",
    "leader_roster",
    "organisation_register",
    "road_register",
    "unit_register",
    "worker_roster",
    "write_branches",
    "write_buildings",
    "write_cases",
    "write_facilities",
    "write_inspections",
    "write_organisations",
    "write_roads",
    "write_units",
    "write_workers",
]

BUILDINGS_FILE = "楼栋.gpkg"
"""The name of the demo's register of buildings in its folder."""

FACILITIES_FILE = "服务设施.csv"
"""The name of the demo's register of service facilities in its folder."""

WORKERS_FILE = "网格员名册.xlsx"
"""The name of the demo's roster of grid workers in its folder."""

BRANCHES_FILE = "党组织.csv"
"""The name of the demo's register of party organisations in its folder."""

UNITS_FILE = "楼栋单元.csv"
"""The name of the demo's register of the units (单元) of buildings in its folder."""

ROADS_FILE = "道路.gpkg"
"""The name of the demo's roads and barriers (railway, river) in its folder."""

ROAD_HEADERS = {"external_id": "编号", "name": "名称", "kind": "类型"}
"""The fields of the demo's file of roads, found by ``gridgis import roads`` by their headers
(kinds as :data:`gridgis.db.models.ROAD_KINDS`)."""

INSPECTIONS_FILE = "巡查轨迹.gpkg"
"""The name of the demo's export of patrols (GPS tracks) in its folder."""

CASE_FILES: dict[str, tuple[str, str]] = {
    "网格员巡查": ("事件_网格员巡查.csv", "wgs84"),
    "居民随手拍": ("事件_居民随手拍.csv", "gcj02"),
    "12345热线": ("事件_12345热线.csv", "bd09"),
    "部门移交": ("事件_部门移交.csv", "cgcs2000"),
}
"""The demo's exports of cases, one per source (来源), with the system of its coordinates:
the grid workers' app sends GPS (WGS84), the residents' app GCJ-02, the 12345 hotline
BD-09, the departments CGCS2000, so each export is imported with its own ``crs``."""

_CASE_HEADERS = {
    "external_id": "编号", "category_code": "类别", "reported_at": "上报时间",
    "description": "描述", "address": "地址", "raw_x": "经度", "raw_y": "纬度",
    "source": "来源", "reported_by": "上报人",
    "registered_at": "立案时间", "registered_by": "立案人",
    "dispatched_at": "派遣时间", "dispatched_by": "派遣人",
    "handled_at": "处置时间", "handled_by": "处置人",
    "verified_at": "核查时间", "verified_by": "核查人",
    "closed_at": "结案时间", "closed_by": "结案人",
    "rejected_at": "作废时间", "rejected_by": "作废人",
}  # fmt: skip
"""The columns of the demo's case exports: those :func:`gridgis.intake.import_cases` finds
by their Chinese names (:data:`gridgis.intake.CASE_FIELDS`)."""

_ROLE_OF_EMPLOYMENT = {
    "full_time": WORKER_ROLE_NAMES["full_time_worker"],
    "part_time": WORKER_ROLE_NAMES["part_time_worker"],
}


def worker_roster(workers: pd.DataFrame, worker_cells: pd.DataFrame) -> pd.DataFrame:
    """The roster of grid workers under the template's headers, one row per worker.

    Parameters
    ----------
    workers:
        ``external_id``, ``name``, ``phone``, ``employment`` (``full_time`` /
        ``part_time``), as :func:`gridgis.demo.people` makes them.
    worker_cells:
        ``worker`` (external id), ``cell_code``: the cells each serves.

    Returns
    -------
    pandas.DataFrame
        编号, 姓名, 电话, 角色, 网格 (cell codes joined by 、 in code order).

    Examples
    --------
    >>> workers = pd.DataFrame({"external_id": ["w1"], "name": ["王芳"],
    ...                         "phone": ["13812345678"], "employment": ["part_time"]})
    >>> cells = pd.DataFrame({"worker": ["w1", "w1"],
    ...                       "cell_code": ["350304001001002", "350304001001001"]})
    >>> worker_roster(workers, cells).iloc[0].tolist()
    ['w1', '王芳', '13812345678', '兼职网格员', '350304001001001、350304001001002']
    """
    headers = {c.field: c.header for c in template_columns("workers")}
    served = _joined(worker_cells, "worker")
    external = workers["external_id"].astype(str)
    return pd.DataFrame(
        {
            headers["id"]: external.to_numpy(),
            headers["name"]: workers["name"].to_numpy(),
            headers["phone"]: workers["phone"].to_numpy(),
            headers["role"]: workers["employment"].map(_ROLE_OF_EMPLOYMENT).to_numpy(),
            headers["cells"]: external.map(served).to_numpy(),
        }
    )


def leader_roster(roster: pd.DataFrame, tree: PartyTree) -> pd.DataFrame:
    """``roster`` (:func:`worker_roster`) with the leaders of ``tree``: the 网格长 role added
    to their grid workers' rows, a row per 楼栋长 and 单元长 (楼栋 and 单元 columns)."""
    headers = {c.field: c.header for c in template_columns("workers")}
    out = roster.copy()
    leading = out[headers["id"]].isin(set(tree.grid_leaders)).to_numpy()
    roles = out[headers["role"]].to_numpy(dtype=object).copy()
    roles[leading] = [f"{r}、{WORKER_ROLE_NAMES['grid_leader']}" for r in roles[leading]]
    out[headers["role"]] = roles
    out[headers["building"]] = None
    out[headers["unit"]] = None
    leaders = tree.leaders
    added = pd.DataFrame(
        {
            headers["id"]: leaders["external_id"].to_numpy(),
            headers["name"]: leaders["name"].to_numpy(),
            headers["phone"]: leaders["phone"].to_numpy(),
            headers["role"]: [role_names(r) for r in leaders["roles"]],
            headers["cells"]: None,
            headers["building"]: leaders["building"].to_numpy(),
            headers["unit"]: ["、".join(str(n) for n in u) or None for u in leaders["units"]],
        }
    )
    return pd.concat([out, added], ignore_index=True)


def write_workers(
    workers: pd.DataFrame,
    worker_cells: pd.DataFrame,
    folder: str | Path,
    *,
    tree: PartyTree | None = None,
) -> Path:
    """Write the roster of grid workers (:func:`worker_roster`) as ``folder``/:data:`WORKERS_FILE`,
    with the leaders of ``tree`` when given (:func:`leader_roster`).

    Returns
    -------
    pathlib.Path
        The workbook written (the folder is created when missing).
    """
    path = Path(folder) / WORKERS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    roster = worker_roster(workers, worker_cells)
    if tree is not None:
        roster = leader_roster(roster, tree)
    roster.to_excel(path, index=False, sheet_name="网格员")
    return path


def _joined(links: pd.DataFrame, by: str) -> pd.Series:
    """The cell codes of each ``by`` joined by 、 in code order."""
    return (
        links.drop_duplicates()
        .sort_values([by, "cell_code"])
        .groupby(by, sort=False)["cell_code"]
        .agg("、".join)
    )


def branch_register(branches: gpd.GeoDataFrame, branch_cells: pd.DataFrame) -> pd.DataFrame:
    """The register of party organisations under the template's headers, one row each.

    Parameters
    ----------
    branches:
        ``external_id``, ``name``, ``community_code``, ``member_count``, points in
        EPSG:4326.
    branch_cells:
        ``branch`` (external id), ``cell_code``: the cells each covers.

    Returns
    -------
    pandas.DataFrame
        编号, 名称, 类型 (党支部), 经度, 纬度, 党员数, 网格 (joined by 、), 社区 (its code).
    """
    headers = {c.field: c.header for c in template_columns("branches")}
    external = branches["external_id"].astype(str)
    return pd.DataFrame(
        {
            headers["id"]: external.to_numpy(),
            headers["name"]: branches["name"].to_numpy(),
            headers["kind"]: BRANCH_KIND_NAMES["branch"],
            headers["x"]: branches.geometry.x.to_numpy(),
            headers["y"]: branches.geometry.y.to_numpy(),
            headers["members"]: branches["member_count"].to_numpy(),
            headers["cells"]: external.map(_joined(branch_cells, "branch")).to_numpy(),
            "社区": branches["community_code"].to_numpy(),
        }
    )


def write_branches(
    branches: gpd.GeoDataFrame, branch_cells: pd.DataFrame, folder: str | Path
) -> Path:
    """Write :func:`branch_register` as ``folder``/:data:`BRANCHES_FILE` (UTF-8 CSV).

    Returns
    -------
    pathlib.Path
        The file written (the folder is created when missing).
    """
    path = Path(folder) / BRANCHES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    branch_register(branches, branch_cells).to_csv(path, index=False, encoding="utf-8")
    return path


def building_register(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The register of buildings under the template's headers, one footprint each.

    Parameters
    ----------
    buildings:
        ``external_id``, ``name``, ``address``, ``households``, ``residents``,
        ``floors``, ``compound``, footprints in EPSG:4326 (other columns are left out:
        the importer finds each building's point and community itself).

    Returns
    -------
    geopandas.GeoDataFrame
        编号, 名称, 地址, 户数, 人口, 层数, 小区, footprints in EPSG:4326.

    Raises
    ------
    InputError
        When ``buildings`` are not in EPSG:4326 (a register of longitudes, latitudes).
    """
    if buildings.crs is None or not buildings.crs.equals("EPSG:4326"):
        raise InputError(f"`buildings` are in {buildings.crs} but are expected in EPSG:4326")
    headers = {c.field: c.header for c in template_columns("buildings")}
    fields = ("id", "name", "address", "households", "residents", "floors", "compound")
    source = {"id": "external_id"}
    return gpd.GeoDataFrame(
        {headers[f]: buildings[source.get(f, f)].to_numpy() for f in fields},
        geometry=buildings.geometry.to_numpy(),
        crs=buildings.crs,
    )


def write_buildings(buildings: gpd.GeoDataFrame, folder: str | Path) -> Path:
    """Write :func:`building_register` as ``folder``/:data:`BUILDINGS_FILE` (GeoPackage).

    Returns
    -------
    pathlib.Path
        The file written (replaced if it exists; the folder is created when missing).
    """
    return _write_geopackage(building_register(buildings), Path(folder) / BUILDINGS_FILE, "楼栋")


def facility_register(facilities: gpd.GeoDataFrame) -> pd.DataFrame:
    """The register of service facilities under the template's headers, one row each.

    Parameters
    ----------
    facilities:
        ``external_id``, ``name``, ``kind`` (a code of
        :data:`~gridgis.registers.kinds.FACILITY_KIND_NAMES`), ``community_code``
        (``None`` for a street office's centre), points in EPSG:4326.

    Returns
    -------
    pandas.DataFrame
        编号, 名称, 类型 (its Chinese name), 经度, 纬度, 社区 (its code; blank for a
        centre, placed in the community it stands in).

    Raises
    ------
    InputError
        When ``facilities`` are not in EPSG:4326.
    """
    if facilities.crs is None or not facilities.crs.equals("EPSG:4326"):
        raise InputError(f"`facilities` are in {facilities.crs} but are expected in EPSG:4326")
    headers = {c.field: c.header for c in template_columns("facilities")}
    return pd.DataFrame(
        {
            headers["id"]: facilities["external_id"].astype(str).to_numpy(),
            headers["name"]: facilities["name"].to_numpy(),
            headers["kind"]: facilities["kind"].map(FACILITY_KIND_NAMES).to_numpy(),
            headers["x"]: facilities.geometry.x.to_numpy(),
            headers["y"]: facilities.geometry.y.to_numpy(),
            headers["community"]: facilities["community_code"].to_numpy(),
        }
    )


def write_facilities(facilities: gpd.GeoDataFrame, folder: str | Path) -> Path:
    """Write :func:`facility_register` as ``folder``/:data:`FACILITIES_FILE` (UTF-8 CSV).

    Returns
    -------
    pathlib.Path
        The file written (the folder is created when missing).
    """
    path = Path(folder) / FACILITIES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    facility_register(facilities).to_csv(path, index=False, encoding="utf-8")
    return path


DEPARTMENTS_FILE = "职能部门.csv"
"""The demo's register of departments (:func:`gridgis.registers.departments.import_departments`)."""

DISTRICT_DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("CG", "城市管理局", "市容环境、道路设施"),
    ("ZJ", "住房和城乡建设局", "物业管理"),
    ("SJ", "市场监督管理局", "工商食药"),
    ("GA", "公安分局", "治安隐患、治安案件"),
    ("HB", "生态环境分局", "环境保护"),
    ("YJ", "应急管理局", "消防安全、安全事故"),
)
"""A district's departments in the demo: code suffix, name, the categories each handles."""
STREET_DEPARTMENT = ("ZZ", "综治办", "矛盾纠纷、社情民意、便民代办、信访")
"""Each street's own office (街道综治办) and the categories it handles in its street."""


def department_register(district: str, streets: pd.DataFrame) -> pd.DataFrame:
    """The demo's departments as a district office's sheet: the district's departments
    (codes ``<district>-CG``…) and each street's 综治办 (``<street>-ZZ``), with the
    categories each handles by default."""
    rows = [
        (f"{district}-{suffix}", name, district, "", categories)
        for suffix, name, categories in DISTRICT_DEPARTMENTS
    ]
    suffix, name, categories = STREET_DEPARTMENT
    rows += [
        (f"{code}-{suffix}", f"{street_name}{name}", "", code, categories)
        for code, street_name in zip(streets["code"], streets["name"], strict=True)
    ]
    return pd.DataFrame(rows, columns=["编码", "名称", "区县", "街道", "事件类别"])


def write_departments(district: str, streets: pd.DataFrame, folder: str | Path) -> Path:
    """Write :func:`department_register` as ``folder``/:data:`DEPARTMENTS_FILE` (UTF-8 CSV)."""
    path = Path(folder) / DEPARTMENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    department_register(district, streets).to_csv(path, index=False, encoding="utf-8")
    return path


def _local_times(values: pd.Series) -> pd.Series:
    """``2025-03-01 08:30:00`` in China Standard Time, as an office's export writes them;
    blank for none (vectorised: ``.dt.strftime`` is much slower on a year of cases)."""
    local = values.dt.tz_convert(CHINA_TZ).dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    text = np.char.replace(np.datetime_as_string(local, unit="s"), "T", " ").astype(object)
    text[np.isnat(local)] = None
    return pd.Series(text, index=values.index, dtype=object)


def case_register(cases: pd.DataFrame) -> pd.DataFrame:
    """The cases as an export of a former system: one row each, with their history.

    Parameters
    ----------
    cases:
        As :func:`gridgis.demo.cases.build_cases` makes them: ``external_id``,
        ``category_code``, ``description``, ``address``, ``raw_x``/``raw_y`` (the
        coordinates as received), ``source``, ``reported_at``/``_by`` …
        ``rejected_at``/``_by`` (times tz-aware).

    Returns
    -------
    pandas.DataFrame
        编号, 类别 (its code), 上报时间, 描述, 地址, 经度, 纬度, 来源, 上报人, then the time
        and actor of each later step (立案时间, 立案人 … 作废时间, 作废人); times in China
        Standard Time, blank where a step was not reached.
    """
    out = pd.DataFrame(index=cases.index)
    for column, header in _CASE_HEADERS.items():
        values = cases[column]
        out[header] = _local_times(values) if column.endswith("_at") else values.to_numpy()
    return out


def write_cases(cases: pd.DataFrame, folder: str | Path) -> dict[Path, str]:
    """Write :func:`case_register` as one UTF-8 CSV per source (:data:`CASE_FILES`).

    Returns
    -------
    dict
        Each file written (the folder is created when missing) and the system of its
        coordinates (``crs`` of :func:`gridgis.intake.import_cases`); a source without
        cases gets no file.

    Raises
    ------
    InputError
        When a case has a source that is not one of :data:`CASE_FILES`.
    """
    unknown = sorted(set(cases["source"]) - set(CASE_FILES))
    if unknown:
        raise InputError(
            f"`cases` have source(s) {unknown} but are expected to come from {list(CASE_FILES)}"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    register = case_register(cases)
    written: dict[Path, str] = {}
    for source, (name, crs) in CASE_FILES.items():
        mine = (cases["source"] == source).to_numpy()
        if mine.any():
            path = folder / name
            register[mine].to_csv(path, index=False, encoding="utf-8")
            written[path] = crs
    return written


def inspection_register(inspections: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The patrols as an export of the grid workers' app: one GPS track each.

    Parameters
    ----------
    inspections:
        ``external_id``, ``worker`` (the worker's external id, as on the roster),
        ``started_at``, ``ended_at`` (tz-aware), tracks in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        编号, 网格员, 开始时间, 结束时间 (China Standard Time), tracks in EPSG:4326.

    Raises
    ------
    InputError
        When ``inspections`` are not in EPSG:4326.
    """
    if inspections.crs is None or not inspections.crs.equals("EPSG:4326"):
        raise InputError(f"`inspections` are in {inspections.crs} but are expected in EPSG:4326")
    return gpd.GeoDataFrame(
        {
            "编号": inspections["external_id"].astype(str).to_numpy(),
            "网格员": inspections["worker"].astype(str).to_numpy(),
            "开始时间": _local_times(inspections["started_at"]).to_numpy(),
            "结束时间": _local_times(inspections["ended_at"]).to_numpy(),
        },
        geometry=inspections.geometry.to_numpy(),
        crs=inspections.crs,
    )


def write_inspections(inspections: gpd.GeoDataFrame, folder: str | Path) -> Path:
    """Write :func:`inspection_register` as ``folder``/:data:`INSPECTIONS_FILE` (GeoPackage).

    Returns
    -------
    pathlib.Path
        The file written (replaced if it exists; the folder is created when missing).
    """
    return _write_geopackage(
        inspection_register(inspections), Path(folder) / INSPECTIONS_FILE, "巡查"
    )


def _write_geopackage(frame: gpd.GeoDataFrame, path: Path, layer: str) -> Path:
    """Write ``frame`` as the one layer of the GeoPackage ``path`` (replaced; its folder
    made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
    return path


def road_register(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The roads and barriers as a district's file of lines, each with its id.

    Parameters
    ----------
    roads:
        ``external_id``, ``name``, ``kind``, lines in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        编号, 名称, 类型 (:data:`ROAD_HEADERS`), lines in EPSG:4326.

    Raises
    ------
    InputError
        When ``roads`` are not in EPSG:4326.
    """
    if roads.crs is None or not roads.crs.equals("EPSG:4326"):
        raise InputError(f"`roads` are in {roads.crs} but are expected in EPSG:4326")
    return gpd.GeoDataFrame(
        {header: roads[column].to_numpy() for column, header in ROAD_HEADERS.items()},
        geometry=roads.geometry.to_numpy(),
        crs=roads.crs,
    )


def write_roads(roads: gpd.GeoDataFrame, folder: str | Path) -> Path:
    """Write :func:`road_register` as ``folder``/:data:`ROADS_FILE` (GeoPackage).

    Returns
    -------
    pathlib.Path
        The file written (replaced if it exists; the folder is created when missing).
    """
    path = Path(folder) / ROADS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    road_register(roads).to_file(path, driver="GPKG", layer="道路", engine="pyogrio")
    return path


def organisation_register(tree: PartyTree) -> pd.DataFrame:
    """The register of the whole organisation tree under the template's headers: 编号,
    名称, 类型, 上级组织, 经度, 纬度, 书记, 书记电话, 党员数, 网格, 覆盖楼栋, 社区; parents
    come before their children."""
    headers = {c.field: c.header for c in template_columns("branches")}
    orgs = tree.organisations
    return pd.DataFrame(
        {
            headers["id"]: orgs["external_id"].to_numpy(),
            headers["name"]: orgs["name"].to_numpy(),
            headers["kind"]: orgs["kind"].map(BRANCH_KIND_NAMES).to_numpy(),
            headers["parent"]: orgs["parent"].to_numpy(),
            headers["x"]: orgs["lon"].to_numpy(),
            headers["y"]: orgs["lat"].to_numpy(),
            headers["secretary"]: orgs["secretary"].to_numpy(),
            headers["secretary_phone"]: orgs["secretary_phone"].to_numpy(),
            headers["members"]: orgs["member_count"].to_numpy(),
            headers["cells"]: ["、".join(c) or None for c in orgs["cells"]],
            headers["buildings"]: ["、".join(b) or None for b in orgs["buildings"]],
            "社区": orgs["community_code"].to_numpy(),
        }
    )


def write_organisations(tree: PartyTree, folder: str | Path) -> Path:
    """Write :func:`organisation_register` as ``folder``/:data:`BRANCHES_FILE` (UTF-8 CSV).

    Returns
    -------
    pathlib.Path
        The file written (the folder is created when missing).
    """
    path = Path(folder) / BRANCHES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    organisation_register(tree).to_csv(path, index=False, encoding="utf-8")
    return path


def unit_register(units: pd.DataFrame) -> pd.DataFrame:
    """The register of the units (单元) of buildings under the template's headers.

    Parameters
    ----------
    units:
        ``external_id`` (of the building), ``number``, ``households``.

    Returns
    -------
    pandas.DataFrame
        楼栋编号, 单元, 户数.
    """
    headers = {c.field: c.header for c in template_columns("units")}
    return pd.DataFrame(
        {
            headers["building"]: units["external_id"].astype(str).to_numpy(),
            headers["unit"]: units["number"].to_numpy(),
            headers["households"]: units["households"].to_numpy(),
        }
    )


def write_units(units: pd.DataFrame, folder: str | Path) -> Path:
    """Write :func:`unit_register` as ``folder``/:data:`UNITS_FILE` (UTF-8 CSV).

    Returns
    -------
    pathlib.Path
        The file written (replaced if it exists; the folder is created when missing).
    """
    path = Path(folder) / UNITS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    unit_register(units).to_csv(path, index=False, encoding="utf-8")
    return path
