/*
 * gridgis page of a retired cell (/area/<code> of a code no layout holds now): its
 * last outline (dashed) and the cells now in force that took its households.
 *
 * Reads #gridgis-config: outline (GeoJSON geometry of the retired cell), areasUrl
 * (GeoJSON of the community's cells in force), successors (code -> {name, share,
 * url}). Texts from the database go in with textContent only. Sets
 * body[data-area-drawn] to "true" (or "error") when the map is drawn.
 */
(function () {
  "use strict";

  var gridgis = window.gridgis;
  var kit = gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var map = kit.map(null);
  map.createPane("old").style.zIndex = 450;

  var old = L.geoJSON(config.outline, {
    pane: "old",
    interactive: false,
    style: { color: "#333", weight: 3, dashArray: "8 6", fill: false },
  }).addTo(map);

  function fit(layers) {
    var bounds = L.latLngBounds([]);
    layers.forEach(function (layer) {
      var b = layer.getBounds();
      if (b.isValid()) {
        bounds.extend(b);
      }
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], animate: false });
    }
  }

  kit.getJson(config.areasUrl).then(
    function (collection) {
      var successors = config.successors || {};
      var shown = 0;
      var cells = L.geoJSON(collection, {
        style: function (feature) {
          var next = successors[feature.properties.code];
          return next
            ? { color: "#b2182b", weight: 2, fillColor: "#ef8a62", fillOpacity: 0.45 }
            : { color: "#888", weight: 1, fillOpacity: 0.05 };
        },
        onEachFeature: function (feature, layer) {
          var code = feature.properties.code;
          var next = successors[code];
          if (next) {
            shown += 1;
            layer.bindTooltip(
              (feature.properties.name || code) + " · " + gridgis.t("承接 {share} 户数", { share: (next.share * 100).toFixed(0) + "%" })
            );
            layer.on("click", function () {
              window.location.href = next.url;
            });
          }
        },
      }).addTo(map);
      cells.eachLayer(function (layer) {
        var code = layer.feature.properties.code;
        var element = layer.getElement && layer.getElement();
        if (element && successors[code]) {
          element.setAttribute("class", (element.getAttribute("class") || "") + " gridgis-successor");
          element.setAttribute("data-code", code);
        }
      });
      fit([old, cells]);
      kit.setStatus(statusEl, gridgis.t("已显示原网格边界及 {n} 个承接网格。", { n: shown }), false);
      document.body.setAttribute("data-area-drawn", "true");
    },
    function (error) {
      fit([old]);
      kit.setStatus(statusEl, gridgis.t("地图数据加载失败：{error}", { error: error.message }), true);
      document.body.setAttribute("data-area-drawn", "error");
    }
  );
})();
