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

  var kit = gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var legendEl = document.getElementById("cell-legend");

  function setStatus(message, isError) {
    kit.setStatus(statusEl, message, isError);
  }

  function palette(colour) {
    var out = [];
    config.legends[colour].entries.forEach(function (entry) {
      out[entry.value] = entry.colour;
    });
    return out;
  }

  /* The legend of a colouring, and the red dashed outline of cells out of bounds. */
  function drawLegend(colour) {
    var legend = config.legends[colour];
    kit.legend(
      legendEl,
      legend.title,
      legend.entries.concat([{ colour: null, label: gridgis.t("户数超出社区范围（红色虚线）") }])
    );
  }

  var map = kit.map(config.bounds);

  var cells = window.gridgis.cellMap(map, {
    tilesUrl: config.tilesUrl,
    cardUrl: config.cardUrl,
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
