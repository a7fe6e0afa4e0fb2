/*
 * The 驻区单位 page (/party/units).
 *
 * Reads the units, alliances and needs of the street chosen from /api/party/units,
 * /api/party/alliances and /api/party/needs; draws the units as points and the needs
 * at their community (the communities from /api/areas/community.geojson); fills the
 * tables; posts new alliances, joins, needs, claims (认领) and needs done through the
 * same API. Sets body[data-party-drawn="true"] once drawn, with data-party-units and
 * data-party-needs the counts drawn (for tests). Text from the database is put in the
 * page with textContent only.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var partyStatus = document.getElementById("party-status");
  var totalsEl = document.getElementById("party-totals");
  var unitsBody = document.querySelector("#units-table tbody");
  var needsBody = document.querySelector("#needs-table tbody");
  var alliancesList = document.getElementById("alliances-list");
  var stateSelect = document.getElementById("needs-state");
  var kindSelect = document.getElementById("needs-kind");
  var map = kit.map(config.bounds);
  var unitLayer = L.layerGroup().addTo(map);
  var needLayer = L.layerGroup().addTo(map);
  var centres = {};
  var units = [];
  var area = config.street ? { area: config.street } : {};

  document.getElementById("units-export").href =
    config.exportUrl + (config.street ? "?" + kit.query(area) : "");

  function cell(row, content, className) {
    row.appendChild(kit.text("td", className || null, content === null || content === undefined ? "" : String(content)));
  }

  /* A cell with a line of text and a smaller second line under it. */
  function twoLines(first, second) {
    var td = kit.text("td", null, first);
    if (second) {
      td.appendChild(kit.text("small", "second-line", second));
    }
    return td;
  }

  function loadCommunities() {
    var params = config.street ? "?" + kit.query({ within: config.street }) : "";
    return kit.getJson(config.areasUrl + params, "application/geo+json").then(function (geojson) {
      var layer = L.geoJSON(geojson, {
        style: { color: "#6b6b6b", weight: 1, fillOpacity: 0.03 },
      }).addTo(map);
      layer.eachLayer(function (item) {
        var props = item.feature.properties || {};
        centres[props.code] = item.getBounds().getCenter();
      });
      if (!config.bounds && layer.getBounds().isValid()) {
        map.fitBounds(layer.getBounds(), { padding: [16, 16], animate: false });
      }
    });
  }

  function drawUnits(found) {
    units = found;
    unitLayer.clearLayers();
    unitsBody.textContent = "";
    found.forEach(function (unit) {
      var row = document.createElement("tr");
      row.appendChild(twoLines(unit.name, t(unit.kind_name) + " · " + (unit.community_code || "")));
      row.appendChild(twoLines(unit.contact || "—", unit.contact_phone || ""));
      cell(row, unit.alliances.map(function (a) { return a.name + (a.committee ? " ★" : ""); }).join("、"));
      unitsBody.appendChild(row);
      L.circleMarker([unit.lat, unit.lon], { radius: 6, color: "#08519c", fillOpacity: 0.8 })
        .bindPopup(kit.popup(unit.name, [
          [t("类型"), t(unit.kind_name)],
          [t("联系人"), unit.contact || "—"],
          [t("电话"), unit.contact_phone || "—"],
          [t("党组织"), unit.party_org || "—"],
        ]))
        .addTo(unitLayer);
    });
    var joinUnit = document.getElementById("join-unit");
    if (joinUnit) {
      joinUnit.textContent = "";
      found.forEach(function (unit) {
        var option = kit.text("option", null, unit.name);
        option.value = unit.external_id || String(unit.id);
        joinUnit.appendChild(option);
      });
    }
    document.body.setAttribute("data-party-units", String(found.length));
  }

  function drawAlliances(found) {
    alliancesList.textContent = "";
    var joinAlliance = document.getElementById("join-alliance");
    if (joinAlliance) {
      joinAlliance.textContent = "";
    }
    found.forEach(function (alliance) {
      alliancesList.appendChild(kit.text("li", null, t("{name}：{units} 个单位，{committee} 名兼职委员", {
        name: alliance.name, units: alliance.units, committee: alliance.committee,
      })));
      if (joinAlliance) {
        var option = kit.text("option", null, alliance.name);
        option.value = String(alliance.id);
        joinAlliance.appendChild(option);
      }
    });
  }

  function act(promise) {
    return promise.then(function () {
      kit.setStatus(partyStatus, t("已保存"), false);
      return loadAll();
    }).catch(function (error) {
      kit.setStatus(partyStatus, error.message, true);
    });
  }

  function actions(row, need) {
    var td = document.createElement("td");
    if (config.mayChange && need.state === "open" && units.length) {
      var select = document.createElement("select");
      select.setAttribute("aria-label", t("认领单位"));
      units.forEach(function (unit) {
        var option = kit.text("option", null, unit.name);
        option.value = unit.external_id || String(unit.id);
        select.appendChild(option);
      });
      var claim = kit.text("button", "need-claim", t("认领"));
      claim.type = "button";
      claim.addEventListener("click", function () {
        act(kit.postJson(config.needsUrl + "/" + need.id + "/claim", { unit: select.value }, config.csrf));
      });
      td.appendChild(select);
      td.appendChild(claim);
    } else if (config.mayChange && need.state === "claimed") {
      var note = document.createElement("input");
      note.placeholder = t("完成说明");
      note.setAttribute("aria-label", t("完成说明"));
      var done = kit.text("button", "need-done", t("完成"));
      done.type = "button";
      done.addEventListener("click", function () {
        act(kit.postJson(config.needsUrl + "/" + need.id + "/done", { note: note.value || null }, config.csrf));
      });
      td.appendChild(note);
      td.appendChild(done);
    } else if (need.done_note) {
      td.textContent = need.done_note;
    }
    row.appendChild(td);
  }

  function drawNeeds(found) {
    needLayer.clearLayers();
    needsBody.textContent = "";
    var colours = { open: "#d94801", claimed: "#fdae6b", done: "#41ab5d" };
    found.forEach(function (need) {
      var row = document.createElement("tr");
      row.setAttribute("data-need", String(need.id));
      row.setAttribute("data-state", need.state);
      row.appendChild(twoLines(need.title, [t(need.kind_name), need.community_code,
        need.due_on ? t("截止 {day}", { day: need.due_on }) : ""].filter(Boolean).join(" · ")));
      cell(row, t(need.state_name));
      cell(row, need.unit);
      actions(row, need);
      needsBody.appendChild(row);
      var where = centres[need.community_code];
      if (where) {
        L.circleMarker(where, { radius: 5, color: colours[need.state], fillOpacity: 0.9 })
          .bindPopup(kit.popup(need.title, [[t("状态"), t(need.state_name)], [t("认领单位"), need.unit || "—"]]))
          .addTo(needLayer);
      }
    });
    document.body.setAttribute("data-party-needs", String(found.length));
  }

  function loadAll() {
    var needParams = Object.assign({}, area, { state: stateSelect.value, kind: kindSelect.value });
    return Promise.all([
      kit.getJson(config.unitsUrl + "?" + kit.query(area)),
      kit.getJson(config.alliancesUrl + "?" + kit.query(area)),
      kit.getJson(config.needsUrl + "?" + kit.query(needParams)),
    ]).then(function (answers) {
      drawUnits(answers[0].units);
      drawAlliances(answers[1].alliances);
      drawNeeds(answers[2].needs);
      totalsEl.textContent = t("{units} 个驻区单位，{alliances} 个联合体，{needs} 条需求", {
        units: answers[0].units.length, alliances: answers[1].alliances.length,
        needs: answers[2].needs.length,
      });
      kit.setStatus(statusEl, "", false);
      document.body.setAttribute("data-party-drawn", "true");
    });
  }

  function formJson(form) {
    var out = {};
    new FormData(form).forEach(function (value, key) {
      if (value !== "") {
        out[key] = value;
      }
    });
    return out;
  }

  var allianceForm = document.getElementById("alliance-form");
  if (allianceForm) {
    allianceForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = formJson(allianceForm);
      var body = { name: data.name };
      body[data.area && data.area.length === 12 ? "community" : "street"] = data.area;
      act(kit.postJson(config.alliancesUrl, body, config.csrf));
    });
  }
  var joinForm = document.getElementById("join-form");
  if (joinForm) {
    joinForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = formJson(joinForm);
      act(kit.postJson(config.alliancesUrl + "/" + data.alliance + "/units",
        { unit: data.unit, committee: !!data.committee }, config.csrf));
    });
  }
  var needForm = document.getElementById("need-form");
  if (needForm) {
    needForm.addEventListener("submit", function (event) {
      event.preventDefault();
      act(kit.postJson(config.needsUrl, formJson(needForm), config.csrf));
    });
  }
  [stateSelect, kindSelect].forEach(function (select) {
    select.addEventListener("change", function () {
      loadAll();
    });
  });

  loadCommunities()
    .catch(function () { return null; })
    .then(loadAll)
    .catch(function (error) {
      kit.setStatus(statusEl, error.message, true);
    });
})();
