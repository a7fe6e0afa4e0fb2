"""Initial schema: the grid hierarchy, buildings, people and places, cases, inspections.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Besides the tables, this creates the PostGIS extension, the triggers that keep
a case moving forward only and that refuse to reissue a retired cell code, and
the default case categories.
"""

from __future__ import annotations

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_TRIGGERS = """
CREATE FUNCTION gridgis_case_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    step text;
    old_at timestamptz;
    new_at timestamptz;
BEGIN
    FOREACH step IN ARRAY ARRAY['reported', 'registered', 'dispatched', 'handled',
                                'verified', 'closed', 'rejected'] LOOP
        EXECUTE format('SELECT ($1).%I_at, ($2).%I_at', step, step)
            INTO old_at, new_at USING OLD, NEW;
        IF old_at IS NOT NULL AND new_at IS DISTINCT FROM old_at THEN
            RAISE EXCEPTION 'case % already passed step "%" at %; a case only moves forward',
                OLD.id, step, old_at
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    IF OLD.closed_at IS NOT NULL OR OLD.rejected_at IS NOT NULL THEN
        IF NEW.registered_at IS DISTINCT FROM OLD.registered_at
           OR NEW.dispatched_at IS DISTINCT FROM OLD.dispatched_at
           OR NEW.handled_at IS DISTINCT FROM OLD.handled_at
           OR NEW.verified_at IS DISTINCT FROM OLD.verified_at
           OR NEW.rejected_at IS DISTINCT FROM OLD.rejected_at
           OR NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
            RAISE EXCEPTION 'case % is finished (%); its steps cannot change', OLD.id, OLD.step
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER case_record_forward_only BEFORE UPDATE ON case_record
    FOR EACH ROW EXECUTE FUNCTION gridgis_case_forward_only();

CREATE FUNCTION gridgis_issue_cell_code() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    retired timestamptz;
BEGIN
    SELECT retired_at INTO retired FROM cell_code WHERE code = NEW.code FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO cell_code (code, community_code) VALUES (NEW.code, NEW.community_code);
    ELSIF retired IS NOT NULL THEN
        RAISE EXCEPTION 'cell code % was retired at % and is never issued again', NEW.code, retired
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER grid_cell_issue_code BEFORE INSERT ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION gridgis_issue_cell_code();
"""

_DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS grid_cell_issue_code ON grid_cell;
DROP FUNCTION IF EXISTS gridgis_issue_cell_code();
DROP TRIGGER IF EXISTS case_record_forward_only ON case_record;
DROP FUNCTION IF EXISTS gridgis_case_forward_only();
"""

_CATEGORIES = (
    ("fire_safety", "消防安全", "Fire safety", 72),
    ("commerce_food_drug", "工商食药", "Commerce, food and drugs", 120),
    ("environment", "环境保护", "Environmental protection", 120),
    ("cityscape", "市容环境", "Cityscape and sanitation", 48),
    ("dispute", "矛盾纠纷", "Disputes", 168),
    ("public_opinion", "社情民意", "Public opinion", 168),
    ("public_security", "治安隐患", "Public security hazards", 48),
    ("errand", "便民代办", "Errands for residents", 72),
    ("road_facility", "道路设施", "Roads and facilities", 120),
    ("property_management", "物业管理", "Property management", 120),
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "case_category",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("deadline_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint("deadline_hours > 0", name=op.f("ck_case_category_deadline_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_case_category")),
        sa.UniqueConstraint("name_zh", name=op.f("uq_case_category_name_zh")),
    )
    op.create_table(
        "district",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{6}$'", name=op.f("ck_district_code_format")),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_district_geom_valid")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_district")),
    )
    op.create_index("ix_district_geom", "district", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "street",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{9}$'", name=op.f("ck_street_code_format")),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_street_geom_valid")),
        sa.CheckConstraint(
            "left(code, 6) = district_code", name=op.f("ck_street_code_in_district")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["district.code"], name=op.f("fk_street_district_code_district")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_street")),
    )
    op.create_index(op.f("ix_street_district_code"), "street", ["district_code"], unique=False)
    op.create_index("ix_street_geom", "street", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "community",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="urban", nullable=False),
        sa.Column("min_households", sa.Integer(), nullable=True),
        sa.Column("max_households", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f("ck_community_code_format")),
        sa.CheckConstraint("kind IN ('urban', 'rural')", name=op.f("ck_community_kind")),
        sa.CheckConstraint(
            "geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_community_geom_valid")
        ),
        sa.CheckConstraint("left(code, 9) = street_code", name=op.f("ck_community_code_in_street")),
        sa.CheckConstraint(
            "min_households IS NULL OR max_households IS NULL OR (min_households >= 0 AND min_households <= max_households)",
            name=op.f("ck_community_household_bounds"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_community_street_code_street")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_community")),
    )
    op.create_index(
        "ix_community_geom", "community", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index(op.f("ix_community_street_code"), "community", ["street_code"], unique=False)
    op.create_table(
        "grid_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("employment", sa.Text(), server_default="full_time", nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.CheckConstraint(
            "employment IN ('full_time', 'part_time')", name=op.f("ck_grid_worker_employment")
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_grid_worker_street_code_street")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker")),
        sa.UniqueConstraint("external_id", name=op.f("uq_grid_worker_external_id")),
    )
    op.create_index(
        op.f("ix_grid_worker_street_code"), "grid_worker", ["street_code"], unique=False
    )
    op.create_table(
        "building",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("compound", sa.Text(), nullable=True),
        sa.Column(
            "footprint",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("residents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "footprint IS NULL OR ST_Intersects(footprint, location)",
            name=op.f("ck_building_location_on_footprint"),
        ),
        sa.CheckConstraint(
            "footprint IS NULL OR ST_IsValid(footprint)", name=op.f("ck_building_footprint_valid")
        ),
        sa.CheckConstraint(
            "households >= 0 AND residents >= 0 AND (floors IS NULL OR floors >= 1)",
            name=op.f("ck_building_counts"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_building_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint("external_id", name=op.f("uq_building_external_id")),
    )
    op.create_index(
        op.f("ix_building_community_code"), "building", ["community_code"], unique=False
    )
    op.create_index(
        "ix_building_footprint", "building", ["footprint"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "ix_building_location", "building", ["location"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "cell_code",
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_cell_code_code_format")),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_cell_code_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_cell_code")),
    )
    op.create_index(
        op.f("ix_cell_code_community_code"), "cell_code", ["community_code"], unique=False
    )
    op.create_table(
        "inspection",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'LINESTRING', 'MULTILINESTRING')",
            name=op.f("ck_inspection_geom_kind"),
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_inspection_time_order")
        ),
        sa.CheckConstraint(
            "geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_inspection_geom_valid")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_inspection_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection")),
        sa.UniqueConstraint("external_id", name=op.f("uq_inspection_external_id")),
    )
    op.create_index(
        "ix_inspection_geom", "inspection", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_inspection_started_at", "inspection", ["started_at"], unique=False)
    op.create_index(op.f("ix_inspection_worker_id"), "inspection", ["worker_id"], unique=False)
    op.create_table(
        "layout_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_by", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "method IN ('draw', 'adjust', 'import', 'edit')", name=op.f("ck_layout_version_method")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_layout_version_version_positive")),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_layout_version_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layout_version")),
    )
    op.create_index(
        "uq_layout_version_community_version",
        "layout_version",
        ["community_code", "version"],
        unique=True,
    )
    op.create_table(
        "party_branch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("member_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "location IS NULL OR ST_IsValid(location)", name=op.f("ck_party_branch_location_valid")
        ),
        sa.CheckConstraint(
            "member_count >= 0", name=op.f("ck_party_branch_member_count_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_branch_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_branch")),
        sa.UniqueConstraint("external_id", name=op.f("uq_party_branch_external_id")),
    )
    op.create_index(
        op.f("ix_party_branch_community_code"), "party_branch", ["community_code"], unique=False
    )
    op.create_index(
        "ix_party_branch_location",
        "party_branch",
        ["location"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "service_facility",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('centre', 'station')", name=op.f("ck_service_facility_kind")),
        sa.CheckConstraint(
            "location IS NULL OR ST_IsValid(location)",
            name=op.f("ck_service_facility_location_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_service_facility_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_service_facility_street_code_street")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_facility")),
        sa.UniqueConstraint("external_id", name=op.f("uq_service_facility_external_id")),
    )
    op.create_index(
        op.f("ix_service_facility_community_code"),
        "service_facility",
        ["community_code"],
        unique=False,
    )
    op.create_index(
        "ix_service_facility_location",
        "service_facility",
        ["location"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        op.f("ix_service_facility_street_code"), "service_facility", ["street_code"], unique=False
    )
    op.create_table(
        "building_unit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("households >= 0", name=op.f("ck_building_unit_households_nonnegative")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_building_unit_number_positive")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_building_unit_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building_unit")),
    )
    op.create_index(
        "uq_building_unit_building_id_number",
        "building_unit",
        ["building_id", "number"],
        unique=True,
    )
    op.create_table(
        "grid_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("residents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version_from_id", sa.Integer(), nullable=False),
        sa.Column("version_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("flags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint(
            "(status = 'active') = (valid_to IS NULL)",
            name=op.f("ck_grid_cell_status_matches_validity"),
        ),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_grid_cell_code_format")),
        sa.CheckConstraint("status IN ('active', 'retired')", name=op.f("ck_grid_cell_status")),
        sa.CheckConstraint(
            "geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_grid_cell_geom_valid")
        ),
        sa.CheckConstraint(
            "households >= 0 AND residents >= 0", name=op.f("ck_grid_cell_counts_nonnegative")
        ),
        sa.CheckConstraint(
            "left(code, 12) = community_code", name=op.f("ck_grid_cell_code_in_community")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_grid_cell_validity_order")
        ),
        sa.ForeignKeyConstraint(
            ["code"], ["cell_code.code"], name=op.f("fk_grid_cell_code_cell_code")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_grid_cell_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["version_from_id"],
            ["layout_version.id"],
            name=op.f("fk_grid_cell_version_from_id_layout_version"),
        ),
        sa.ForeignKeyConstraint(
            ["version_to_id"],
            ["layout_version.id"],
            name=op.f("fk_grid_cell_version_to_id_layout_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cell")),
    )
    op.create_index(op.f("ix_grid_cell_code"), "grid_cell", ["code"], unique=False)
    op.create_index(
        op.f("ix_grid_cell_community_code"), "grid_cell", ["community_code"], unique=False
    )
    op.create_index(
        "ix_grid_cell_geom", "grid_cell", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "uq_grid_cell_active_code",
        "grid_cell",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "branch_cell",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["party_branch.id"],
            name=op.f("fk_branch_cell_branch_id_party_branch"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_branch_cell_cell_id_grid_cell")
        ),
        sa.PrimaryKeyConstraint("branch_id", "cell_id", name=op.f("pk_branch_cell")),
    )
    op.create_index(op.f("ix_branch_cell_cell_id"), "branch_cell", ["cell_id"], unique=False)
    op.create_table(
        "case_record",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("category_code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("raw_x", sa.Float(), nullable=True),
        sa.Column("raw_y", sa.Float(), nullable=True),
        sa.Column("raw_crs", sa.Text(), nullable=True),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "step",
            sa.Text(),
            sa.Computed(
                "CASE WHEN rejected_at IS NOT NULL THEN 'rejected' WHEN closed_at IS NOT NULL THEN 'closed' WHEN verified_at IS NOT NULL THEN 'verified' WHEN handled_at IS NOT NULL THEN 'handled' WHEN dispatched_at IS NOT NULL THEN 'dispatched' WHEN registered_at IS NOT NULL THEN 'registered' ELSE 'reported' END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.Text(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_by", sa.Text(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_by", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "closed_at IS NULL OR (verified_at IS NOT NULL AND closed_at >= verified_at)",
            name=op.f("ck_case_record_closed_after_verified"),
        ),
        sa.CheckConstraint(
            "deadline IS NULL OR deadline >= reported_at",
            name=op.f("ck_case_record_deadline_after_report"),
        ),
        sa.CheckConstraint(
            "dispatched_at IS NULL OR (registered_at IS NOT NULL AND dispatched_at >= registered_at)",
            name=op.f("ck_case_record_dispatched_after_registered"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_case_record_geom_valid")
        ),
        sa.CheckConstraint(
            "handled_at IS NULL OR (dispatched_at IS NOT NULL AND handled_at >= dispatched_at)",
            name=op.f("ck_case_record_handled_after_dispatched"),
        ),
        sa.CheckConstraint(
            "registered_at IS NULL OR (reported_at IS NOT NULL AND registered_at >= reported_at)",
            name=op.f("ck_case_record_registered_after_reported"),
        ),
        sa.CheckConstraint(
            "rejected_at IS NULL OR (closed_at IS NULL AND rejected_at >= reported_at)",
            name=op.f("ck_case_record_rejected_not_closed"),
        ),
        sa.CheckConstraint(
            "verified_at IS NULL OR (handled_at IS NOT NULL AND verified_at >= handled_at)",
            name=op.f("ck_case_record_verified_after_handled"),
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["case_category.code"],
            name=op.f("fk_case_record_category_code_case_category"),
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_case_record_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_case_record_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_case_record_street_code_street")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_record")),
        sa.UniqueConstraint("external_id", name=op.f("uq_case_record_external_id")),
    )
    op.create_index(
        op.f("ix_case_record_category_code"), "case_record", ["category_code"], unique=False
    )
    op.create_index(op.f("ix_case_record_cell_id"), "case_record", ["cell_id"], unique=False)
    op.create_index(
        op.f("ix_case_record_community_code"), "case_record", ["community_code"], unique=False
    )
    op.create_index(
        "ix_case_record_geom", "case_record", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_case_record_reported_at", "case_record", ["reported_at"], unique=False)
    op.create_index("ix_case_record_step", "case_record", ["step"], unique=False)
    op.create_index(
        op.f("ix_case_record_street_code"), "case_record", ["street_code"], unique=False
    )
    op.create_table(
        "inspection_cell",
        sa.Column("inspection_id", sa.BigInteger(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_inspection_cell_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspection.id"],
            name=op.f("fk_inspection_cell_inspection_id_inspection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inspection_id", "cell_id", name=op.f("pk_inspection_cell")),
    )
    op.create_index(
        op.f("ix_inspection_cell_cell_id"), "inspection_cell", ["cell_id"], unique=False
    )
    op.create_table(
        "worker_cell",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_worker_cell_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_worker_cell_worker_id_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", "cell_id", name=op.f("pk_worker_cell")),
    )
    op.create_index(op.f("ix_worker_cell_cell_id"), "worker_cell", ["cell_id"], unique=False)
    op.execute(_TRIGGERS)
    category = sa.table(
        "case_category",
        sa.column("code", sa.Text),
        sa.column("name_zh", sa.Text),
        sa.column("name_en", sa.Text),
        sa.column("deadline_hours", sa.Integer),
    )
    op.bulk_insert(
        category,
        [
            dict(zip(("code", "name_zh", "name_en", "deadline_hours"), row, strict=True))
            for row in _CATEGORIES
        ],
    )


def downgrade() -> None:
    op.execute(_DROP_TRIGGERS)
    op.drop_index(op.f("ix_worker_cell_cell_id"), table_name="worker_cell")
    op.drop_table("worker_cell")
    op.drop_index(op.f("ix_inspection_cell_cell_id"), table_name="inspection_cell")
    op.drop_table("inspection_cell")
    op.drop_index(op.f("ix_case_record_street_code"), table_name="case_record")
    op.drop_index("ix_case_record_step", table_name="case_record")
    op.drop_index("ix_case_record_reported_at", table_name="case_record")
    op.drop_index("ix_case_record_geom", table_name="case_record", postgresql_using="gist")
    op.drop_index(op.f("ix_case_record_community_code"), table_name="case_record")
    op.drop_index(op.f("ix_case_record_cell_id"), table_name="case_record")
    op.drop_index(op.f("ix_case_record_category_code"), table_name="case_record")
    op.drop_table("case_record")
    op.drop_index(op.f("ix_branch_cell_cell_id"), table_name="branch_cell")
    op.drop_table("branch_cell")
    op.drop_index(
        "uq_grid_cell_active_code",
        table_name="grid_cell",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_index("ix_grid_cell_geom", table_name="grid_cell", postgresql_using="gist")
    op.drop_index(op.f("ix_grid_cell_community_code"), table_name="grid_cell")
    op.drop_index(op.f("ix_grid_cell_code"), table_name="grid_cell")
    op.drop_table("grid_cell")
    op.drop_index("uq_building_unit_building_id_number", table_name="building_unit")
    op.drop_table("building_unit")
    op.drop_index(op.f("ix_service_facility_street_code"), table_name="service_facility")
    op.drop_index(
        "ix_service_facility_location", table_name="service_facility", postgresql_using="gist"
    )
    op.drop_index(op.f("ix_service_facility_community_code"), table_name="service_facility")
    op.drop_table("service_facility")
    op.drop_index("ix_party_branch_location", table_name="party_branch", postgresql_using="gist")
    op.drop_index(op.f("ix_party_branch_community_code"), table_name="party_branch")
    op.drop_table("party_branch")
    op.drop_index("uq_layout_version_community_version", table_name="layout_version")
    op.drop_table("layout_version")
    op.drop_index(op.f("ix_inspection_worker_id"), table_name="inspection")
    op.drop_index("ix_inspection_started_at", table_name="inspection")
    op.drop_index("ix_inspection_geom", table_name="inspection", postgresql_using="gist")
    op.drop_table("inspection")
    op.drop_index(op.f("ix_cell_code_community_code"), table_name="cell_code")
    op.drop_table("cell_code")
    op.drop_index("ix_building_location", table_name="building", postgresql_using="gist")
    op.drop_index("ix_building_footprint", table_name="building", postgresql_using="gist")
    op.drop_index(op.f("ix_building_community_code"), table_name="building")
    op.drop_table("building")
    op.drop_index(op.f("ix_grid_worker_street_code"), table_name="grid_worker")
    op.drop_table("grid_worker")
    op.drop_index(op.f("ix_community_street_code"), table_name="community")
    op.drop_index("ix_community_geom", table_name="community", postgresql_using="gist")
    op.drop_table("community")
    op.drop_index("ix_street_geom", table_name="street", postgresql_using="gist")
    op.drop_index(op.f("ix_street_district_code"), table_name="street")
    op.drop_table("street")
    op.drop_index("ix_district_geom", table_name="district", postgresql_using="gist")
    op.drop_table("district")
    op.drop_table("case_category")
