/*
 * The case density map page (/map/density).
 *
 * Asks /api/density/cells.json (the figures as a table, only those shown) for the
 * filters of the panel and draws the cells from the app's vector tiles (gridgis.cellMap, cellmap.js),
 * coloured by joining on the cell code: by the rate per 1,000 households or the count
 * (quintiles of the cells shown), by the Getis-Ord Gi* hotspot class, or by the days
 * since the last inspection. A heat layer of the cases (/api/density/heat.json,
 * Leaflet.heat) can be shown or hidden. Filters apply without reloading the page.
 *
 * Sets body[data-density-drawn="true"] once the cells are first drawn with their figures,
 * body[data-density-colour] to the colour mode drawn, and body[data-density-heat] to the
 * number of heat points drawn (for tests). Text from the database is put in the page
 * with textContent only. Makes no request outside the app but the configured base map's
 * tiles (basemap.js).
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var number = kit.number;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var totalsEl = document.getElementById("density-totals");
  var legendEl = document.getElementById("density-legend");
  var hotspotCountEl = document.getElementById("density-hotspot-count");
  var filtersForm = document.getElementById("density-filters");
  var heatToggle = document.getElementById("density-heat");
  var valueSelect = document.getElementById("density-value");

  var names = config.names || {};
  /* The figures the page shows: asking for these alone keeps a whole city's answer small. */
  var FIELDS = [
    "households",
    "cases",
    "rate_per_1000",
    "hotspot",
    "gi_z",
    "gi_p",
    "gi_q",
    "significant",
    "never_inspected",
    "days_since_inspection",
    "recent_inspections",
  ].join(",");
  var NO_DATA = "#d9d9d9";
  var SEQUENTIAL = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];
  var HOTSPOT = {
    hot_99: { colour: "#b2182b", label: t("热点（99 % 置信）") },
    hot_95: { colour: "#ef8a62", label: t("热点（95 % 置信）") },
    hot_90: { colour: "#fddbc7", label: t("热点（90 %，弱信号）") },
    not_significant: { colour: "#f7f7f7", label: t("不显著") },
    cold_90: { colour: "#d1e5f0", label: t("冷点（90 %，弱信号）") },
    cold_95: { colour: "#67a9cf", label: t("冷点（95 % 置信）") },
    cold_99: { colour: "#2166ac", label: t("冷点（99 % 置信）") },
    island: { colour: "#bdbdbd", label: t("无相邻网格（未检验）") },
    no_data: { colour: NO_DATA, label: t("无数值（未检验）") },
  };
  var RECENCY = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
  var NEVER = "#67001f";
  var TITLES = {
    rate: t("每千户案件数"),
    count: t("案件数"),
    hotspot: t("热点（Gi*）"),
    recency: t("距上次巡查天数"),
  };

  function setStatus(message, isError) {
    kit.setStatus(statusEl, message, isError);
  }

  /* --- classes ------------------------------------------------------------------------------ */

  /* Up to five classes at the quintiles of the values shown (equal breaks merged). */
  function quantileClasses(values, digits) {
    var sorted = values
      .filter(function (v) {
        return v !== null && v !== undefined && isFinite(v);
      })
      .sort(function (a, b) {
        return a - b;
      });
    var breaks = [];
    if (sorted.length) {
      [0.2, 0.4, 0.6, 0.8].forEach(function (q) {
        var b = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
        b = Number(b.toFixed(digits));
        if (breaks.indexOf(b) < 0 && b < sorted[sorted.length - 1]) {
          breaks.push(b);
        }
      });
    }
    var colours = SEQUENTIAL.slice(SEQUENTIAL.length - breaks.length - 1);
    var entries = [];
    for (var i = 0; i <= breaks.length; i++) {
      var label;
      if (breaks.length === 0) {
        label = sorted.length ? number(sorted[0], digits) + "–" + number(sorted[sorted.length - 1], digits) : "—";
      } else if (i === 0) {
        label = "≤ " + number(breaks[0], digits);
      } else if (i === breaks.length) {
        label = "> " + number(breaks[i - 1], digits);
      } else {
        label = number(breaks[i - 1], digits) + "–" + number(breaks[i], digits);
      }
      entries.push({ colour: colours[i], label: label });
    }
    return {
      entries: entries,
      of: function (v) {
        if (v === null || v === undefined || !isFinite(v)) {
          return NO_DATA;
        }
        var k = 0;
        while (k < breaks.length && v > breaks[k]) {
          k += 1;
        }
        return colours[k];
      },
    };
  }

  function recencyClasses() {
    var breaks = config.recencyBreaks;
    var entries = [];
    for (var i = 0; i <= breaks.length; i++) {
      var label;
      if (i === 0) {
        label = t("{n} 天内", { n: breaks[0] });
      } else if (i === breaks.length) {
        label = t("超过 {n} 天", { n: breaks[i - 1] });
      } else {
        label = t("{a}–{b} 天", { a: breaks[i - 1] + 1, b: breaks[i] });
      }
      entries.push({ colour: RECENCY[i], label: label });
    }
    entries.push({ colour: NEVER, label: t("从未巡查") });
    return {
      entries: entries,
      of: function (days, never) {
        if (never || days === null || days === undefined) {
          return NEVER;
        }
        var k = 0;
        while (k < breaks.length && days > breaks[k]) {
          k += 1;
        }
        return RECENCY[k];
      },
    };
  }

  function hotspotClasses() {
    return {
      entries: config.hotspotClasses.map(function (name) {
        return HOTSPOT[name];
      }),
      of: function (name) {
        return (HOTSPOT[name] || HOTSPOT.no_data).colour;
      },
    };
  }

  /* The palette (cell code -> fill) and legend entries of a colour mode for these cells. */
  function classify(mode, cells) {
    var codes = Object.keys(cells);
    var scheme, fill;
    if (mode === "rate" || mode === "count") {
      var key = mode === "rate" ? "rate_per_1000" : "cases";
      scheme = quantileClasses(
        codes.map(function (c) {
          return cells[c][key];
        }),
        mode === "rate" ? 1 : 0
      );
      fill = function (p) {
        return scheme.of(p[key]);
      };
      if (mode === "rate") {
        scheme.entries.push({ colour: NO_DATA, label: t("无住户") });
      }
    } else if (mode === "hotspot") {
      scheme = hotspotClasses();
      fill = function (p) {
        return scheme.of(p.hotspot);
      };
    } else {
      scheme = recencyClasses();
      fill = function (p) {
        return scheme.of(p.days_since_inspection, p.never_inspected);
      };
    }
    var palette = {};
    codes.forEach(function (code) {
      palette[code] = fill(cells[code]);
    });
    return { palette: palette, entries: scheme.entries };
  }

  /* --- the map ------------------------------------------------------------------------------ */

  var map = kit.map(config.bounds);

  var cellsByCode = {};
  var cellLayer = null;
  var heatPoints = [];
  var HEAT_OPTIONS = { radius: 18, blur: 14, minOpacity: 0.25, maxZoom: 17 };
  var HEAT_SQUARE = (HEAT_OPTIONS.radius + HEAT_OPTIONS.blur) / 2;
  /* Leaflet.heat reads its map whenever it redraws: on setOptions, on setLatLngs and in
     the animation frame it schedules. Off the map, each of these threw ("reading
     '_animating'" of null). This layer redraws only while on a map and drops the frame it
     had scheduled when it is taken off; it is given its points and max while hidden too. */
  var SafeHeatLayer = L.HeatLayer.extend({
    redraw: function () {
      return this._map ? L.HeatLayer.prototype.redraw.call(this) : this;
    },
    onRemove: function (onMap) {
      if (this._frame) {
        L.Util.cancelAnimFrame(this._frame);
        this._frame = null;
      }
      L.HeatLayer.prototype.onRemove.call(this, onMap);
    },
  });
  var heatLayer = new SafeHeatLayer([], HEAT_OPTIONS);
  var heatShown = false;
  var state = {
    street: config.street || "",
    category: config.category || [],
    since: config.since || "",
    until: config.until || "",
    colour: config.colour,
    value: config.value,
  };

  function popup(p) {
    var cell = cellsByCode[p.code] || {};
    var hot = HOTSPOT[cell.hotspot] || HOTSPOT.no_data;
    var days = cell.never_inspected
      ? t("从未巡查")
      : t("{n} 天", { n: number(Math.floor(cell.days_since_inspection)) });
    return kit.popup(t("网格 {code}", { code: p.code }), [
      [t("社区"), (names[p.community] || "") + "（" + p.community + "）"],
      [t("街道"), (names[p.street] || "") + "（" + p.street + "）"],
      [t("户数"), number(cell.households)],
      [t("案件数"), number(cell.cases)],
      [t("每千户案件数"), number(cell.rate_per_1000, 1)],
      [t("热点分类"), hot.label],
      ["Gi* z", number(cell.gi_z, 2)],
      ["p", number(cell.gi_p, 4)],
      [t("校正后 q"), number(cell.gi_q, 4)],
      [t("距上次巡查"), days],
      [t("近期巡查次数"), number(cell.recent_inspections)],
    ]);
  }

  function drawLegend(mode, entries) {
    kit.legend(legendEl, TITLES[mode], entries);
  }

  function byCode(palette) {
    return function (p) {
      return palette[p.code];
    };
  }

  function recolour() {
    var classes = classify(state.colour, cellsByCode);
    drawLegend(state.colour, classes.entries);
    if (cellLayer === null) {
      /* Each cell is filled with the colour of its figures, looked up by its code. */
      cellLayer = window.gridgis.cellMap(map, {
        tilesUrl: config.tilesUrl,
        cardUrl: config.cardUrl,
        params: { street: state.street },
        markProperty: null,
        fill: byCode(classes.palette),
        popup: popup,
        maxZoom: config.maxZoom,
        onDrawn: function () {
          document.body.setAttribute("data-density-drawn", "true");
          document.body.setAttribute("data-density-colour", state.colour);
        },
      });
    } else {
      document.body.removeAttribute("data-density-colour");
      cellLayer.setParams({ street: state.street }, byCode(classes.palette));
    }
  }

  /* Leaflet.heat sums the weights in squares of (radius + blur) / 2 pixels, scaled by
     1 / 2^(maxZoom - zoom), and saturates at `max`: a fixed max paints a dense street all
     red at one zoom and faint at another. Fit it to the points in view at this zoom: the
     95th percentile of those sums, so the densest twentieth of the places is hottest. */

  function fitHeatMax() {
    if (!heatShown || !heatPoints.length) {
      return;
    }
    var zoom = map.getZoom();
    var view = map.getBounds().pad(0.25);
    var bins = {};
    heatPoints.forEach(function (p) {
      if (!view.contains([p[0], p[1]])) {
        return;
      }
      var q = map.project([p[0], p[1]], zoom);
      var key = Math.floor(q.x / HEAT_SQUARE) + ":" + Math.floor(q.y / HEAT_SQUARE);
      bins[key] = (bins[key] || 0) + (p.length > 2 ? p[2] : 1);
    });
    var sums = Object.keys(bins)
      .map(function (key) {
        return bins[key];
      })
      .sort(function (a, b) {
        return a - b;
      });
    var scale = 1 / Math.pow(2, Math.max(0, Math.min(HEAT_OPTIONS.maxZoom - zoom, 12)));
    var max = sums.length ? sums[Math.floor(0.95 * (sums.length - 1))] * scale : 1;
    heatLayer.setOptions({ max: Math.max(1e-6, max) });
  }

  map.on("moveend", fitHeatMax);

  function showHeat(show) {
    if (show && !heatShown) {
      heatLayer.addTo(map);
      heatShown = true;
      fitHeatMax();
    } else if (!show && heatShown) {
      map.removeLayer(heatLayer);
      heatShown = false;
    }
  }

  function filterParams() {
    return {
      street: state.street,
      category: state.category.join(","),
      since: state.since,
      until: state.until,
    };
  }

  function summarise(meta) {
    totalsEl.textContent = t("{cells} 个网格，{cases} 件案件", {
      cells: number(meta.cells),
      cases: number(meta.cases),
    });
    var hot = 0;
    var cold = 0;
    Object.keys(cellsByCode).forEach(function (code) {
      var p = cellsByCode[code];
      if (p.significant && p.gi_z > 0) {
        hot += 1;
      } else if (p.significant && p.gi_z < 0) {
        cold += 1;
      }
    });
    hotspotCountEl.textContent = t("显著热点 {hot} 个，显著冷点 {cold} 个（q ≤ 0.05）。", {
      hot: hot,
      cold: cold,
    });
  }

  function load() {
    setStatus(t("正在加载案件密度…"), false);
    var params = L.extend({ value: state.value, fields: FIELDS }, filterParams());
    var cellsUrl = config.cellsUrl + "?" + kit.query(params);
    var heatUrl = config.heatUrl + "?" + kit.query(filterParams());
    return Promise.all([kit.getJson(cellsUrl), kit.getJson(heatUrl)])
      .then(function (answers) {
        var cells = answers[0];
        var heat = answers[1];
        cellsByCode = {};
        cells.rows.forEach(function (row) {
          var figures = {};
          cells.columns.forEach(function (name, i) {
            figures[name] = row[i];
          });
          cellsByCode[figures.code] = figures;
        });
        summarise(cells.density);
        recolour();
        heatPoints = heat.points;
        heatLayer.setLatLngs(heatPoints);
        fitHeatMax();
        document.body.setAttribute("data-density-heat", String(heat.points.length));
        setStatus(
          t("已显示 {n} 个网格", { n: cells.rows.length }) +
            (heat.bin_degrees
              ? " " + t("（热力点已按约 {m} 米方格汇总）", { m: number(heat.bin_degrees * 111320) })
              : ""),
          false
        );
      })
      .catch(function (error) {
        setStatus(t("加载失败：{message}", { message: error.message }), true);
      });
  }

  function readForm() {
    var street = document.getElementById("density-street");
    var before = state.street;
    state.street = street.disabled ? state.street : street.value;
    state.category = Array.prototype.map.call(
      filtersForm.querySelectorAll("input[name='category']:checked"),
      function (input) {
        return input.value;
      }
    );
    state.since = document.getElementById("density-since").value;
    state.until = document.getElementById("density-until").value;
    state.value = valueSelect.value;
    var bounds = state.street ? config.streetBounds[state.street] : config.bounds;
    if (state.street !== before && bounds) {
      map.fitBounds(bounds, { padding: [16, 16], animate: false });
    }
  }

  /* Keep the address in step with the filters, so a reload or a shared link shows the same. */
  function remember() {
    var params = L.extend({ colour: state.colour, value: state.value }, filterParams());
    var lang = new URLSearchParams(window.location.search).get("lang");
    if (lang) {
      params.lang = lang;
    }
    window.history.replaceState(null, "", window.location.pathname + "?" + kit.query(params));
  }

  filtersForm.addEventListener("submit", function (event) {
    event.preventDefault();
    readForm();
    remember();
    load();
  });

  valueSelect.addEventListener("change", function () {
    readForm();
    remember();
    load();
  });

  document.querySelectorAll("input[name='colour']").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.checked) {
        state.colour = input.value;
        remember();
        recolour();
      }
    });
  });

  heatToggle.addEventListener("change", function () {
    showHeat(heatToggle.checked);
  });

  showHeat(heatToggle.checked);
  load();
})();
