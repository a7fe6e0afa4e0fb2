/*
 * The leaders page (/party/leaders): 网格长, 楼栋长 and 单元长 coverage per community.
 *
 * Asks /api/party/leaders for one street office's communities and draws a table (cells
 * with a 网格长, share of buildings with a 楼栋长 and of units with a 单元长, the count
 * of each role) and the cells from the app's vector tiles (gridgis.cellMap, cellmap.js)
 * coloured by their community's share of buildings with a 楼栋长. Choosing a community
 * (its row, or a cell of it) asks for its drill-down: the buildings without a 楼栋长, and
 * its leaders when the user may see their names (the API gives null otherwise).
 *
 * Sets body[data-leaders-drawn="true"] once the cells are drawn, and
 * body[data-leaders-drill=CODE] when a community's drill-down is shown (for tests).
 * Text from the database is put in the page with textContent only.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var text = kit.text;
  var number = kit.number;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var summaryEl = document.getElementById("leaders-summary");
  var legendEl = document.getElementById("leaders-legend");
  var tableBody = document.querySelector("#leaders-table tbody");
  var drillEl = document.getElementById("leaders-drill");
  var drillTitle = document.getElementById("drill-title");
  var drillBuildings = document.getElementById("drill-buildings");
  var drillLeaders = document.getElementById("drill-leaders");
  var choiceForm = document.getElementById("party-choice");

  var CLASSES = [
    { min: 0.95, colour: "#238b45", label: t("95% 及以上") },
    { min: 0.8, colour: "#74c476", label: t("80%–95%") },
    { min: 0.5, colour: "#fdae6b", label: t("50%–80%") },
    { min: 0, colour: "#e34a33", label: t("不足 50%") },
  ];
  var NO_BUILDINGS = "#d9d9d9";
  var byCommunity = {};

  function percent(share) {
    return share === null || share === undefined ? "—" : number(100 * share, 1) + " %";
  }

  function shareColour(share) {
    if (share === null || share === undefined) {
      return NO_BUILDINGS;
    }
    for (var i = 0; i < CLASSES.length; i += 1) {
      if (share >= CLASSES[i].min) {
        return CLASSES[i].colour;
      }
    }
    return NO_BUILDINGS;
  }

  var map = kit.map(config.bounds);

  function communityName(code) {
    var row = byCommunity[code];
    return (row && row.community_name) || (config.names || {})[code] || code;
  }

  function cellPopup(p) {
    var row = byCommunity[p.community] || {};
    return kit.popup(t("网格 {code}", { code: p.code }), [
      [t("社区"), communityName(p.community) + "（" + p.community + "）"],
      [t("楼栋长覆盖率"), percent(row.building_share)],
      [t("单元长覆盖率"), percent(row.unit_share)],
    ]);
  }

  function drawLegend() {
    var entries = CLASSES.map(function (c) {
      return { colour: c.colour, label: c.label };
    });
    entries.push({ colour: NO_BUILDINGS, label: t("无楼栋") });
    kit.legend(legendEl, t("楼栋长覆盖率"), entries);
  }

  function drawSummary(totals) {
    kit.definitions(summaryEl, [
      [t("有网格长的网格"), number(totals.cells_with_grid_leader) + " / " + number(totals.cells)],
      [t("楼栋长覆盖率"), percent(totals.building_share) + "（" + number(totals.buildings_with_leader) + " / " + number(totals.buildings) + "）"],
      [t("单元长覆盖率"), percent(totals.unit_share) + "（" + number(totals.units_with_leader) + " / " + number(totals.units) + "）"],
      [t("网格长"), number(totals.grid_leaders)],
      [t("楼栋长"), number(totals.building_leaders)],
      [t("单元长"), number(totals.unit_leaders)],
    ]);
  }

  function drawTable(rows) {
    tableBody.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-community", row.community_code);
      tr.tabIndex = 0;
      tr.appendChild(text("th", null, communityName(row.community_code)));
      tr.firstChild.scope = "row";
      tr.appendChild(text("td", null, number(row.cells_with_grid_leader) + " / " + number(row.cells)));
      tr.appendChild(text("td", null, percent(row.building_share)));
      tr.appendChild(text("td", null, percent(row.unit_share)));
      tr.appendChild(text("td", null, number(row.grid_leaders)));
      tr.appendChild(text("td", null, number(row.building_leaders)));
      tr.appendChild(text("td", null, number(row.unit_leaders)));
      tr.addEventListener("click", function () {
        drill(row.community_code);
      });
      tr.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          drill(row.community_code);
        }
      });
      tableBody.appendChild(tr);
    });
  }

  function drill(code) {
    var url = config.leadersUrl + "?" + kit.query({ street: config.street, community: code });
    drillEl.hidden = false;
    drillTitle.textContent = t("{name}：明细", { name: communityName(code) });
    drillBuildings.textContent = "";
    drillLeaders.textContent = "";
    kit
      .getJson(url)
      .then(function (answer) {
        var unled = answer.without_leader || [];
        if (!unled.length) {
          drillBuildings.appendChild(text("li", "empty", t("每栋楼都有楼栋长。")));
        }
        unled.forEach(function (b) {
          var label = (b.external_id || String(b.id)) + " " + (b.name || b.address || "");
          drillBuildings.appendChild(text("li", null, label + " · " + t("{n} 户", { n: number(b.households) })));
        });
        if (answer.leaders === null) {
          drillLeaders.appendChild(text("li", "empty", t("无权查看该社区人员姓名，仅显示统计数字。")));
        } else if (!answer.leaders.length) {
          drillLeaders.appendChild(text("li", "empty", t("尚无网格长、楼栋长、单元长。")));
        } else {
          answer.leaders.forEach(function (p) {
            var served = [p.cells, p.buildings, p.units].filter(Boolean).join("；");
            drillLeaders.appendChild(
              text("li", null, p.name + "（" + p.roles + "）" + (p.phone ? " " + p.phone : "") + (served ? " · " + served : ""))
            );
          });
        }
        document.body.setAttribute("data-leaders-drill", code);
      })
      .catch(function (error) {
        drillBuildings.appendChild(text("li", "status-error", t("加载失败：{message}", { message: error.message })));
      });
  }

  function drawCells() {
    var drawn = false;
    window.gridgis.cellMap(map, {
      tilesUrl: config.tilesUrl,
      cardUrl: config.cardUrl,
      params: { street: config.street },
      markProperty: null,
      fill: function (p) {
        var row = byCommunity[p.community];
        return shareColour(row ? row.building_share : null);
      },
      names: config.names,
      popup: function (p) {
        drill(p.community);
        return cellPopup(p);
      },
      maxZoom: config.maxZoom,
      onDrawn: function () {
        if (!drawn) {
          drawn = true;
          document.body.setAttribute("data-leaders-drawn", "true");
        }
      },
    });
  }

  drawLegend();
  if (!config.street) {
    kit.setStatus(statusEl, t("尚无街道数据。"), false);
  } else {
    kit
      .getJson(config.leadersUrl + "?" + kit.query({ street: config.street }))
      .then(function (answer) {
        byCommunity = {};
        answer.communities.forEach(function (row) {
          byCommunity[row.community_code] = row;
        });
        drawSummary(answer.totals);
        drawTable(answer.communities);
        drawCells();
        kit.setStatus(statusEl, t("共 {n} 个社区", { n: answer.communities.length }), false);
      })
      .catch(function (error) {
        kit.setStatus(statusEl, t("加载失败：{message}", { message: error.message }), true);
      });
  }

  choiceForm.querySelectorAll("select").forEach(function (input) {
    input.addEventListener("change", function () {
      choiceForm.submit();
    });
  });
})();
