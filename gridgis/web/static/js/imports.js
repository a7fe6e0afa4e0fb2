/*
 * The import pages (/import/): on the form, only the options of the chosen kind are shown;
 * on an import's page, the progress of a running stage is polled from the status route
 * (the page reloads when the stage ends), and the flagged (orange) and rejected (red) rows
 * that have a geometry are drawn on a Leaflet map from the GeoJSON the page embeds in
 * #gridgis-config.
 *
 * Sets body[data-import-drawn="true"] once the map is drawn. Text from the data is only
 * ever put in the page with textContent.
 */
(function () {
  "use strict";

  var gridgis = window.gridgis;
  var t = gridgis.t;
  var COLOURS = { flagged: "#e8590c", rejected: "#c92a2a" };

  /* The form: show the options of the chosen kind only. */
  function kindForm(form) {
    function chosen() {
      var checked = form.querySelector("input[name=kind]:checked");
      return checked ? checked.value : "";
    }
    function show() {
      var kind = chosen();
      var parts = form.querySelectorAll(".import-for");
      Array.prototype.forEach.call(parts, function (el) {
        var kinds = (el.getAttribute("data-kind") || "").split(" ");
        el.hidden = kinds.indexOf(kind) < 0;
      });
    }
    Array.prototype.forEach.call(form.querySelectorAll("input[name=kind]"), function (input) {
      input.addEventListener("change", show);
    });
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = t("正在上传…");
      }
    });
    show();
  }

  /* A running stage: poll its state, show its progress, reload when it ends. */
  function poll(config) {
    var messageEl = document.getElementById("import-message");
    var phasesEl = document.getElementById("import-phases");
    function check() {
      gridgis.kit
        .getJson(config.status_url)
        .then(function (status) {
          if (status.state !== "running" || status.stage !== config.stage) {
            window.location.reload();
            return;
          }
          if (messageEl) {
            messageEl.textContent = status.queued ? t("排队等待中…") : status.message || "";
          }
          if (phasesEl) {
            phasesEl.textContent = status.phases ? t("第 {n} 步", { n: status.phases }) : "";
          }
          window.setTimeout(check, 700);
        })
        .catch(function (error) {
          if (messageEl) {
            messageEl.textContent = t("无法获取进度：{error}", { error: String(error.message) });
          }
          window.setTimeout(check, 3000);
        });
    }
    window.setTimeout(check, 400);
  }

  function popup(p) {
    var rows = [[t("结果"), p.outcome === "rejected" ? t("拒绝") : t("需核查")]];
    if (p.id) {
      rows.push([t("编号"), p.id]);
    }
    if (p.reason) {
      rows.push([t("原因"), p.reason]);
    }
    return gridgis.kit.popup(t("第 {row} 行", { row: p.row }), rows);
  }

  /* The flagged and rejected rows with a geometry, on a map. */
  function drawMap(shapes) {
    var map = gridgis.kit.map(null);
    var layer = L.geoJSON(shapes, {
      style: function (feature) {
        var colour = COLOURS[feature.properties.outcome] || "#1f5f8b";
        return { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.35 };
      },
      pointToLayer: function (feature, latlng) {
        var colour = COLOURS[feature.properties.outcome] || "#1f5f8b";
        return L.circleMarker(latlng, { radius: 6, color: colour, fillOpacity: 0.6 });
      },
      onEachFeature: function (feature, item) {
        item.bindPopup(function () {
          return popup(feature.properties);
        });
      },
    }).addTo(map);
    /* A footprint is a speck at a district's scale: a ring marks where each one is. */
    layer.eachLayer(function (item) {
      if (item.getBounds) {
        var colour = COLOURS[item.feature.properties.outcome] || "#1f5f8b";
        L.circleMarker(item.getBounds().getCenter(), {
          radius: 9,
          color: colour,
          weight: 2,
          fill: false,
          interactive: false,
        }).addTo(map);
      }
    });
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18, animate: false });
    }
    gridgis.kit.setStatus(
      document.getElementById("map-status"),
      t("地图上显示 {n} 行", { n: shapes.features.length })
    );
    document.body.setAttribute("data-import-drawn", "true");
  }

  function busyForms() {
    Array.prototype.forEach.call(document.querySelectorAll("form.js-busy"), function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.disabled = true;
          button.textContent = t("正在导入…");
        }
      });
    });
  }

  var form = document.getElementById("import-form");
  if (form) {
    kindForm(form);
  }
  if (document.getElementById("gridgis-config")) {
    var config = gridgis.kit.config();
    if (config.state === "running") {
      poll(config);
    }
    if (config.shapes && config.shapes.features.length && document.getElementById("map")) {
      try {
        drawMap(config.shapes);
      } catch (error) {
        document.body.setAttribute("data-import-drawn", "error");
        throw error;
      }
    }
    busyForms();
  }
})();
