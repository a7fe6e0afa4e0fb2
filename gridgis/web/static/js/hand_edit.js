/*
 * The hand editor of a draft (/edit/<community>/drafts/<id>/hand): the draft's cells and
 * the community's buildings on a Leaflet map, read from the API (stateUrl). Buildings are
 * selected by clicking them or with a lasso (Leaflet-Geoman's polygon drawing), then moved
 * to a cell or made a new cell; a cell is chosen by clicking it, merged with another, split
 * by a drawn line (Geoman's line drawing) or reshaped by dragging its vertices (Geoman's
 * edit mode). Each edit is POSTed to stepsUrl; the answer is the draft as judged at once,
 * whose findings (in the page's language) are listed and marked on the map. Undo POSTs to
 * undoUrl.
 *
 * Sets body[data-hand-state] to a counter each time a state is drawn (tests wait on it),
 * and body[data-hand-busy] while a request runs. window.gridgisHand exposes the map and the
 * layers for tests that need pixel positions. Text from the data is only ever put in the
 * page with textContent.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var errorEl = document.getElementById("hand-error");

  var CELL_COLOURS = ["#4c8fbd", "#2f9e44", "#f08c00", "#ae3ec9", "#1098ad", "#e8590c", "#5c7cfa", "#74b816"];
  var SELECTED = "#fab005";

  var state = null;
  var drawn = 0;
  var selected = {}; // building id -> true
  var currentCell = null;
  var mode = null; // "lasso", "line", "reshape" while Geoman is drawing or editing
  var editedLayer = null;

  var map = kit.map(null);
  var outlineLayer = L.layerGroup().addTo(map);
  var cellLayer = L.layerGroup().addTo(map);
  var buildingLayer = L.layerGroup().addTo(map);
  var findingLayer = L.layerGroup().addTo(map);
  var cellLayers = {}; // code -> Leaflet layer
  var buildingLayers = {}; // id -> Leaflet layer
  var fitted = false;

  function $(id) {
    return document.getElementById(id);
  }

  function setStatus(message, isError) {
    kit.setStatus(statusEl, message, isError);
  }

  function showError(message) {
    errorEl.textContent = message || "";
    errorEl.hidden = !message;
  }

  function colourOf(code) {
    var codes = state.cells.features.map(function (f) {
      return f.properties.code;
    });
    var k = codes.indexOf(code);
    return k < 0 ? "#868e96" : CELL_COLOURS[k % CELL_COLOURS.length];
  }

  function cellLabel(p) {
    return p.code + "（" + p.name + "）";
  }

  function fillSelect(select, features, keep, blank) {
    var before = keep || select.value;
    while (select.firstChild) {
      select.removeChild(select.firstChild);
    }
    if (blank) {
      select.appendChild(kit.text("option", null, blank)).value = "";
    }
    features.forEach(function (f) {
      var option = kit.text("option", null, cellLabel(f.properties) + " · " + t("{n} 户", { n: f.properties.households }));
      option.value = f.properties.code;
      select.appendChild(option);
    });
    if (before && features.some(function (f) { return f.properties.code === before; })) {
      select.value = before;
    }
  }

  /* ---- drawing the state ------------------------------------------------------------- */

  function drawCells() {
    cellLayer.clearLayers();
    cellLayers = {};
    state.cells.features.forEach(function (f) {
      var p = f.properties;
      var layer = L.geoJSON(f, {
        style: {
          color: p.out_of_bounds || p.has_error ? "#c92a2a" : "#343a40",
          weight: p.code === currentCell ? 4 : 2,
          dashArray: p.out_of_bounds ? "6 4" : null,
          fillColor: colourOf(p.code),
          fillOpacity: 0.25,
        },
      });
      layer.bindTooltip(cellLabel(p) + " · " + t("{n} 户", { n: p.households }), { sticky: true });
      layer.on("click", function () {
        if (!mode) {
          chooseCell(p.code);
        }
      });
      layer.addTo(cellLayer);
      cellLayers[p.code] = layer;
    });
  }

  function buildingStyle(p) {
    var on = !!selected[p.id];
    return {
      radius: on ? 7 : 5,
      color: on ? "#212529" : "#495057",
      weight: on ? 2 : 1,
      fillColor: on ? SELECTED : p.cell ? colourOf(p.cell) : "#868e96",
      fillOpacity: 0.9,
    };
  }

  function drawBuildings() {
    buildingLayer.clearLayers();
    buildingLayers = {};
    state.buildings.features.forEach(function (f) {
      var p = f.properties;
      var layer = L.geoJSON(f, {
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, buildingStyle(p));
        },
        style: function () {
          return buildingStyle(p);
        },
        pmIgnore: true,
      });
      layer.bindTooltip(t("楼栋 {id} · {n} 户", { id: p.id, n: p.households }));
      layer.on("click", function (event) {
        if (mode) {
          return;
        }
        L.DomEvent.stopPropagation(event);
        toggle(p.id);
      });
      layer.addTo(buildingLayer);
      buildingLayers[p.id] = layer;
    });
  }

  function restyleBuildings() {
    state.buildings.features.forEach(function (f) {
      var layer = buildingLayers[f.properties.id];
      if (layer) {
        layer.setStyle(buildingStyle(f.properties));
      }
    });
  }

  function drawFindings() {
    findingLayer.clearLayers();
    var list = $("hand-findings");
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    state.findings.forEach(function (f) {
      var item = kit.text("li", f.severity === "error" ? "edit-finding-error" : "edit-finding-warning");
      item.appendChild(kit.text("strong", null, f.severity === "error" ? t("错误") : t("警告")));
      item.appendChild(document.createTextNode(" " + f.text));
      list.appendChild(item);
      if (f.lat !== null && f.lon !== null) {
        var marker = L.circleMarker([f.lat, f.lon], {
          radius: 9,
          color: f.severity === "error" ? "#c92a2a" : "#e67700",
          weight: 3,
          fill: false,
          className: "hand-finding-marker",
          pmIgnore: true,
        });
        marker.bindTooltip(f.text);
        marker.addTo(findingLayer);
      }
    });
    var errors = state.findings.filter(function (f) {
      return f.severity === "error";
    }).length;
    $("hand-verdict").textContent = state.ok
      ? t("校验通过，可以发布。") + (state.findings.length ? " " + t("（有 {n} 条警告）", { n: state.findings.length }) : "")
      : t("有 {n} 个错误，改正后才能发布。", { n: errors });
  }

  function drawSteps() {
    var list = $("hand-steps");
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    state.steps.forEach(function (s) {
      list.appendChild(kit.text("li", null, s.text));
    });
    $("hand-undo").disabled = state.steps.length === 0;
  }

  function render(next) {
    state = next;
    var codes = state.cells.features.map(function (f) {
      return f.properties.code;
    });
    if (currentCell && codes.indexOf(currentCell) < 0) {
      currentCell = null;
    }
    // Forget selected buildings that no longer exist; keep the rest.
    var known = {};
    state.buildings.features.forEach(function (f) {
      known[f.properties.id] = true;
    });
    Object.keys(selected).forEach(function (id) {
      if (!known[id]) {
        delete selected[id];
      }
    });
    $("hand-bounds").textContent = t("户数范围 {low}–{high} 户", { low: state.bounds[0], high: state.bounds[1] });
    outlineLayer.clearLayers();
    L.geoJSON(state.outline, { style: { color: "#212529", weight: 2, fill: false }, pmIgnore: true }).addTo(outlineLayer);
    drawCells();
    drawBuildings();
    drawFindings();
    drawSteps();
    fillSelect($("hand-target"), state.cells.features);
    fillSelect($("hand-cell"), state.cells.features, currentCell, t("（请选择网格）"));
    fillOthers();
    updateSelection();
    if (!fitted) {
      var bounds = L.geoJSON(state.outline).getBounds();
      if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [16, 16], animate: false });
      }
      fitted = true;
    }
    drawn += 1;
    document.body.setAttribute("data-hand-state", String(drawn));
    setStatus(t("{cells} 个网格，{buildings} 栋楼", { cells: state.cells.features.length, buildings: state.buildings.features.length }));
  }

  function fillOthers() {
    var others = state.cells.features.filter(function (f) {
      return f.properties.code !== currentCell;
    });
    fillSelect($("hand-other"), others, null, t("（请选择网格）"));
  }

  /* ---- selection --------------------------------------------------------------------- */

  function selectedIds() {
    return Object.keys(selected).map(Number);
  }

  function updateSelection() {
    var ids = selectedIds();
    var households = 0;
    state.buildings.features.forEach(function (f) {
      if (selected[f.properties.id]) {
        households += f.properties.households;
      }
    });
    $("hand-selection").textContent = ids.length
      ? t("已选 {n} 栋楼，共 {h} 户", { n: ids.length, h: households })
      : t("未选楼栋");
    $("hand-move").disabled = ids.length === 0;
    $("hand-split-buildings").disabled = ids.length === 0;
  }

  function toggle(id) {
    if (selected[id]) {
      delete selected[id];
    } else {
      selected[id] = true;
    }
    restyleBuildings();
    updateSelection();
  }

  function chooseCell(code) {
    currentCell = code || null;
    $("hand-cell").value = currentCell || "";
    fillOthers();
    drawCells();
  }

  /* ---- requests ---------------------------------------------------------------------- */

  function busy(on) {
    document.body.setAttribute("data-hand-busy", on ? "true" : "false");
    Array.prototype.forEach.call(document.querySelectorAll(".hand-tools button, #hand-undo"), function (b) {
      b.dataset.wasDisabled = on ? String(b.disabled) : b.dataset.wasDisabled;
      b.disabled = on ? true : b.dataset.wasDisabled === "true";
    });
  }

  function send(url, body, done) {
    showError("");
    busy(true);
    setStatus(t("正在计算…"));
    return kit
      .postJson(url, body, config.csrfToken)
      .then(function (next) {
        busy(false);
        if (done) {
          done();
        }
        render(next);
      })
      .catch(function (error) {
        busy(false);
        showError(error.message);
        setStatus(t("未作更改。"), true);
        document.body.setAttribute("data-hand-state", String(++drawn));
      });
  }

  function edit(body, done) {
    return send(config.stepsUrl, body, done);
  }

  function needCell() {
    if (!currentCell) {
      showError(t("请先在地图上点击或在列表中选择一个网格。"));
      return false;
    }
    return true;
  }

  /* ---- Geoman: lasso, split line, vertices ------------------------------------------- */

  function stopMode() {
    if (mode === "lasso" || mode === "line") {
      map.pm.disableDraw();
    }
    if (mode === "reshape" && editedLayer) {
      editedLayer.pm.disable();
      editedLayer = null;
    }
    mode = null;
    $("hand-cancel").hidden = true;
    $("hand-reshape-done").hidden = true;
    $("hand-reshape").hidden = false;
  }

  function startDraw(kind, what) {
    stopMode();
    mode = what;
    $("hand-cancel").hidden = false;
    map.pm.enableDraw(kind, { snappable: false, continueDrawing: false, allowSelfIntersection: kind !== "Polygon" });
  }

  map.on("pm:create", function (event) {
    var layer = event.layer;
    var geometry = layer.toGeoJSON().geometry;
    layer.remove();
    var what = mode;
    stopMode();
    if (what === "lasso") {
      var ring = geometry.coordinates[0];
      state.buildings.features.forEach(function (f) {
        var c = f.geometry.type === "Point" ? f.geometry.coordinates : centre(f.geometry);
        if (inside(c, ring)) {
          selected[f.properties.id] = true;
        }
      });
      restyleBuildings();
      updateSelection();
    } else if (what === "line" && currentCell) {
      edit({ action: "split", code: currentCell, line: geometry.coordinates });
    }
  });

  function centre(geometry) {
    var ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
    var x = 0;
    var y = 0;
    ring.forEach(function (p) {
      x += p[0];
      y += p[1];
    });
    return [x / ring.length, y / ring.length];
  }

  function inside(point, ring) {
    var hit = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0];
      var yi = ring[i][1];
      var xj = ring[j][0];
      var yj = ring[j][1];
      if (yi > point[1] !== yj > point[1] && point[0] < ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi) {
        hit = !hit;
      }
    }
    return hit;
  }

  function largestRing(geometry) {
    if (geometry.type === "Polygon") {
      return geometry.coordinates[0];
    }
    var best = null;
    geometry.coordinates.forEach(function (polygon) {
      if (!best || polygon[0].length > best.length) {
        best = polygon[0];
      }
    });
    return best;
  }

  /* ---- buttons ----------------------------------------------------------------------- */

  $("hand-lasso").addEventListener("click", function () {
    startDraw("Polygon", "lasso");
    setStatus(t("在地图上逐点画出套索，点击第一个点结束。"));
  });
  $("hand-clear").addEventListener("click", function () {
    selected = {};
    restyleBuildings();
    updateSelection();
  });
  $("hand-move").addEventListener("click", function () {
    var ids = selectedIds();
    edit({ action: "move", buildings: ids, to: $("hand-target").value }, function () {
      selected = {};
    });
  });
  $("hand-split-buildings").addEventListener("click", function () {
    var ids = selectedIds();
    var cells = {};
    state.buildings.features.forEach(function (f) {
      if (selected[f.properties.id] && f.properties.cell) {
        cells[f.properties.cell] = true;
      }
    });
    var codes = Object.keys(cells);
    if (codes.length !== 1) {
      showError(t("拆分时所选楼栋须在同一个网格内（现在在 {n} 个网格内）。", { n: codes.length }));
      return;
    }
    edit({ action: "split", code: codes[0], buildings: ids }, function () {
      selected = {};
    });
  });
  $("hand-cell").addEventListener("change", function (event) {
    chooseCell(event.target.value);
  });
  $("hand-merge").addEventListener("click", function () {
    if (!needCell()) {
      return;
    }
    var other = $("hand-other").value;
    if (!other) {
      showError(t("请选择要并入的网格。"));
      return;
    }
    edit({ action: "merge", into: currentCell, other: other });
  });
  $("hand-split-line").addEventListener("click", function () {
    if (!needCell()) {
      return;
    }
    startDraw("Line", "line");
    setStatus(t("画一条穿过网格的线，在最后一点再点一次结束。"));
  });
  $("hand-reshape").addEventListener("click", function () {
    if (!needCell()) {
      return;
    }
    stopMode();
    mode = "reshape";
    editedLayer = cellLayers[currentCell].getLayers()[0];
    editedLayer.pm.enable({ allowSelfIntersection: false, snappable: false });
    $("hand-reshape").hidden = true;
    $("hand-reshape-done").hidden = false;
    $("hand-cancel").hidden = false;
    setStatus(t("拖动顶点修改边界，完成后点击“完成边界修改”。"));
  });
  $("hand-reshape-done").addEventListener("click", function () {
    if (!editedLayer) {
      return;
    }
    var ring = largestRing(editedLayer.toGeoJSON().geometry);
    var code = currentCell;
    stopMode();
    edit({ action: "reshape", code: code, outline: ring });
  });
  $("hand-cancel").addEventListener("click", function () {
    stopMode();
    drawCells();
    setStatus(t("已取消。"));
  });
  $("hand-undo").addEventListener("click", function () {
    send(config.undoUrl, {});
  });

  window.gridgisHand = {
    map: map,
    buildings: function () {
      return buildingLayers;
    },
    cells: function () {
      return cellLayers;
    },
    state: function () {
      return state;
    },
  };

  kit
    .getJson(config.stateUrl)
    .then(render)
    .catch(function (error) {
      setStatus(error.message, true);
      document.body.setAttribute("data-hand-state", "error");
    });
})();
