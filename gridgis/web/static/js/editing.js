/*
 * The cell editing pages (/edit/<community> and its draft previews): the community's
 * outline and cells on a Leaflet map, drawn from the GeoJSON the page embeds in
 * #gridgis-config. On a community page: the current cells, those outside the household
 * bounds marked (red dashed). On a draft preview: the new cells coloured by their part
 * in the diff (added, reshaped, unchanged) over the current ones (retired cells hatched
 * in grey), each layer switched on and off in the layer control.
 *
 * Sets body[data-editing-drawn="true"] once the map is drawn. Forms marked .js-busy show
 * a status and disable their button while the server computes. Text from the data is
 * only ever put in the page with textContent.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");

  var STATUS_COLOURS = {
    added: "#2f9e44",
    reshaped: "#f08c00",
    unchanged: "#4c8fbd",
    retired: "#868e96",
  };

  function setStatus(message, isError) {
    kit.setStatus(statusEl, message, isError);
  }

  function statusName(status) {
    if (status === "added") {
      return t("新增");
    }
    if (status === "retired") {
      return t("撤销");
    }
    if (status === "reshaped") {
      return t("调整边界");
    }
    if (status === "unchanged") {
      return t("不变");
    }
    return "";
  }

  /* A cell's popup, built as DOM (never HTML from data). */
  function popup(p, layerName) {
    var root = kit.text("div", "edit-popup");
    root.appendChild(kit.text("p", "edit-popup-title", layerName));
    var rows = [
      [t("网格编码"), p.code],
      [
        t("户数"),
        (p.households === null || p.households === undefined ? "—" : p.households) +
          (p.out_of_bounds ? " " + t("（超出户数范围）") : ""),
      ],
    ];
    if (p.households_estimated > 0) {
      // Households estimated from footprints (import buildings --estimate-households).
      var share = p.households ? Math.round((100 * p.households_estimated) / p.households) : 100;
      rows.push([
        t("估算户数"),
        t("估 {n} 户（{share}%）", { n: p.households_estimated, share: Math.min(share, 100) }),
      ]);
    }
    if (p.status) {
      rows.push([t("差异"), statusName(p.status)]);
    }
    if (p.flags && p.flags.length) {
      rows.push([t("标记"), p.flags.join(", ")]);
    }
    root.appendChild(kit.definitions(document.createElement("dl"), rows));
    return root;
  }

  function currentStyle(feature) {
    var p = feature.properties;
    var draft = config.mode === "draft";
    var retired = p.status === "retired";
    return {
      color: p.out_of_bounds && !draft ? "#b3261e" : draft ? "#495057" : "#1f5f8b",
      weight: p.out_of_bounds && !draft ? 2.5 : draft ? 1.5 : 1.5,
      // Dashed: outside the bounds or retired; dotted: households partly estimated.
      dashArray:
        (p.out_of_bounds && !draft) || retired
          ? "5 4"
          : p.households_estimated > 0 && !draft
            ? "2 4"
            : null,
      fillColor: draft ? (retired ? STATUS_COLOURS.retired : "#adb5bd") : "#4c8fbd",
      fillOpacity: draft ? (retired ? 0.35 : 0.1) : 0.3,
    };
  }

  function proposedStyle(feature) {
    var p = feature.properties;
    return {
      color: p.out_of_bounds ? "#b3261e" : "#1d2a33",
      weight: p.out_of_bounds ? 2.5 : 1.5,
      dashArray: p.out_of_bounds ? "5 4" : null,
      fillColor: STATUS_COLOURS[p.status] || "#4c8fbd",
      fillOpacity: 0.45,
    };
  }

  function cellLayer(collection, style, layerName) {
    return L.geoJSON(collection, {
      style: style,
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () {
          return popup(feature.properties, layerName);
        });
        layer.bindTooltip(String(feature.properties.code).slice(-3), {
          permanent: false,
          direction: "center",
          className: "edit-cell-label",
        });
      },
    });
  }

  function drawMap() {
    var map = kit.map(null);
    var overlays = {};
    var outline = L.geoJSON(config.outline, {
      style: { color: "#1d2a33", weight: 2, fill: false, dashArray: "2 4" },
      interactive: false,
    }).addTo(map);
    overlays[t("社区边界")] = outline;
    var shown = 0;
    if (config.current && config.current.features.length) {
      var currentName = config.mode === "draft" ? t("当前网格") : t("网格");
      var current = cellLayer(config.current, currentStyle, currentName).addTo(map);
      overlays[t("当前网格")] = current;
      if (config.mode !== "draft") {
        shown = config.current.features.length;
      }
    }
    if (config.proposed) {
      var proposed = cellLayer(config.proposed, proposedStyle, t("新网格")).addTo(map);
      overlays[t("新网格")] = proposed;
      shown = config.proposed.features.length;
    }
    if (Object.keys(overlays).length > 1) {
      L.control.layers(null, overlays, { collapsed: false }).addTo(map);
    }
    if (config.bounds) {
      map.fitBounds(config.bounds, { padding: [16, 16], animate: false });
    }
    setStatus(t("已显示 {n} 个网格", { n: shown }));
    document.body.setAttribute("data-editing-drawn", "true");
  }

  /* Computing a layout takes a few seconds: say so, and keep the button from a second click. */
  function watchForms() {
    var forms = document.querySelectorAll("form.js-busy");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.disabled = true;
        }
        setStatus(t("正在处理，请稍候…"));
      });
    });
  }

  try {
    drawMap();
  } catch (error) {
    setStatus(t("地图无法显示：{error}", { error: String(error && error.message) }), true);
    throw error;
  }
  watchForms();
})();
