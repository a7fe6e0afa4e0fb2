"""The base map under the app's maps: none, an XYZ tile server, 天地图, or GCJ-02 tiles.

Every map page works with none (the default: nothing is fetched from outside
the app). :func:`base_map` turns the app's settings into what the pages'
script ``static/js/basemap.js`` needs; that script adds the base map to every
Leaflet map the page makes, so a page has no base-map code of its own.

Settings (``app.config``, from the ``GRIDGIS_*`` variables of :mod:`gridgis.config`)
- ``TILE_URL``: an XYZ template (``https://{s}.tile.example.org/{z}/{x}/{y}.png``,
  or a path on this server, e.g. a tile proxy). ``TILE_ATTRIBUTION``,
  ``TILE_SUBDOMAINS``, ``TILE_MAX_ZOOM`` go with it.
- ``TILE_CRS``: ``"wgs84"`` (OpenStreetMap-style servers; CGCS2000 tiles too,
  which differ from WGS84 by centimetres) or ``"gcj02"`` (AMap/Gaode, Tencent).
  GCJ-02 tiles are drawn shifted by the GCJ-02 offset at the map's centre, so
  that they line up with the cells (stored in CGCS2000/WGS84); the offset
  changes by under a metre across a city, far below a pixel at city zooms.
- ``TIANDITU_KEY``: with no ``TILE_URL``, 天地图's vector map and its
  annotation layer (CGCS2000, no shift needed).

The page's Content-Security-Policy allows images from the tile hosts only
(:func:`image_sources`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gridgis.config import TIANDITU_KEY
from gridgis.errors import ConfigError

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
"""天地图's WMTS in Web Mercator (``_w``), as an XYZ template; ``layer`` vec or cva."""
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_ATTRIBUTION = "天地图 · 国家地理信息公共服务平台"
TIANDITU_MAX_ZOOM = 18


def base_map(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The base map the settings describe, for the pages, or ``None`` for none.

    Parameters
    ----------
    settings:
        The app's config (``TILE_URL``, ``TILE_CRS``, ``TILE_ATTRIBUTION``,
        ``TILE_SUBDOMAINS``, ``TILE_MAX_ZOOM``, ``TIANDITU_KEY``).

    Returns
    -------
    dict or None
        ``{"name", "crs": "wgs84"|"gcj02", "layers": [{"url", "subdomains",
        "attribution", "maxZoom"}]}``.

    Raises
    ------
    ConfigError
        A 天地图 key that is not 8–64 letters and digits, or an unknown ``TILE_CRS``.

    Examples
    --------
    >>> base_map({"TILE_URL": None, "TIANDITU_KEY": None}) is None
    True
    >>> base_map({"TILE_URL": "/osm/{z}/{x}/{y}.png"})["crs"]
    'wgs84'
    """
    url = settings.get("TILE_URL") or None
    key = settings.get("TIANDITU_KEY") or None
    crs = str(settings.get("TILE_CRS") or "wgs84").lower()
    if crs not in ("wgs84", "gcj02"):
        raise ConfigError(
            f"TILE_CRS was {crs!r} but is expected to be 'wgs84' or 'gcj02'",
            zh=f"TILE_CRS 为 {crs!r}，应为 'wgs84' 或 'gcj02'",
        )
    if url:
        return {
            "name": "custom",
            "crs": crs,
            "layers": [
                {
                    "url": str(url),
                    "subdomains": str(settings.get("TILE_SUBDOMAINS") or "abc"),
                    "attribution": str(settings.get("TILE_ATTRIBUTION") or ""),
                    "maxZoom": int(settings.get("TILE_MAX_ZOOM") or 18),
                }
            ],
        }
    if key:
        if not TIANDITU_KEY.fullmatch(str(key)):
            raise ConfigError(
                f"TIANDITU_KEY was {key!r} but a 天地图 key is 8-64 letters and digits",
                zh=f"TIANDITU_KEY 为 {key!r}，但天地图密钥应为 8 到 64 个字母和数字",
            )
        return {
            "name": "tianditu",
            "crs": "wgs84",
            "layers": [
                {
                    "url": TIANDITU_URL.replace("{layer}", layer).replace("{key}", str(key)),
                    "subdomains": TIANDITU_SUBDOMAINS,
                    "attribution": TIANDITU_ATTRIBUTION if layer == "vec" else "",
                    "maxZoom": TIANDITU_MAX_ZOOM,
                }
                for layer in ("vec", "cva")
            ],
        }
    return None


def _source(url: str) -> str | None:
    """The CSP source of one tile URL template (``None``: this server's own)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    labels = parts.netloc.split(".")
    if any("{" in label for label in labels[1:]):
        return f"{parts.scheme}:"  # a placeholder deep in the host name: allow the scheme
    if "{" in labels[0]:
        labels[0] = "*"  # {s}.tile.example.org, t{s}.tianditu.gov.cn
    return f"{parts.scheme}://{'.'.join(labels)}"


def image_sources(description: Mapping[str, Any] | None) -> list[str]:
    """The CSP ``img-src`` sources the base map's tiles need beyond ``'self'``.

    Examples
    --------
    >>> image_sources(base_map({"TILE_URL": "https://{s}.tile.example.org/{z}/{x}/{y}.png"}))
    ['https://*.tile.example.org']
    >>> image_sources(base_map({"TIANDITU_KEY": "0123456789abcdef"}))
    ['https://*.tianditu.gov.cn']
    """
    if not description:
        return []
    found = [_source(layer["url"]) for layer in description["layers"]]
    return sorted({s for s in found if s})
