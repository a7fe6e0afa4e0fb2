/*
 * gridgis cell map module: grid cells drawn from the app's vector tiles
 * (/tiles/cells/{z}/{x}/{y}.pbf) by Leaflet.VectorGrid on canvas, filled by
 * the value of one property through a palette, cells flagged by another
 * property outlined in red and dashed, and a popup on click.
 *
 *   var cells = gridgis.cellMap(map, {
 *     tilesUrl: "/tiles/cells/{z}/{x}/{y}.pbf",
 *     params: { colour: "households", street: null },
 *     palette: ["#f7fbff", "#c6dbef", ...],   // fill colour of property value 0, 1, ...
 *     fill: function (p) { return "#abcdef"; }, // or: a cell's fill from its properties
 *     markProperty: "out_of_bounds",          // cells outlined in red (null: none)
 *     names: { "350304001": "镇海街道", ... },  // area names by code, for the popup
 *     onDrawn: function (info) { ... },       // every time the tiles in view are drawn
 *   });
 *   cells.setParams({ colour: "worker" }, paletteOfWorker);
 *
 * When the tiles in view are first drawn, the page gets
 * body[data-cells-drawn="true"] and a performance mark "gridgis-cells-drawn"
 * (for tests and benchmarks). Popup text is put in the page with
 * textContent only: a name holding markup shows as text.
 *
 * Needs Leaflet 1.9 and Leaflet.VectorGrid 1.3 (both vendored), i18n.js and pagekit.js.
 */
(function () {
  "use strict";

  /* Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed. Leaflet
     1.9 already ignores events whose target is a renderer's canvas (the canvas carries
     _leaflet_disable_events), so nothing more is needed: stopping the DOM event would
     stop the map from being dragged by a press on a cell. */
  if (typeof L.DomEvent.fakeStop !== "function") {
    L.DomEvent.fakeStop = function () {
      return this;
    };
  }

  var FALLBACK_FILL = "#cccccc";
  var kit = window.gridgis.kit;
  var t = window.gridgis.t;

  function yesNo(value) {
    return value ? t("有") : t("无");
  }

  /* The default popup of a cell: its code, community, street, households, worker, branch;
     `names` gives the community's and street's names by code. */
  function cellPopup(p, names) {
    names = names || {};
    return kit.popup(t("网格 {code}", { code: p.code }), [
      [t("社区"), (names[p.community] || "") + "（" + p.community + "）"],
      [t("街道"), (names[p.street] || "") + "（" + p.street + "）"],
      [t("户数"), p.households + (p.out_of_bounds ? t("（超出户数范围）") : "")],
      [t("网格员"), yesNo(p.has_worker)],
      [t("党支部"), yesNo(p.has_branch)],
    ]);
  }

  /* The cell's card (/api/cells/<code>): its name, grid workers, party organisations and
     cases, added to an open popup; nothing is added if it cannot be read. */
  function addCard(content, url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (card) {
        if (!card) {
          return;
        }
        var workers = card.workers.map(function (w) {
          return w.name + (w.phone ? " " + w.phone : "");
        });
        var branches = card.branches.map(function (b) {
          return b.name;
        });
        var rows = [
          [t("名称"), card.name || "—"],
          [t("网格员"), workers.join("、") || t("无")],
          [t("党组织"), branches.join("、") || t("无")],
          [
            t("案件"),
            t("{open} 件未结，其中 {overdue} 件超期", {
              open: card.open_cases,
              overdue: card.overdue_cases,
            }),
          ],
        ];
        var more = kit.popup(t("网格 {code}", { code: card.code }), rows);
        var list = more.querySelector("dl");
        var link = document.createElement("a");
        link.href = card.cases_url;
        link.className = "cell-popup-link";
        link.textContent = t("查看该网格的案件");
        content.appendChild(list);
        content.appendChild(link);
      })
      .catch(function () {});
  }

  function tileUrl(template, params) {
    var query = kit.query(params);
    return query ? template + "?" + query : template;
  }

  function cellMap(map, options) {
    var property = options.property || "colour";
    var markProperty = options.markProperty === undefined ? "out_of_bounds" : options.markProperty;
    var fill = options.fill || null;
    var popup = options.popup || cellPopup;
    var params = L.extend({}, options.params || {});
    var palette = options.palette || [];
    var seen = new Set();
    var markedCount = 0;
    var firstDrawn = false;
    var styles = [{}, {}, {}];

    function makeStyle(colour, marked, band) {
      return {
        fill: true,
        fillColor: colour || FALLBACK_FILL,
        fillOpacity: 0.75,
        color: marked ? "#b3261e" : "#4d5b66",
        weight: marked ? [1.5, 2, 2.5][band] : [0.3, 0.6, 1][band],
        opacity: marked ? 1 : 0.7,
        dashArray: marked ? "4 3" : null,
      };
    }

    /* VectorGrid calls this for every feature of every tile (30,000 times for a city in
       view): it must not allocate, hence one cached style per (zoom band, value, mark). */
    function style(p, zoom) {
      var marked = markProperty && p[markProperty] ? 1 : 0;
      if (!seen.has(p.code)) {
        seen.add(p.code);
        markedCount += marked;
      }
      var band = zoom >= 14 ? 2 : zoom >= 12 ? 1 : 0;
      var colour = fill ? fill(p) : palette[p[property]];
      var key = colour + (marked ? "|m" : "");
      var cached = styles[band][key];
      if (!cached) {
        cached = makeStyle(colour, marked, band);
        styles[band][key] = cached;
      }
      return cached;
    }

    var layer = L.vectorGrid.protobuf(tileUrl(options.tilesUrl, params), {
      rendererFactory: L.canvas.tile,
      interactive: true,
      maxZoom: options.maxZoom || 19,
      vectorTileLayerStyles: { cells: style },
      fetchOptions: { credentials: "same-origin" },
    });

    layer.on("click", function (e) {
      var p = e.layer && e.layer.properties;
      if (p) {
        var content = popup(p, options.names);
        L.popup({ maxWidth: 320 }).setLatLng(e.latlng).setContent(content).openOn(map);
        if (options.cardUrl) {
          addCard(content, options.cardUrl.replace("{code}", p.code));
        }
      }
    });

    layer.on("load", function () {
      if (!firstDrawn) {
        firstDrawn = true;
        if (window.performance && performance.mark) {
          performance.mark("gridgis-cells-drawn");
        }
        document.body.setAttribute("data-cells-drawn", "true");
      }
      document.body.setAttribute("data-cells-colour", params.colour || "");
      if (options.onDrawn) {
        options.onDrawn({ cells: seen.size, marked: markedCount, params: params });
      }
    });

    layer.addTo(map);

    return {
      layer: layer,
      /* Ask the tiles again with other query parameters (and a palette to match). */
      setParams: function (changes, newPalette) {
        params = L.extend({}, params, changes);
        if (typeof newPalette === "function") {
          fill = newPalette;
        } else if (newPalette) {
          palette = newPalette;
        }
        styles = [{}, {}, {}];
        seen = new Set();
        markedCount = 0;
        document.body.removeAttribute("data-cells-colour");
        layer.setUrl(tileUrl(options.tilesUrl, params));
      },
      params: function () {
        return L.extend({}, params);
      },
    };
  }

  window.gridgis.cellMap = cellMap;
  window.gridgis.cellPopup = cellPopup;
})();
