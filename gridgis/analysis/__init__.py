"""Per-cell statistics, hotspots, coverage and facility placement (GeoDataFrames in and out)."""
