/*
 * The party organisation page (/party/organisations).
 *
 * Asks /api/party/organisations for one street office's tree and draws it as nested
 * <details> (collapsible without script), asks /api/party/cell-status for the
 * 一网格一支部 status of its cells and the buildings a 党小组 covers or holding a
 * 党员中心户; the cells are drawn from the app's vector tiles (gridgis.cellMap,
 * cellmap.js) coloured by status, the buildings as circles. Administrators and street
 * offices edit an organisation in the form: create (POST), change (PATCH) and delete
 * (DELETE) through the API, then the tree and the map are read again.
 *
 * Sets body[data-party-drawn="true"] once the cells are drawn with their status, and
 * body[data-party-tree=N] (organisations shown) each time the tree is drawn (for tests).
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
  var summaryEl = document.getElementById("party-summary");
  var legendEl = document.getElementById("party-legend");
  var treeEl = document.getElementById("party-tree");
  var choiceForm = document.getElementById("party-choice");
  var form = document.getElementById("org-form");
  var editStatus = document.getElementById("edit-status");

  var STATUS = {
    own: { colour: "#31a354", label: t("一网格一支部") },
    shared: { colour: "#fdae6b", label: t("多网格共用支部或多个支部") },
    none: { colour: "#e34a33", label: t("无党支部") },
  };
  var GROUP = "#2171b5";
  var CENTRAL = "#c62828";
  var KIND_NAMES = {
    committee: t("党委"),
    general_branch: t("党总支"),
    branch: t("党支部"),
    group: t("党小组"),
  };

  var map = kit.map(config.bounds);
  var statusByCode = {};
  var buildingLayer = L.layerGroup().addTo(map);
  var cells = null;

  /* --- the map --------------------------------------------------------------------------- */

  function cellFill(p) {
    var cell = statusByCode[p.code];
    return STATUS[cell ? cell.status : "none"].colour;
  }

  function cellPopup(p) {
    var cell = statusByCode[p.code] || { status: "none", branch_names: [] };
    var names = config.names || {};
    return kit.popup(t("网格 {code}", { code: p.code }), [
      [t("社区"), (names[p.community] || "") + "（" + p.community + "）"],
      [t("状态"), STATUS[cell.status].label],
      [t("党支部"), cell.branch_names.length ? cell.branch_names.join("、") : t("无")],
    ]);
  }

  function buildingPopup(b) {
    return kit.popup(t("楼栋 {id}", { id: b.external_id || b.id }), [
      [t("党小组"), b.group_names.length ? b.group_names.join("、") : t("无")],
      [t("党员中心户"), number(b.central_households)],
    ]);
  }

  function drawBuildings(buildings) {
    buildingLayer.clearLayers();
    buildings.forEach(function (b) {
      var marker = L.circleMarker([b.lat, b.lon], {
        radius: b.central_households ? 6 : 4,
        color: b.central_households ? CENTRAL : GROUP,
        weight: b.central_households ? 3 : 1,
        fillColor: b.groups ? GROUP : "#ffffff",
        fillOpacity: 0.9,
      });
      marker.bindPopup(function () {
        return buildingPopup(b);
      });
      buildingLayer.addLayer(marker);
    });
  }

  function drawLegend() {
    var entries = ["own", "shared", "none"].map(function (key) {
      return { colour: STATUS[key].colour, label: STATUS[key].label };
    });
    entries.push({ colour: GROUP, label: t("有楼栋党小组的楼栋") });
    entries.push({ colour: CENTRAL, label: t("有党员中心户的楼栋") });
    kit.legend(legendEl, t("图例"), entries);
  }

  function drawSummary(answer) {
    var counts = answer.counts;
    kit.definitions(summaryEl, [
      [t("网格"), number(counts.cells)],
      [STATUS.own.label, number(counts.own)],
      [STATUS.shared.label, number(counts.shared)],
      [STATUS.none.label, number(counts.none)],
      [t("有楼栋党小组的楼栋"), number(answer.buildings_with_group) + " / " + number(counts.buildings)],
      [t("有党员中心户的楼栋"), number(answer.central_household_buildings)],
    ]);
  }

  function loadStatus() {
    var url = config.statusUrl + "?" + kit.query({ street: config.street });
    return kit.getJson(url).then(function (answer) {
      statusByCode = {};
      answer.cells.forEach(function (cell) {
        statusByCode[cell.code] = cell;
      });
      drawSummary(answer);
      drawBuildings(answer.buildings);
      return answer;
    });
  }

  function drawCells() {
    if (cells) {
      cells.setParams({ street: config.street }, cellFill); /* restyled with the new status */
      return;
    }
    var drawn = false;
    cells = window.gridgis.cellMap(map, {
      tilesUrl: config.tilesUrl,
      cardUrl: config.cardUrl,
      params: { street: config.street },
      markProperty: null,
      fill: cellFill,
      names: config.names,
      popup: cellPopup,
      maxZoom: config.maxZoom,
      onDrawn: function () {
        if (!drawn) {
          drawn = true;
          document.body.setAttribute("data-party-drawn", "true");
        }
      },
    });
  }

  /* --- the tree -------------------------------------------------------------------------- */

  function line(node) {
    var row = text("span", "party-node");
    row.appendChild(text("span", "party-kind party-kind-" + node.kind, KIND_NAMES[node.kind] || node.kind_name));
    row.appendChild(text("span", "party-name", node.name));
    var facts = [t("党员 {n}", { n: number(node.members) })];
    if (node.secretary) {
      facts.unshift(t("书记 {name}", { name: node.secretary }));
    }
    if (node.cells.length) {
      facts.push(t("网格 {n}", { n: node.cells.length }));
    }
    if (node.buildings) {
      facts.push(t("楼栋 {n}", { n: node.buildings }));
    }
    row.appendChild(text("span", "party-facts", facts.join(" · ")));
    if (config.mayEdit) {
      var edit = text("button", "party-edit-button", t("编辑"));
      edit.type = "button";
      edit.setAttribute("data-id", node.id);
      edit.addEventListener("click", function (event) {
        event.preventDefault();
        openForEdit(node.id);
      });
      row.appendChild(edit);
    }
    return row;
  }

  function branch(node) {
    var item = document.createElement("li");
    item.setAttribute("data-organisation", node.id);
    if (!node.children.length) {
      item.appendChild(line(node));
      return item;
    }
    var details = document.createElement("details");
    details.open = node.kind !== "branch";
    var summary = document.createElement("summary");
    summary.appendChild(line(node));
    details.appendChild(summary);
    var list = document.createElement("ul");
    node.children.forEach(function (child) {
      list.appendChild(branch(child));
    });
    details.appendChild(list);
    item.appendChild(details);
    return item;
  }

  function drawTree(answer) {
    treeEl.textContent = "";
    if (!answer.organisations.length) {
      treeEl.appendChild(text("p", "empty", t("尚无党组织。")));
    }
    var list = document.createElement("ul");
    list.className = "party-roots";
    answer.organisations.forEach(function (node) {
      list.appendChild(branch(node));
    });
    treeEl.appendChild(list);
    document.body.setAttribute("data-party-tree", String(answer.total));
  }

  function loadTree() {
    var url = config.treeUrl + "?" + kit.query({ street: config.street });
    return kit.getJson(url).then(drawTree);
  }

  /* --- editing --------------------------------------------------------------------------- */

  function send(method, url, body) {
    var headers = {
      Accept: "application/json",
      "Accept-Language": document.documentElement.lang || "zh-CN",
      "X-CSRF-Token": config.csrfToken,
    };
    if (body) {
      headers["Content-Type"] = "application/json";
    }
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      if (response.status === 204) {
        return null;
      }
      return response.json().then(function (answer) {
        if (!response.ok) {
          var error = answer && answer.error;
          throw new Error(error ? error.message || String(error) : "HTTP " + response.status);
        }
        return answer;
      });
    });
  }

  function listOf(value) {
    return value
      .split(/[\s,，、;；]+/)
      .map(function (part) {
        return part.trim();
      })
      .filter(Boolean);
  }

  function field(id) {
    return document.getElementById(id);
  }

  function resetForm() {
    form.reset();
    field("org-id").value = "";
    field("org-delete").disabled = true;
    field("edit-title").textContent = t("新建党组织");
  }

  function openForEdit(id) {
    kit.setStatus(editStatus, t("正在读取…"), false);
    kit
      .getJson(config.organisationUrl + id)
      .then(function (org) {
        field("org-id").value = String(org.id);
        field("org-name").value = org.name;
        field("org-kind").value = org.kind;
        field("org-parent").value = org.parent_id === null ? "" : String(org.parent_id);
        field("org-secretary").value = org.secretary || "";
        field("org-members").value = String(org.member_count);
        field("org-cells").value = org.cells.join("、");
        field("org-buildings").value = org.buildings.join("、");
        field("org-delete").disabled = false;
        field("edit-title").textContent = t("编辑：{name}（编号 {id}）", { name: org.name, id: org.id });
        kit.setStatus(editStatus, "", false);
        form.scrollIntoView({ block: "nearest" });
      })
      .catch(function (error) {
        kit.setStatus(editStatus, t("读取失败：{message}", { message: error.message }), true);
      });
  }

  function reload() {
    return Promise.all([loadTree(), loadStatus()]).then(drawCells);
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var id = field("org-id").value;
      var parent = field("org-parent").value.trim();
      var body = {
        name: field("org-name").value.trim(),
        kind: field("org-kind").value,
        parent_id: parent ? Number(parent) : null,
        secretary: field("org-secretary").value.trim() || null,
        member_count: Number(field("org-members").value || 0),
        cells: listOf(field("org-cells").value),
        buildings: listOf(field("org-buildings").value),
      };
      var request = id
        ? send("PATCH", config.organisationUrl + id, body)
        : send("POST", config.createUrl, body);
      kit.setStatus(editStatus, t("正在保存…"), false);
      request
        .then(function (org) {
          kit.setStatus(editStatus, t("已保存：{name}（编号 {id}）", { name: org.name, id: org.id }), false);
          field("org-id").value = String(org.id);
          field("org-delete").disabled = false;
          return reload();
        })
        .catch(function (error) {
          kit.setStatus(editStatus, t("保存失败：{message}", { message: error.message }), true);
        });
    });
    field("org-new").addEventListener("click", function () {
      resetForm();
      kit.setStatus(editStatus, "", false);
    });
    field("org-delete").addEventListener("click", function () {
      var id = field("org-id").value;
      if (!id) {
        return;
      }
      var children = field("org-reparent").checked ? "reparent" : "refuse";
      send("DELETE", config.organisationUrl + id + "?" + kit.query({ children: children }))
        .then(function () {
          resetForm();
          kit.setStatus(editStatus, t("已删除"), false);
          return reload();
        })
        .catch(function (error) {
          kit.setStatus(editStatus, t("删除失败：{message}", { message: error.message }), true);
        });
    });
  }

  drawLegend();
  if (!config.street) {
    kit.setStatus(statusEl, t("尚无街道数据。"), false);
  } else {
    Promise.all([loadTree(), loadStatus()])
      .then(function () {
        drawCells();
        var shown = document.body.getAttribute("data-party-tree") || "0";
        kit.setStatus(statusEl, t("共 {n} 个党组织", { n: shown }), false);
      })
      .catch(function (error) {
        kit.setStatus(statusEl, t("加载失败：{message}", { message: error.message }), true);
      });
  }

  /* The street reloads the page (the cells and their extent change with it). */
  choiceForm.querySelectorAll("select").forEach(function (input) {
    input.addEventListener("change", function () {
      choiceForm.submit();
    });
  });
})();
