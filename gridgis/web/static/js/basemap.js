/*
 * gridgis base map: adds the configured base map (JSON in <script id="gridgis-basemap">,
 * made by gridgis/web/basemap.py; null for none) under every Leaflet map the page
 * makes, so pages have no base-map code of their own. With none, nothing is fetched.
 *
 * Tiles drawn in GCJ-02 (AMap/Gaode, Tencent; "crs": "gcj02") are shifted into place:
 * the layer positions its tiles as if the map's centre were that centre's GCJ-02
 * coordinates, so the place at the centre of the view shows where its WGS84/CGCS2000
 * coordinates are (the cells are stored in those). The shift varies by under a metre
 * across a city's view, well under a pixel.
 *
 *   gridgis.wgs84ToGcj02(lon, lat) -> [lon, lat]   (as gridgis.crs.wgs84_to_gcj02)
 *   gridgis.baseMapLayers(map) -> the layers added to `map` ([] with none)
 *   gridgis.maps -> every Leaflet map the page made (for tests and benchmarks)
 */
(function () {
  "use strict";
  var gridgis = (window.gridgis = window.gridgis || {});

  var A = 6378245.0; /* Krasovsky 1940 semi-major axis */
  var EE = 0.00669342162296594323; /* its first eccentricity squared */
  var BOX = [72.004, 0.8293, 137.8347, 55.8271]; /* outside it GCJ-02 is WGS84 */

  function wgs84ToGcj02(lon, lat) {
    if (lon < BOX[0] || lon > BOX[2] || lat < BOX[1] || lat > BOX[3]) {
      return [lon, lat];
    }
    var PI = Math.PI;
    var x = lon - 105.0;
    var y = lat - 35.0;
    var sqrtAbsX = Math.sqrt(Math.abs(x));
    var wave = ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrtAbsX + wave;
    dlat += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
    dlat += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrtAbsX + wave;
    dlon += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
    dlon += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
    var radlat = (lat / 180.0) * PI;
    var magic = 1.0 - EE * Math.sin(radlat) * Math.sin(radlat);
    var sqrtMagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / (((A * (1.0 - EE)) / (magic * sqrtMagic)) * PI);
    dlon = (dlon * 180.0) / ((A / sqrtMagic) * Math.cos(radlat) * PI);
    return [lon + dlon, lat + dlat];
  }

  function toGcj(center) {
    var shifted = wgs84ToGcj02(center.lng, center.lat);
    return L.latLng(shifted[1], shifted[0]);
  }

  /* A tile layer of GCJ-02 tiles: Leaflet places tiles from the view's centre in two
     places (the level's transform and the range of tiles to load); both get the
     centre's GCJ-02 coordinates. */
  var GcjTileLayer = L.TileLayer.extend({
    _setZoomTransform: function (level, center, zoom) {
      return L.TileLayer.prototype._setZoomTransform.call(this, level, toGcj(center), zoom);
    },
    _getTiledPixelBounds: function (center) {
      return L.TileLayer.prototype._getTiledPixelBounds.call(this, toGcj(center));
    },
  });

  /* Attribution is HTML in Leaflet: the configured text goes in as text. */
  function escapeHtml(value) {
    var div = document.createElement("div");
    div.textContent = value || "";
    return div.innerHTML;
  }

  var el = document.getElementById("gridgis-basemap");
  var config = el ? JSON.parse(el.textContent) : null;

  function addBaseMap(map) {
    var added = [];
    if (!config) {
      map._gridgisBaseMap = added;
      return;
    }
    var Layer = config.crs === "gcj02" ? GcjTileLayer : L.TileLayer;
    config.layers.forEach(function (spec, i) {
      var layer = new Layer(spec.url, {
        subdomains: spec.subdomains,
        attribution: escapeHtml(spec.attribution),
        maxNativeZoom: spec.maxZoom,
        maxZoom: 20,
        className: "gridgis-basemap gridgis-basemap-" + i,
        crossOrigin: false,
      });
      map.addLayer(layer);
      added.push(layer);
    });
    map._gridgisBaseMap = added;
    document.body.setAttribute("data-basemap", config.name + ":" + config.crs);
  }

  gridgis.wgs84ToGcj02 = wgs84ToGcj02;
  gridgis.baseMapLayers = function (map) {
    return map._gridgisBaseMap || [];
  };
  gridgis.maps = [];
  L.Map.addInitHook(function () {
    gridgis.maps.push(this);
    addBaseMap(this);
  });
})();
