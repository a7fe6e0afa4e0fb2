"""Grid cells as vector tiles, and the cell map drawn from them.

Routes
------
``GET /tiles/cells/<z>/<x>/<y>.pbf?street=CODE&colour=households|worker|branch``
    A Mapbox Vector Tile (``application/vnd.mapbox-vector-tile``) of the
    active cells in tile ``z/x/y`` (see :mod:`gridgis.db.tiles` for the
    layer and its properties); ``204 No Content`` when no cell is in it.
    ``street`` keeps one street office's cells; ``colour`` (default
    ``households``) chooses what the ``colour`` property classifies. A
    tile outside the zoom's range, or a bad ``street`` or ``colour``, is a
    400. Both routes need a signed-in user; a street office gets its own
    street's cells only (another ``street`` is a 403). Answers carry
    ``Cache-Control: private, max-age=60`` and a weak ETag made from the
    versions of the tables a tile is made from (cells, communities, worker and
    branch assignments: :func:`gridgis.db.tiles.cells_stamp`) and the street, so
    a browser revalidates with ``If-None-Match`` and gets ``304`` until the
    cells change, however they are changed; they are gzip-compressed when the
    browser accepts it. The tiles made are kept in memory for the same stamp
    (:class:`TileCache`,
    ``TILE_CACHE_BYTES`` in the app's config, from ``GRIDGIS_TILE_CACHE_BYTES``,
    default 64 MiB a process).
``GET /map/cells?street=CODE&colour=...``
    The cell map (网格分布图): every active cell drawn from those tiles by
    Leaflet.VectorGrid on canvas, coloured by households (cells out of their
    community's household bounds outlined in red), by grid-worker or by
    party-branch coverage, with a legend; clicking a cell opens its popup.
    Only this app's files are loaded; a base map is drawn only when one is
    configured (:mod:`gridgis.web.basemap`).
"""

from __future__ import annotations

import gzip
import itertools
import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from gridgis.db import tiles as db_tiles
from gridgis.schemas.areas import TileQuery
from gridgis.web.auth import login_required, policy
from gridgis.web.cell_layer import cell_card_url, cell_tiles_url, cells_bounds
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.i18n import get_language, translate

bp = Blueprint("tiles", __name__)

MVT_MIMETYPE = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, max-age=60"
CACHE_KEY = "gridgis_tile_cache"
_ENTRY_BYTES = 200
"""What a cached tile costs beyond its bytes (key, tuple, dictionary slot): empty tiles count."""
_GZIP_LEVEL = 5
"""Compression of the tiles sent: about a third of the raw size, in about a millisecond."""

PALETTES: dict[str, list[str]] = {
    "households": ["#f7fbff", "#c6dbef", "#74c476", "#31a354", "#fd8d3c", "#d94801"],
    "worker": ["#e34a33", "#9ecae1"],
    "branch": ["#e34a33", "#bcbddc"],
}
"""Fill colour of each value of the ``colour`` property (index = value), per colour mode."""

_LEGEND_TITLES = {
    "households": "户数",
    "worker": "网格员（一格一员）",
    "branch": "党支部（一网格一支部）",
}


def _household_labels(language: str) -> list[str]:
    breaks = db_tiles.HOUSEHOLD_BREAKS
    labels = [translate("< {n} 户", language, n=breaks[0])]
    labels += [
        translate("{low}–{high} 户", language, low=low, high=high - 1)
        for low, high in itertools.pairwise(breaks)
    ]
    labels.append(translate("≥ {n} 户", language, n=breaks[-1]))
    return labels


def legends(language: str = "zh") -> dict[str, dict[str, Any]]:
    """The legend of each colour mode: a title and ``[value, colour, label]`` entries.

    Parameters
    ----------
    language:
        ``"zh"`` or ``"en"`` (:mod:`gridgis.web.i18n`).

    Examples
    --------
    >>> legends()["worker"]["entries"][0]
    {'value': 0, 'colour': '#e34a33', 'label': '无网格员'}
    >>> legends("en")["worker"]["title"]
    'Grid worker (one per cell)'
    """
    labels = {
        "households": _household_labels(language),
        "worker": [translate(t, language) for t in ("无网格员", "有网格员")],
        "branch": [translate(t, language) for t in ("无党支部", "有党支部")],
    }
    out: dict[str, dict[str, Any]] = {}
    for colour in db_tiles.COLOURS:
        values = db_tiles.colour_classes(colour)
        out[colour] = {
            "title": translate(_LEGEND_TITLES[colour], language),
            "entries": [
                {"value": v, "colour": PALETTES[colour][v], "label": labels[colour][v]}
                for v in values
            ],
        }
    return out


