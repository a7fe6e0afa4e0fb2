/*
 * gridgis area page (/area/<code>): the children of a district, street or
 * community coloured by a key figure, or a cell with its newest cases.
 *
 * Reads its settings from the JSON block #gridgis-config: areasUrl (GeoJSON of
 * the children, or of the cell itself), outlineUrl (the area's own outline,
 * none on a cell's page), figures (code -> key figures and page url of each
 * child), cases (a cell's newest cases with a point). Every text from the
 * database or from users is put in the page with textContent, never as HTML.
 * Sets body[data-area-drawn] to "true" (or "error") when the map is drawn.
 */
(function () {
  "use strict";

  var gridgis = window.gridgis;
  var kit = gridgis.kit;
  var element = kit.text;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var colourSelect = document.getElementById("colour-figure");
  var legendEl = document.getElementById("area-legend");

  /* Five classes, light to dark (ColorBrewer YlOrRd); grey for no value. */
  var PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var NO_VALUE = "#d0d4d8";
  /* Figures where more is better: their colours run the other way. */
  var HIGHER_IS_BETTER = { on_time_rate: true };

  var LABELS = {
    households: gridgis.t("户数"),
    cells_out_of_bounds: gridgis.t("户数超范围网格"),
    cells_without_worker: gridgis.t("无网格员网格"),
    cells_without_branch: gridgis.t("无党支部网格"),
    open_cases: gridgis.t("未结案件"),
    overdue_cases: gridgis.t("超期案件"),
    closed_late: gridgis.t("逾期结案"),
    on_time_rate: gridgis.t("按期结案率"),
  };

  function formatValue(figure, value) {
    if (value === null || value === undefined) {
      return "—";
    }
    if (figure === "on_time_rate") {
      return (value * 100).toFixed(1) + "%";
    }
    return String(value);
  }

  var map = kit.map(null);
  map.createPane("outline").style.zIndex = 390;
  map.createPane("children").style.zIndex = 400;
  map.createPane("cases").style.zIndex = 620;

  /* --- colouring the children by a figure ------------------------------------------- */

  var figure = colourSelect ? colourSelect.value : "households";
  var breaks = [];

  function valueOf(code) {
    var row = config.figures[code];
    return row ? row[figure] : null;
  }

  /* Four upper bounds splitting the values' range into five equal classes. */
  function computeBreaks() {
    var values = presentValues();
    breaks = [];
    if (values.length === 0) {
      return;
    }
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    for (var i = 1; i < PALETTE.length; i++) {
      breaks.push(low + ((high - low) * i) / PALETTE.length);
    }
  }

  function colourOf(value) {
    if (value === null || value === undefined) {
      return NO_VALUE;
    }
    var index = 0;
    while (index < breaks.length && value > breaks[index]) {
      index++;
    }
    if (breaks.length && breaks[0] === breaks[breaks.length - 1]) {
      index = 0; // every value the same: one class
    }
    return HIGHER_IS_BETTER[figure] ? PALETTE[PALETTE.length - 1 - index] : PALETTE[index];
  }

  function presentValues() {
    return Object.keys(config.figures)
      .map(valueOf)
      .filter(function (v) {
        return v !== null && v !== undefined;
      });
  }

  function roundFor(value) {
    return figure === "on_time_rate" ? value : Math.round(value);
  }

  function swatch(colour) {
    var el = element("span", "swatch");
    el.style.backgroundColor = colour; /* CSSOM, allowed by the CSP (no inline style) */
    return el;
  }

  function renderLegend() {
    if (!legendEl) {
      return;
    }
    legendEl.textContent = "";
    legendEl.appendChild(element("h3", null, LABELS[figure] || figure));
    var list = element("ul");
    var values = presentValues();
    if (values.length) {
      var low = Math.min.apply(null, values);
      var high = Math.max.apply(null, values);
      var bounds = [low].concat(breaks, [high]);
      var classes = low === high ? 1 : PALETTE.length;
      for (var i = 0; i < classes; i++) {
        var item = element("li");
        item.appendChild(swatch(colourOf(i === 0 ? low : bounds[i + 1])));
        item.appendChild(
          document.createTextNode(
            formatValue(figure, roundFor(bounds[i])) +
              " – " +
              formatValue(figure, roundFor(classes === 1 ? high : bounds[i + 1]))
          )
        );
        list.appendChild(item);
      }
    }
    var none = element("li");
    none.appendChild(swatch(NO_VALUE));
    none.appendChild(document.createTextNode(gridgis.t("无数据")));
    list.appendChild(none);
    legendEl.appendChild(list);
  }

  function childStyle(feature) {
    var isCell = config.level === "cell";
    return {
      className: "gridgis-area",
      color: "#1f3f5b",
      weight: isCell ? 3 : 1.5,
      opacity: 0.9,
      fillColor: isCell ? "#4a90c2" : colourOf(valueOf(feature.properties.code)),
      fillOpacity: isCell ? 0.12 : 0.7,
    };
  }

  function tooltip(p) {
    var el = element("div", "area-tooltip");
    el.appendChild(element("strong", null, p.name || p.code));
    el.appendChild(element("span", "label-code", p.code));
    if (config.figures[p.code]) {
      el.appendChild(
        element("span", "tooltip-figure", (LABELS[figure] || figure) + ": " + formatValue(figure, valueOf(p.code)))
      );
    }
    return el;
  }

  var areaLayers = {};

  var outline = L.geoJSON(null, {
    pane: "outline",
    interactive: false,
    style: function () {
      return { className: "gridgis-outline", color: "#d9480f", weight: 3, fill: false, dashArray: "6 4" };
    },
  }).addTo(map);

  var areas = L.geoJSON(null, {
    pane: "children",
    style: childStyle,
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      areaLayers[p.code] = layer;
      var row = config.figures[p.code];
      if (config.level !== "cell") {
        layer.bindTooltip(function () {
          return tooltip(p);
        }, { sticky: true, className: "area-label" });
      }
      if (row && row.url) {
        layer.on("click", function () {
          window.location.assign(row.url);
        });
      }
    },
  }).addTo(map);

  function tagPaths() {
    Object.keys(areaLayers).forEach(function (code) {
      var el = areaLayers[code].getElement();
      if (el) {
        el.setAttribute("data-code", code);
        if (config.figures[code] && config.figures[code].url) {
          el.classList.add("area-link");
        }
      }
    });
  }

  function recolour() {
    computeBreaks();
    areas.setStyle(childStyle);
    tagPaths();
    renderLegend();
    document.body.setAttribute("data-area-colour", figure);
  }

  if (colourSelect) {
    colourSelect.addEventListener("change", function () {
      figure = colourSelect.value;
      recolour();
    });
  }

  /* --- a cell's cases ---------------------------------------------------------------- */

  function casePopup(c) {
    var el = element("div", "case-popup");
    el.appendChild(element("strong", null, gridgis.t("案件 {id}", { id: c.id })));
    el.appendChild(element("div", null, c.category_name));
    el.appendChild(element("div", null, (c.reported_at || "").slice(0, 16).replace("T", " ")));
    if (c.overdue) {
      el.appendChild(element("div", "overdue-flag", gridgis.t("超期")));
    }
    if (c.closed_late) {
      el.appendChild(element("div", "closed-late-flag", gridgis.t("逾期结案")));
    }
    el.appendChild(element("p", "case-description", c.description || ""));
    return el;
  }

  var caseLayer = L.layerGroup().addTo(map);
  /* Oldest first, so that the newest cases are drawn on top. */
  (config.cases || []).slice().reverse().forEach(function (c) {
    var marker = L.circleMarker([c.lat, c.lon], {
      pane: "cases",
      className: "gridgis-case" + (c.overdue ? " case-overdue" : ""),
      radius: 6,
      color: c.overdue ? "#bd0026" : "#1f5f8b",
      weight: 2,
      fillOpacity: 0.8,
    })
      .bindPopup(function () {
        return casePopup(c);
      })
      .addTo(caseLayer);
    var el = marker.getElement();
    if (el) {
      el.setAttribute("data-case", String(c.id));
    }
  });

  /* --- loading ------------------------------------------------------------------------ */

  var requests = [
    kit.getJson(config.areasUrl, "application/geo+json").then(function (data) {
      areas.addData(data);
      return data.features.length;
    }),
  ];
  if (config.outlineUrl) {
    requests.push(
      kit.getJson(config.outlineUrl, "application/geo+json").then(function (data) {
        outline.addData(data);
        return data.features.length;
      })
    );
  }

  Promise.all(requests).then(
    function (counts) {
      recolour();
      var bounds = areas.getBounds();
      if (!bounds.isValid()) {
        bounds = outline.getBounds();
      }
      if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [24, 24], animate: false });
      }
      if (config.level === "cell") {
        kit.setStatus(statusEl, counts[0] ? gridgis.t("已显示网格及 {n} 件案件的位置。", { n: (config.cases || []).length }) : gridgis.t("该网格尚无边界。"), false);
      } else if (counts[0] === 0) {
        kit.setStatus(statusEl, gridgis.t("下级区域尚无边界。"), false);
      } else {
        kit.setStatus(statusEl, gridgis.t("已显示 {n} 个下级区域。", { n: counts[0] }), false);
      }
      document.body.setAttribute("data-area-drawn", "true");
    },
    function (error) {
      kit.setStatus(statusEl, gridgis.t("地图数据加载失败：{error}", { error: error.message }), true);
      document.body.setAttribute("data-area-drawn", "error");
    }
  );
})();
