/*
 * The cell map page (/map/cells): a Leaflet map, the cells from the app's
 * vector tiles (gridgis.cellMap, cellmap.js), a legend and the colour choice.
 *
 * Reads its settings from the JSON block #gridgis-config. Makes no request
 * outside the app unless a base-map tile URL is configured.
 */
(function () {
  "use strict";
  var gridgis = window.gridgis;

  var config = JSON.parse(document.getElementById("gridgis-config").textContent);
  var statusEl = document.getElementById("map-status");
  var legendEl = document.getElementById("cell-legend");

  function setStatus(message, isError) {
    statusEl.textContent = message;
    statusEl.classList.toggle("status-error", Boolean(isError));
  }

  function palette(colour) {
    var out = [];
    config.legends[colour].entries.forEach(function (entry) {
      out[entry.value] = entry.colour;
    });
    return out;
  }

  function swatch(fill) {
    var el = document.createElement("span");
    el.className = "legend-swatch";
    if (fill) {
      el.style.backgroundColor = fill; /* CSSOM, allowed by the page's CSP */
    } else {
      el.classList.add("legend-out-of-bounds");
    }
    return el;
  }

  function drawLegend(colour) {
    var legend = config.legends[colour];
    legendEl.textContent = "";
    var title = document.createElement("h2");
    title.textContent = legend.title;
    var list = document.createElement("ul");
    legend.entries.forEach(function (entry) {
      var item = document.createElement("li");
      item.appendChild(swatch(entry.colour));
      item.appendChild(document.createTextNode(entry.label));
      list.appendChild(item);
    });
    var flagged = document.createElement("li");
    flagged.appendChild(swatch(null));
    flagged.appendChild(document.createTextNode(gridgis.t("户数超出社区范围（红色虚线）")));
    list.appendChild(flagged);
    legendEl.appendChild(title);
    legendEl.appendChild(list);
  }

  var map = L.map("map", { zoomControl: true }).setView([35.0, 105.0], 4);
  L.control.scale({ imperial: false }).addTo(map);
  if (config.bounds) {
    map.fitBounds(config.bounds, { padding: [16, 16], animate: false });
  }

  var cells = window.gridgis.cellMap(map, {
    tilesUrl: config.tilesUrl,
    params: { colour: config.colour, street: config.street },
    palette: palette(config.colour),
    names: config.names,
    maxZoom: config.maxZoom,
    onDrawn: function (info) {
      if (!config.bounds) {
        setStatus(gridgis.t("尚无网格。"), false);
      } else {
        setStatus(
          gridgis.t("已显示 {n} 个网格，其中 {marked} 个户数超出范围。", {
            n: info.cells,
            marked: info.marked,
          }),
          false
        );
      }
    },
  });
  drawLegend(config.colour);

  document.querySelectorAll("input[name='colour']").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.checked) {
        setStatus(gridgis.t("正在加载网格…"), false);
        drawLegend(input.value);
        cells.setParams({ colour: input.value }, palette(input.value));
      }
    });
  });
})();