class TileCache:
    """The tiles made for the current cells stamp, least recently used out first.

    A tile of a whole city at zoom 11 takes PostGIS a few hundred
    milliseconds, and every visitor of the map asks for the same dozen: they
    are kept (raw and gzip-compressed) until ``max_bytes`` is reached or the
    cells change (a new stamp, :func:`gridgis.db.tiles.cells_stamp`, which
    every write to the tables of a tile gives, empties the cache). One per app
    and process; safe across threads.

    Examples
    --------
    >>> cache = TileCache(max_bytes=1_000)
    >>> cache.put("s1", ("k",), b"tile")
    (b'tile', b'...')
    >>> cache.get("s1", ("k",))[0], cache.get("s2", ("k",))
    (b'tile', None)
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._stamp: str | None = None
        self._tiles: OrderedDict[tuple[object, ...], tuple[bytes, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, stamp: str, key: tuple[object, ...]) -> tuple[bytes, bytes] | None:
        """The raw and the compressed tile for ``key`` made at ``stamp``, or ``None``."""
        with self._lock:
            if stamp != self._stamp:
                return None
            found = self._tiles.get(key)
            if found is not None:
                self._tiles.move_to_end(key)
            return found

    def put(self, stamp: str, key: tuple[object, ...], tile: bytes) -> tuple[bytes, bytes]:
        """Keep ``tile`` (compressing it); return it raw and compressed."""
        packed = (tile, gzip.compress(tile, compresslevel=_GZIP_LEVEL, mtime=0) if tile else b"")
        size = _ENTRY_BYTES + len(packed[0]) + len(packed[1])
        with self._lock:
            if stamp != self._stamp:
                self._stamp, self._tiles, self._bytes = stamp, OrderedDict(), 0
            if size <= self.max_bytes and key not in self._tiles:
                self._tiles[key] = packed
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, (raw, packed_old) = self._tiles.popitem(last=False)
                    self._bytes -= _ENTRY_BYTES + len(raw) + len(packed_old)
        return packed


_cache_lock = threading.Lock()


def _tile_cache() -> TileCache:
    cache: TileCache | None = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        with _cache_lock:
            cache = current_app.extensions.get(CACHE_KEY)
            if cache is None:
                size = int(current_app.config["TILE_CACHE_BYTES"])
                cache = TileCache(max_bytes=size)
                current_app.extensions[CACHE_KEY] = cache
    return cache


def _street_arg() -> str | None:
    """The page's street, within what the user may see (403 for another street)."""
    street = db_tiles.check_street(request.args.get("street") or None)
    return policy().street_filter(street)


def _colour_arg() -> str:
    return db_tiles.check_colour(request.args.get("colour") or "households")


@endpoint(
    bp,
    "/tiles/cells/<int:z>/<int:x>/<int:y>.pbf",
    operation_id="cellTile",
    tags=("maps",),
    query=TileQuery,
    replies=(
        Reply(
            200,
            description="The tile (gzip-compressed when accepted).",
            media_type=MVT_MIMETYPE,
            schema={"type": "string", "format": "binary"},
        ),
        Reply(204, description="No cell is in this tile.", media_type=""),
        Reply(304, description="Not modified since the ETag sent.", media_type=""),
    ),
    errors=(400, 404),
)
def cell_tile(z: int, x: int, y: int, *, query: TileQuery) -> Response:
    """A Mapbox Vector Tile of the active cells in tile z/x/y (XYZ numbering).

    Cached privately for 60 s with a weak ETag; 204 when no cell is in the tile.
    """
    db_tiles.check_tile(z, x, y)
    street = policy().street_filter(query.street)
    colour = db_tiles.check_colour(query.colour)
    engine = get_engine()
    # The street is in the ETag: a street office and an administrator in the same browser
    # ask for the same URL without `street` and must not share a revalidated tile.
    stamp = db_tiles.cells_stamp(engine)
    etag = f"{stamp}-{street or 'all'}"
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag, weak=True)
        return response
    cache = _tile_cache()
    key = (z, x, y, street, colour)
    found = cache.get(stamp, key)
    if found is None:
        tile = db_tiles.cell_tile(engine, z, x, y, street=street, colour=colour)
        found = cache.put(stamp, key, tile)
    raw, packed = found
    if not raw:
        response = Response(status=204, headers=headers)
    elif "gzip" in request.accept_encodings:
        response = Response(packed, mimetype=MVT_MIMETYPE, headers=headers)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(raw, mimetype=MVT_MIMETYPE, headers=headers)
    response.set_etag(etag, weak=True)
    return response


@bp.get("/map/cells")
@login_required
def cell_map() -> str:
    """Render the cell map: cells from vector tiles, coloured, with a legend."""
    street = _street_arg()
    colour = _colour_arg()
    engine = get_engine()
    page_config: dict[str, Any] = {
        "tilesUrl": cell_tiles_url(),
        "cardUrl": cell_card_url(),
        "street": street,
        "colour": colour,
        "legends": legends(get_language()),
        "names": db_tiles.area_names(engine, street=street),
        "bounds": cells_bounds(engine, street=street),
        "maxZoom": min(db_tiles.MAX_ZOOM, 19),
    }
    return render_template("cells_map.html", page_config=page_config, colours=db_tiles.COLOURS)
