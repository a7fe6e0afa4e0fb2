/*
 * The 三零 communities page (/party/sanling).
 *
 * Asks /api/party/sanling for the period and street chosen; colours the communities
 * (from /api/areas/community.geojson) green when 三零 (no petition, safety accident or
 * public-security case counted) and orange to red by their total otherwise; lists them
 * ranked (三零 first, then by total), each linking to its counted cases in the case
 * list. Sets body[data-sanling-drawn="true"] and data-sanling-count (the communities
 * that are 三零) once drawn, for tests. Text from the database goes in with textContent.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var totalsEl = document.getElementById("sanling-totals");
  var body = document.querySelector("#sanling-table tbody");
  var legendEl = document.getElementById("sanling-legend");
  var map = kit.map(config.bounds);
  var params = { period: config.period };
  if (config.street) {
    params.area = config.street;
  }
  var COLOURS = { zero: "#41ab5d", some: "#fd8d3c", many: "#d7301f" };

  document.getElementById("sanling-export").href = config.exportUrl + "?" + kit.query(params);
  kit.legend(legendEl, t("状态"), [
    { colour: COLOURS.zero, label: t("三零") },
    { colour: COLOURS.some, label: t("1–2 起") },
    { colour: COLOURS.many, label: t("3 起及以上") },
  ]);

  function colour(row) {
    if (!row) {
      return "#d9d9d9";
    }
    return row.sanling ? COLOURS.zero : row.total < 3 ? COLOURS.some : COLOURS.many;
  }

  function rank(rows) {
    return rows.slice().sort(function (a, b) {
      return a.total - b.total || a.community_code.localeCompare(b.community_code);
    });
  }

  function table(rows) {
    body.textContent = "";
    var place = 0;
    var last = null;
    rows.forEach(function (row, i) {
      if (row.total !== last) {
        place = i + 1;
        last = row.total;
      }
      var tr = document.createElement("tr");
      tr.setAttribute("data-community", row.community_code);
      if (row.sanling) {
        tr.className = "sanling";
      }
      tr.appendChild(kit.text("td", "count", String(place)));
      tr.appendChild(kit.text("td", null, row.community));
      ["petition", "accident", "security"].forEach(function (key) {
        tr.appendChild(kit.text("td", "count", String(row[key])));
      });
      tr.appendChild(kit.text("td", null, row.sanling ? t("三零") : t("未达标")));
      var link = document.createElement("td");
      var a = kit.text("a", null, t("查看事件"));
      a.href = row.cases_url;
      link.appendChild(a);
      tr.appendChild(link);
      body.appendChild(tr);
    });
  }

  function draw(answer, geojson) {
    var byCode = {};
    answer.communities.forEach(function (row) {
      byCode[row.community_code] = row;
    });
    var layer = L.geoJSON(geojson, {
      style: function (feature) {
        var row = byCode[(feature.properties || {}).code];
        return { color: "#555", weight: 1, fillColor: colour(row), fillOpacity: 0.6 };
      },
      onEachFeature: function (feature, item) {
        var row = byCode[(feature.properties || {}).code];
        if (row) {
          item.bindPopup(kit.popup(row.community, [
            [t("上访"), String(row.petition)],
            [t("安全事故"), String(row.accident)],
            [t("治安案件"), String(row.security)],
            [t("状态"), row.sanling ? t("三零") : t("未达标")],
          ]));
        }
      },
    }).addTo(map);
    if (!config.bounds && layer.getBounds().isValid()) {
      map.fitBounds(layer.getBounds(), { padding: [16, 16], animate: false });
    }
    table(rank(answer.communities));
    totalsEl.textContent = t("{period}：{n} 个社区中 {zero} 个三零社区", {
      period: answer.period, n: answer.communities.length, zero: answer.sanling,
    });
    document.body.setAttribute("data-sanling-count", String(answer.sanling));
    document.body.setAttribute("data-sanling-drawn", "true");
    kit.setStatus(statusEl, "", false);
  }

  var within = config.street ? "?" + kit.query({ within: config.street }) : "";
  Promise.all([
    kit.getJson(config.sanlingUrl + "?" + kit.query(params)),
    kit.getJson(config.areasUrl + within, "application/geo+json"),
  ])
    .then(function (answers) {
      draw(answers[0], answers[1]);
    })
    .catch(function (error) {
      kit.setStatus(statusEl, error.message, true);
    });
})();
