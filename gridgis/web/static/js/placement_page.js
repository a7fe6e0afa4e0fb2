/*
 * The party-branch placement map page (/map/placement).
 *
 * Asks /api/placement/coverage.geojson for one street office's walking coverage (the
 * cells' figures without their polygons), draws the cells from the app's vector tiles
 * (gridgis.cellMap, cellmap.js) coloured covered / not covered by joining on the cell
 * code, the facilities and their walking areas as GeoJSON, a summary and a legend; the
 * "k new sites" form asks /api/placement/suggest and shows the sites, what each adds,
 * the solver and how close to optimal its answer is.
 *
 * Sets body[data-placement-drawn="true"] once the cells are drawn with their coverage,
 * and body[data-placement-suggested=N] after each suggestion (for tests). Text from the
 * database is put in the page with textContent only. Makes no request outside the app
 * but the configured base map's tiles
 * (basemap.js).
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var text = kit.text;
  var number = kit.number;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var summaryEl = document.getElementById("placement-summary");
  var methodEl = document.getElementById("placement-method");
  var legendEl = document.getElementById("placement-legend");
  var suggestForm = document.getElementById("suggest-form");
  var suggestStatus = document.getElementById("suggest-status");
  var solutionEl = document.getElementById("suggest-solution");
  var sitesEl = document.getElementById("suggest-sites");
  var choiceForm = document.getElementById("placement-choice");

  var COVERED = "#74c476";
  var NOT_COVERED = "#e34a33";
  var NO_HOUSEHOLDS = "#d9d9d9";
  var SITE = "#6a3d9a";
  var KINDS = {
    branch: { label: t("党支部"), colour: "#c62828" },
    centre: { label: t("党群服务中心"), colour: "#1f5f8b" },
    station: { label: t("服务站"), colour: "#ef6c00" },
  };
  var METHODS = {
    network: t("沿道路步行距离（路网）"),
    straight_line: t("直线距离（无路网）"),
    mixed: t("部分沿道路、部分直线距离"),
  };

  /* Text as HTML-safe markup, for the Leaflet API that takes HTML (the layer control's names). */
  function escapeHtml(value) {
    var div = document.createElement("div");
    div.textContent = value;
    return div.innerHTML;
  }

  function percent(share, digits) {
    return share === null || share === undefined ? "—" : number(100 * share, digits) + " %";
  }

  /* --- the map ------------------------------------------------------------------------------ */

  var map = kit.map(config.bounds);
  map.createPane("areas").style.zIndex = 405; /* above the cells' tiles, below markers */

  var coverageByCode = {};

  function cellFill(code) {
    var cell = coverageByCode[code];
    if (!cell || !cell.households) {
      return NO_HOUSEHOLDS;
    }
    return cell.covered ? COVERED : NOT_COVERED;
  }

  function cellPopup(p) {
    var cell = coverageByCode[p.code] || {};
    var names = config.names || {};
    return kit.popup(t("网格 {code}", { code: p.code }), [
      [t("社区"), (names[p.community] || "") + "（" + p.community + "）"],
      [t("户数"), number(cell.households)],
      [t("覆盖户数"), number(cell.households_covered)],
      [t("覆盖比例"), percent(cell.covered_share, 1)],
      [t("是否覆盖"), cell.covered ? t("已覆盖") : t("未覆盖")],
    ]);
  }

  function facilityPopup(p) {
    var root = kit.popup(p.name || t("（未命名）"), [
      [t("类型"), (KINDS[p.kind] || { label: p.kind }).label],
      [t("计算方式"), METHODS[p.method] || p.method],
      [t("距最近道路"), p.snap_distance_m === null ? "—" : t("{n} 米", { n: number(p.snap_distance_m, 1) })],
      [t("服务范围内户数"), number(p.households_reached)],
      [t("就近服务户数"), number(p.households_nearest)],
    ]);
    if (!p.in_area) {
      root.appendChild(text("p", "popup-note", t("位于本街道外，也计入覆盖。")));
    }
    return root;
  }

  function sitePopup(p) {
    var rows = [
      [t("新增覆盖户数"), number(p.households_added)],
      [t("所在网格"), p.cell_code || "—"],
      [t("计算方式"), METHODS[p.method] || p.method],
    ];
    if (p.address) {
      rows.push([t("地址"), p.address]);
    }
    if (p.candidate === "road_node") {
      rows.push([t("候选位置"), t("道路交叉口")]);
    }
    return kit.popup(t("建议站点 {rank}", { rank: p.rank }), rows);
  }

  var areasLayer = L.geoJSON(null, {
    pane: "areas",
    interactive: false,
    style: function (feature) {
      var kind = KINDS[feature.properties.kind] || KINDS.branch;
      return { color: kind.colour, weight: 1, opacity: 0.8, fillColor: kind.colour, fillOpacity: 0.08 };
    },
  }).addTo(map);

  var facilitiesLayer = L.geoJSON(null, {
    pointToLayer: function (feature, latlng) {
      var kind = KINDS[feature.properties.kind] || KINDS.branch;
      return L.circleMarker(latlng, {
        radius: feature.properties.kind === "branch" ? 5 : 7,
        color: "#ffffff",
        weight: 1.5,
        fillColor: kind.colour,
        fillOpacity: 1,
      });
    },
    onEachFeature: function (feature, layer) {
      layer.bindPopup(function () {
        return facilityPopup(feature.properties);
      });
    },
  }).addTo(map);

  var sitesLayer = L.geoJSON(null, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {
        radius: 9,
        color: "#ffffff",
        weight: 2.5,
        fillColor: SITE,
        fillOpacity: 1,
      });
    },
    onEachFeature: function (feature, layer) {
      layer.bindPopup(function () {
        return sitePopup(feature.properties);
      });
      layer.bindTooltip(String(feature.properties.rank), {
        permanent: true,
        direction: "center",
        className: "site-label",
      });
    },
  }).addTo(map);

  var overlays = {};
  overlays[escapeHtml(t("步行服务范围"))] = areasLayer;
  overlays[escapeHtml(t("党支部与服务站"))] = facilitiesLayer;
  overlays[escapeHtml(t("建议站点"))] = sitesLayer;
  L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);

  /* --- the panel ---------------------------------------------------------------------------- */

  function drawLegend() {
    var entries = [
      { colour: COVERED, label: t("网格已覆盖") },
      { colour: NOT_COVERED, label: t("网格未覆盖") },
      { colour: NO_HOUSEHOLDS, label: t("网格无住户") },
    ];
    Object.keys(KINDS).forEach(function (kind) {
      entries.push({ colour: KINDS[kind].colour, label: KINDS[kind].label, className: "legend-dot" });
    });
    entries.push({ colour: SITE, label: t("建议站点"), className: "legend-dot" });
    kit.legend(legendEl, t("图例"), entries);
  }

  function drawSummary(summary) {
    var rows = [
      [t("街道"), (summary.street_name || "") + "（" + (summary.street || "") + "）"],
      [t("步行距离"), t("{m} 分钟，约 {d} 米", { m: summary.minutes, d: number(summary.distance_m) })],
      [t("站点数"), number(summary.facilities)],
      [
        t("覆盖户数"),
        t("{covered} / {total} 户（{share}）", {
          covered: number(summary.households_covered),
          total: number(summary.households),
          share: percent(summary.covered_share, 1),
        }),
      ],
      [
        t("未覆盖网格"),
        t("{n} / {total} 个", { n: number(summary.cells_not_covered), total: number(summary.cells) }),
      ],
      [t("网格覆盖标准"), t("至少 {p} 的住户在步行范围内", { p: percent(summary.threshold, 0) })],
    ];
    kit.definitions(summaryEl, rows);
    var method = METHODS[summary.method] || summary.method || "—";
    var note = t("距离计算：{method}。", { method: method });
    if (summary.facilities_straight_line || summary.buildings_straight_line) {
      note +=
        " " +
        t("{f} 个站点和 {b} 栋楼附近无可步行道路，按直线距离计算。", {
          f: number(summary.facilities_straight_line),
          b: number(summary.buildings_straight_line),
        });
    }
    if (summary.area_method) {
      note += " " + t("服务范围按所到道路的凹包绘制（直线距离时为圆）。");
    }
    methodEl.textContent = note;
  }

  function drawSolution(solution) {
    solutionEl.textContent = "";
    var list = document.createElement("dl");
    var quality;
    if (solution.optimal) {
      quality = t("已证明为最优解");
    } else {
      quality = t("距最优至多差 {gap}（上界 {bound} 户）", {
        gap: percent(solution.gap, 1),
        bound: number(solution.bound),
      });
    }
    kit.definitions(list, [
      [t("求解器"), solution.solver || "—"],
      [t("解的质量"), quality],
      [
        t("新增覆盖户数"),
        t("{added} 户，占未覆盖的 {share}", {
          added: number(solution.households_added),
          share: percent(solution.share_of_uncovered_added, 1),
        }),
      ],
      [t("上界"), t("{n} 户", { n: number(solution.bound) })],
      [t("线性松弛上界"), solution.lp_bound === null ? "—" : t("{n} 户", { n: number(solution.lp_bound) })],
      [
        t("贪心算法"),
        t("{n} 户，距最优至多差 {gap}", {
          n: number(solution.greedy_objective),
          gap: percent(solution.greedy_gap, 1),
        }),
      ],
      [t("候选位置数"), number(solution.candidates)],
    ]);
    solutionEl.appendChild(list);
  }

  function drawSites(features) {
    sitesEl.textContent = "";
    features.forEach(function (feature) {
      var p = feature.properties;
      var li = document.createElement("li");
      var where = p.address || (p.cell_code ? t("网格 {code}", { code: p.cell_code }) : "");
      li.appendChild(text("span", "site-where", where));
      li.appendChild(text("span", "site-gain", t("+{n} 户", { n: number(p.households_added) })));
      li.addEventListener("click", function () {
        var c = feature.geometry.coordinates;
        map.setView([c[1], c[0]], Math.max(map.getZoom(), 16));
      });
      sitesEl.appendChild(li);
    });
  }

  /* --- loading ------------------------------------------------------------------------------ */

  var params = { street: config.street, minutes: config.minutes };

  function loadCoverage() {
    var url = config.coverageUrl + "?" + kit.query(L.extend({ cell_geometry: "0" }, params));
    return kit.getJson(url).then(function (answer) {
      var palette = {};
      answer.features.forEach(function (feature) {
        var p = feature.properties;
        if (p.role === "cell") {
          coverageByCode[p.code] = p;
        } else if (p.role === "service_area") {
          areasLayer.addData(feature);
        } else if (p.role === "facility") {
          facilitiesLayer.addData(feature);
        }
      });
      Object.keys(coverageByCode).forEach(function (code) {
        palette[code] = cellFill(code);
      });
      drawSummary(answer.summary);
      return palette;
    });
  }

  function drawCells(palette) {
    var drawn = false;
    /* Each cell is filled with the colour of its coverage, looked up by its code. */
    window.gridgis.cellMap(map, {
      tilesUrl: config.tilesUrl,
      cardUrl: config.cardUrl,
      params: { street: config.street },
      markProperty: null,
      fill: function (p) {
        return palette[p.code];
      },
      names: config.names,
      popup: cellPopup,
      maxZoom: config.maxZoom,
      onDrawn: function () {
        if (!drawn) {
          drawn = true;
          document.body.setAttribute("data-placement-drawn", "true");
        }
      },
    });
  }

  drawLegend();
  if (!config.street) {
    kit.setStatus(statusEl, t("尚无街道数据。"), false);
  } else {
    loadCoverage()
      .then(function (palette) {
        drawCells(palette);
        kit.setStatus(statusEl, t("已显示 {n} 个网格", { n: Object.keys(coverageByCode).length }), false);
      })
      .catch(function (error) {
        kit.setStatus(statusEl, t("加载失败：{message}", { message: error.message }), true);
      });
  }

  /* The street and minutes reload the page (the cells and their extent change with them). */
  choiceForm.querySelectorAll("select, input[type='radio']").forEach(function (input) {
    input.addEventListener("change", function () {
      choiceForm.submit();
    });
  });

  suggestForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var k = document.getElementById("suggest-k").value;
    var candidates = document.getElementById("suggest-candidates").value;
    var submit = document.getElementById("suggest-submit");
    submit.disabled = true;
    kit.setStatus(suggestStatus, t("正在计算最优站点…"), false);
    var url = config.suggestUrl + "?" + kit.query(L.extend({ k: k, candidates: candidates }, params));
    kit.getJson(url)
      .then(function (answer) {
        sitesLayer.clearLayers();
        sitesLayer.addData(answer.features);
        drawSolution(answer.solution);
        drawSites(answer.features);
        if (answer.features.length) {
          kit.setStatus(
            suggestStatus,
            t("建议 {n} 个新站点，共新增覆盖 {added} 户。", {
              n: answer.features.length,
              added: number(answer.solution.households_added),
            }),
            false
          );
        } else {
          kit.setStatus(suggestStatus, t("没有能新增覆盖住户的站点。"), false);
        }
        document.body.setAttribute("data-placement-suggested", String(answer.features.length));
      })
      .catch(function (error) {
        kit.setStatus(suggestStatus, t("计算失败：{message}", { message: error.message }), true);
      })
      .then(function () {
        submit.disabled = false;
      });
  });
})();
