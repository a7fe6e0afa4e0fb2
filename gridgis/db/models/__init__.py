"""The data model of gridgis (SQLAlchemy 2 typed models, GeoAlchemy2 geometries).

Everything is stored in EPSG:4326 (WGS84; CGCS2000 is the same for this
work). The schema itself is created by the Alembic migrations in
``gridgis/db/migrations``; a test checks that these models and the migrated
database agree.

What the database can hold, it holds: official codes are checked by pattern
and nest by prefix in their parent's code; foreign keys tie every level to its
parent; geometries are checked valid; a case's lifecycle steps are checked to
be in order, its current step is computed from them, and a trigger refuses to
move a case backwards; a retired cell code can never be issued again.

``audit_log`` records who changed what (:mod:`gridgis.audit`), written in the
same transaction as the change itself. ``data_version`` numbers the state of the
tables gridgis keeps in memory, bumped by triggers (:mod:`gridgis.db.versions`).

One module a concern: :mod:`~gridgis.db.models.areas` (the hierarchy, layouts,
buildings, roads), :mod:`~gridgis.db.models.rosters` (workers, party
organisations, facilities), :mod:`~gridgis.db.models.cases` (cases and
inspections), :mod:`~gridgis.db.models.notices` (inboxes and webhook deliveries),
:mod:`~gridgis.db.models.party` (party members and their points),
:mod:`~gridgis.db.models.visits` (大走访: key households, campaigns, visits, the ledger),
:mod:`~gridgis.db.models.system` (users, audit trail, data
versions); every name is importable from here.
"""

from __future__ import annotations

from gridgis.db.models._base import NAMING_CONVENTION, SRID, Base
from gridgis.db.models.areas import (
    BUILDING_FLAGS,
    CELL_LINKS,
    HAND_EDITS,
    LAYOUT_METHODS,
    ROAD_KINDS,
    Building,
    BuildingUnit,
    CellCode,
    CellLineage,
    CellLinkMove,
    Community,
    District,
    GridCell,
    LayoutDraft,
    LayoutDraftStep,
    LayoutVersion,
    Road,
    Street,
)
from gridgis.db.models.cases import (
    CASE_EVENT_KINDS,
    CASE_EVENT_NAMES_ZH,
    CASE_STEP_NAMES_ZH,
    CASE_STEPS,
    DEPARTMENT_CODE_PATTERN,
    LOCATED_BY,
    LOCATION_FLAGS,
    PHOTO_KINDS,
    WEBHOOK_FORMATS,
    Case,
    CaseCategory,
    CaseEvent,
    CasePhoto,
    Department,
    DispatchRule,
    Inspection,
    InspectionCell,
)
from gridgis.db.models.notices import NOTICE_KINDS, NOTICE_NAMES_ZH, Notice, Outbox
from gridgis.db.models.party import (
    ACTIVITY_FORMAT,
    ACTIVITY_SOURCES,
    MEMBER_KIND_NAMES_ZH,
    MEMBER_KINDS,
    POINT_UNITS,
    SEXES,
    PartyActivity,
    PartyMember,
    PointRule,
)
from gridgis.db.models.rosters import (
    BRANCH_KINDS,
    FACILITY_KINDS,
    WORKER_ROLE_FORMAT,
    BranchCell,
    GridWorker,
    PartyBranch,
    ServiceFacility,
    WorkerBuilding,
    WorkerCell,
    WorkerCommunity,
    WorkerRole,
    WorkerUnit,
)
from gridgis.db.models.system import (
    JOB_STATES,
    USER_ROLES,
    AppUser,
    AuditLog,
    BackgroundJob,
    DataVersion,
    LoginFailure,
    Open311Client,
    UserSession,
)
from gridgis.db.models.visits import (
    HOUSEHOLD_CATEGORY_FORMAT,
    TARGET_KINDS,
    CampaignBuilding,
    HouseholdCategory,
    LedgerEntry,
    ResidentHousehold,
    Visit,
    VisitCampaign,
    VisitPhoto,
    VisitTarget,
)

__all__ = [
    "ACTIVITY_FORMAT",
    "ACTIVITY_SOURCES",
    "BRANCH_KINDS",
    "BUILDING_FLAGS",
    "CASE_EVENT_KINDS",
    "CASE_EVENT_NAMES_ZH",
    "CASE_STEPS",
    "CASE_STEP_NAMES_ZH",
    "CELL_LINKS",
    "DEPARTMENT_CODE_PATTERN",
    "FACILITY_KINDS",
    "HAND_EDITS",
    "HOUSEHOLD_CATEGORY_FORMAT",
    "JOB_STATES",
    "LAYOUT_METHODS",
    "LOCATED_BY",
    "LOCATION_FLAGS",
    "MEMBER_KINDS",
    "MEMBER_KIND_NAMES_ZH",
    "NAMING_CONVENTION",
    "NOTICE_KINDS",
    "NOTICE_NAMES_ZH",
    "PHOTO_KINDS",
    "POINT_UNITS",
    "ROAD_KINDS",
    "SEXES",
    "SRID",
    "TARGET_KINDS",
    "USER_ROLES",
    "WEBHOOK_FORMATS",
    "WORKER_ROLE_FORMAT",
    "AppUser",
    "AuditLog",
    "BackgroundJob",
    "Base",
    "BranchCell",
    "Building",
    "BuildingUnit",
    "CampaignBuilding",
    "Case",
    "CaseCategory",
    "CaseEvent",
    "CasePhoto",
    "CellCode",
    "CellLineage",
    "CellLinkMove",
    "Community",
    "DataVersion",
    "Department",
    "DispatchRule",
    "District",
    "GridCell",
    "GridWorker",
    "HouseholdCategory",
    "Inspection",
    "InspectionCell",
    "LayoutDraft",
    "LayoutDraftStep",
    "LayoutVersion",
    "LedgerEntry",
    "LoginFailure",
    "Notice",
    "Open311Client",
    "Outbox",
    "PartyActivity",
    "PartyBranch",
    "PartyMember",
    "PointRule",
    "ResidentHousehold",
    "Road",
    "ServiceFacility",
    "Street",
    "UserSession",
    "Visit",
    "VisitCampaign",
    "VisitPhoto",
    "VisitTarget",
    "WorkerBuilding",
    "WorkerCell",
    "WorkerCommunity",
    "WorkerRole",
    "WorkerUnit",
]
