"""Storage: PostGIS through GeoAlchemy2, the schema by Alembic, the local cluster."""

from gridgis.db.engine import get_engine, resolve_url, session_scope

__all__ = ["get_engine", "resolve_url", "session_scope"]
