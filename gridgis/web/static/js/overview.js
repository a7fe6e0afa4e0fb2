/*
 * gridgis overview map: districts (thick outlines, labelled 名称 + 代码) and
 * street offices (thin outlines) from the app's own GeoJSON API.
 *
 * Reads its settings from the JSON block #gridgis-config. Makes no request
 * outside the app unless a base-map tile URL is configured. Names are put in
 * the page as text (textContent), never as HTML. The panel links each
 * district to its page (/area/<code>).
 */
(function () {
  "use strict";

  var gridgis = window.gridgis;
  var kit = gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");

  var DISTRICT_STYLE = {
    className: "gridgis-district",
    color: "#1f5f8b",
    weight: 3,
    opacity: 0.95,
    fillColor: "#4a90c2",
    fillOpacity: 0.08,
  };
  var DISTRICT_HIGHLIGHT = { weight: 5, color: "#d9480f", fillOpacity: 0.15 };
  var STREET_STYLE = {
    className: "gridgis-street",
    color: "#5c7080",
    weight: 1,
    opacity: 0.8,
    dashArray: "4 3",
    fill: true,
    fillOpacity: 0,
  };

  /* A label element: name on one line, code on the next, both as plain text. */
  function label(name, code) {
    var el = document.createElement("div");
    el.appendChild(kit.text("span", "label-name", name));
    el.appendChild(kit.text("span", "label-code", code));
    return el;
  }

  /* Twice the planar area of a [lng, lat] ring: enough to compare the
     parts of one district. */
  function ringArea(ring) {
    var sum = 0;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      sum += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
    }
    return Math.abs(sum);
  }

  /* Where a district's label goes: the centroid of its largest part (Leaflet's
     own choice, the first part, can be a sliver at the edge). */
  function labelAnchor(geometry) {
    var polygons = [];
    if (geometry && geometry.type === "Polygon") {
      polygons = [geometry.coordinates];
    } else if (geometry && geometry.type === "MultiPolygon") {
      polygons = geometry.coordinates;
    }
    var largest = null;
    polygons.forEach(function (polygon) {
      if (!largest || ringArea(polygon[0]) > ringArea(largest[0])) {
        largest = polygon;
      }
    });
    if (!largest) {
      return null;
    }
    return L.PolyUtil.polygonCenter(L.GeoJSON.coordsToLatLngs(largest[0]), map.options.crs);
  }

  var map = kit.map(null);

  /* Street outlines above the district fills (so their tooltips answer the
     pointer), labels above both; the panes keep this order whichever answer
     arrives first. */
  map.createPane("districts").style.zIndex = 400;
  map.createPane("streets").style.zIndex = 410;

  var districtLayers = {};

  var districtLabels = L.layerGroup().addTo(map);
  var districts = L.geoJSON(null, {
    pane: "districts",
    style: function () {
      return DISTRICT_STYLE;
    },
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      districtLayers[p.code] = layer;
      var anchor = labelAnchor(feature.geometry);
      if (anchor) {
        L.tooltip({ permanent: true, direction: "center", className: "district-label" })
          .setLatLng(anchor)
          .setContent(label(p.name, p.code))
          .addTo(districtLabels);
      }
    },
  }).addTo(map);

  var streets = L.geoJSON(null, {
    pane: "streets",
    style: function () {
      return STREET_STYLE;
    },
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      layer.bindTooltip(label(p.name, p.code), { sticky: true, className: "street-label" });
    },
  }).addTo(map);

  /* data-code on each district's <path>, for styling and for tests. */
  function tagDistrictPaths() {
    Object.keys(districtLayers).forEach(function (code) {
      var el = districtLayers[code].getElement();
      if (el) {
        el.setAttribute("data-code", code);
      }
    });
  }

  var highlighted = null;

  function zoomToDistrict(code) {
    var layer = districtLayers[code];
    if (!layer) {
      return;
    }
    if (highlighted) {
      districts.resetStyle(highlighted);
    }
    layer.setStyle(DISTRICT_HIGHLIGHT);
    highlighted = layer;
    map.fitBounds(layer.getBounds(), { padding: [24, 24] });
    document.querySelectorAll(".district-link").forEach(function (button) {
      button.classList.toggle("active", button.getAttribute("data-code") === code);
    });
  }

  document.querySelectorAll(".district-link").forEach(function (button) {
    button.addEventListener("click", function () {
      zoomToDistrict(button.getAttribute("data-code"));
    });
  });

  var loaded = Promise.all([
    kit.getJson(config.districtsUrl, "application/geo+json").then(function (data) {
      districts.addData(data);
      tagDistrictPaths();
      var bounds = districts.getBounds();
      if (bounds.isValid()) {
        /* No animation: the map must be still when it says it is ready, or a
           zoom asked for at once would be undone by the animation's end. */
        map.fitBounds(bounds, { padding: [24, 24], animate: false });
      }
      return data.features.length;
    }),
    kit.getJson(config.streetsUrl, "application/geo+json").then(function (data) {
      streets.addData(data);
      return data.features.length;
    }),
  ]);

  loaded.then(
    function (counts) {
      if (counts[0] === 0) {
        kit.setStatus(statusEl, gridgis.t("尚无带边界的区县。"), false);
      } else {
        kit.setStatus(statusEl, gridgis.t("已显示 {d} 个区县、{s} 个街道。", { d: counts[0], s: counts[1] }), false);
      }
      document.body.setAttribute("data-map-ready", "true");
    },
    function (error) {
      kit.setStatus(statusEl, gridgis.t("地图数据加载失败：{error}", { error: error.message }), true);
      document.body.setAttribute("data-map-ready", "error");
    }
  );
})();
