/*
 * The 红心物业 page (/party/property).
 *
 * Reads the compounds of the street chosen (with their outlines) from
 * /api/party/compounds and the figures per community from /api/party/compounds/figures;
 * draws each compound's outline coloured by its management (a company, 红心物业 by mode,
 * none, unregistered); fills the figures' table and the list of compounds (by default
 * those with none: the list to act on), each with its 物业管理 cases of the twelve
 * months. Clicking a compound (on the map or in the list) fills the edit form, which
 * posts to /api/party/compounds and redraws. Sets body[data-property-drawn="true"] once
 * drawn, with data-property-compounds (compounds drawn) for tests. Text from the database
 * is put in the page with textContent only.
 */
(function () {
  "use strict";

  var t = window.gridgis.t;
  var kit = window.gridgis.kit;
  var config = kit.config();
  var statusEl = document.getElementById("map-status");
  var editStatus = document.getElementById("property-status");
  var totalsEl = document.getElementById("property-totals");
  var windowEl = document.getElementById("property-window");
  var figuresBody = document.querySelector("#figures-table tbody");
  var compoundsBody = document.querySelector("#compounds-table tbody");
  var filter = document.getElementById("compounds-management");
  var form = document.getElementById("compound-form");
  var map = kit.map(config.bounds);
  var layer = L.layerGroup().addTo(map);
  var area = config.street ? { area: config.street } : {};
  var compounds = [];
  var fitted = Boolean(config.bounds);
  var COLOURS = {
    company: "#2171b5",
    service: "#a50f15",
    autonomy: "#de2d26",
    unit: "#fb6a4a",
    community: "#fcae91",
    none: "#252525",
    unregistered: "#bdbdbd",
  };

  document.getElementById("property-export").href =
    config.exportUrl + (config.street ? "?" + kit.query({ street: config.street }) : "");
  kit.legend(document.getElementById("property-legend"), t("管理方式"), [
    { colour: COLOURS.company, label: t("物业公司") },
    { colour: COLOURS.service, label: t("红心物业") + "：" + t("物业服务") },
    { colour: COLOURS.autonomy, label: t("红心物业") + "：" + t("居民自治") },
    { colour: COLOURS.unit, label: t("红心物业") + "：" + t("驻区单位包保") },
    { colour: COLOURS.community, label: t("红心物业") + "：" + t("社区兜底") },
    { colour: COLOURS.none, label: t("无物业") },
    { colour: COLOURS.unregistered, label: t("未登记") },
  ]);

  function key(row) {
    return row.management === "red" ? row.red_mode : row.management || "unregistered";
  }

  function how(row) {
    var name = t(row.management_name);
    return row.red_mode_name ? name + "：" + t(row.red_mode_name) : name;
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : kit.number(value * 100, 1) + "%";
  }

  function cell(row, content, className) {
    row.appendChild(kit.text("td", className || null, content));
  }

  function twoLines(first, second) {
    var td = kit.text("td", null, first);
    if (second) {
      td.appendChild(kit.text("small", "second-line", second));
    }
    return td;
  }

  function option(select, value, label) {
    var el = kit.text("option", null, label);
    el.value = value;
    select.appendChild(el);
  }

  function fillChoices(answer) {
    if (!form) {
      return;
    }
    [["edit-unit", answer.units], ["edit-organisation", answer.organisations]].forEach(function (pair) {
      var select = document.getElementById(pair[0]);
      var kept = select.value;
      select.textContent = "";
      option(select, "", "—");
      pair[1].forEach(function (item) {
        option(select, String(item.id), item.name);
      });
      select.value = kept;
    });
  }

  function pick(row) {
    Array.prototype.forEach.call(compoundsBody.querySelectorAll("tr.picked"), function (tr) {
      tr.classList.remove("picked");
    });
    var tr = compoundsBody.querySelector('tr[data-key="' + CSS.escape(row.community_code + "/" + row.name) + '"]');
    if (tr) {
      tr.classList.add("picked");
    }
    if (!form) {
      return;
    }
    var values = {
      "edit-community": row.community_code,
      "edit-compound": row.name,
      "edit-management": row.management || "none",
      "edit-mode": row.red_mode || "",
      "edit-company": row.company || "",
      "edit-unit": row.unit_id ? String(row.unit_id) : "",
      "edit-organisation": row.organisation_id ? String(row.organisation_id) : "",
      "edit-contact": row.contact || "",
      "edit-phone": row.contact_phone || "",
      "edit-built": row.built_year ? String(row.built_year) : "",
      "edit-since": row.since || "",
      "edit-note": row.note || "",
    };
    Object.keys(values).forEach(function (id) {
      document.getElementById(id).value = values[id];
    });
    document.getElementById("edit-old").checked = Boolean(row.old);
    form.scrollIntoView({ block: "nearest" });
  }

  function drawMap(rows) {
    layer.clearLayers();
    var bounds = L.latLngBounds([]);
    rows.forEach(function (row) {
      if (!row.outline) {
        return;
      }
      var colour = COLOURS[key(row)];
      var shape = L.geoJSON(row.outline, {
        style: { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.55 },
      });
      shape.bindPopup(kit.popup(row.name, [
        [t("管理方式"), how(row)],
        [t("老旧小区"), row.old ? t("是") : t("否")],
        [t("物业公司"), row.company || "—"],
        [t("包保单位"), row.unit || "—"],
        [t("牵头党组织"), row.organisation || "—"],
        [t("联系人"), row.contact || "—"],
        [t("物业管理事件"), String(row.cases)],
      ]));
      shape.on("click", function () {
        pick(row);
      });
      shape.addTo(layer);
      bounds.extend(shape.getBounds());
    });
    if (!fitted && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], animate: false });
      fitted = true;
    }
  }

  function drawList() {
    var wanted = filter.value;
    compoundsBody.textContent = "";
    compounds.forEach(function (row) {
      if (wanted && wanted !== (row.management || "unregistered")) {
        return;
      }
      var tr = document.createElement("tr");
      tr.setAttribute("data-compound", row.name);
      tr.setAttribute("data-key", row.community_code + "/" + row.name);
      tr.setAttribute("data-management", key(row));
      tr.appendChild(twoLines(row.name, row.community_code + (row.old ? " · " + t("老旧小区") : "")));
      tr.appendChild(twoLines(how(row), row.company || row.unit || row.organisation || ""));
      tr.appendChild(twoLines(row.contact || "—", row.contact_phone || ""));
      cell(tr, String(row.cases), "count");
      tr.addEventListener("click", function () {
        pick(row);
      });
      compoundsBody.appendChild(tr);
    });
  }

  function drawFigures(answer) {
    figuresBody.textContent = "";
    answer.communities.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-community", row.community_code);
      tr.appendChild(twoLines(row.community_name || row.community_code, row.community_code));
      cell(tr, String(row.compounds), "count");
      cell(tr, String(row.old), "count");
      cell(tr, percent(row.managed_share), "count");
      tr.appendChild(twoLines(String(row.red), [
        [t("物业服务"), row.service], [t("居民自治"), row.autonomy],
        [t("驻区单位包保"), row.unit], [t("社区兜底"), row.community],
      ].filter(function (pair) { return pair[1]; }).map(function (pair) {
        return pair[0] + " " + pair[1];
      }).join("、")));
      cell(tr, String(row.none), "count");
      cell(tr, String(row.cases), "count");
      figuresBody.appendChild(tr);
    });
    var total = answer.total;
    totalsEl.textContent = t("{n} 个小区（老旧小区 {old} 个），有物业管理 {share}，红心物业 {red} 个，无物业 {none} 个", {
      n: total.compounds, old: total.old, share: percent(total.managed_share), red: total.red,
      none: total.none,
    });
    windowEl.textContent = t("物业管理事件：{since} 至 {until} 前", { since: answer.since, until: answer.until });
  }

  function loadAll() {
    return Promise.all([
      kit.getJson(config.compoundsUrl + "?" + kit.query(Object.assign({ outlines: "true" }, area))),
      kit.getJson(config.figuresUrl + "?" + kit.query(area)),
    ]).then(function (answers) {
      compounds = answers[0].compounds;
      fillChoices(answers[0]);
      drawMap(compounds);
      drawList();
      drawFigures(answers[1]);
      kit.setStatus(statusEl, "", false);
      document.body.setAttribute("data-property-compounds", String(compounds.length));
      document.body.setAttribute("data-property-drawn", "true");
    });
  }

  filter.addEventListener("change", drawList);

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      new FormData(form).forEach(function (value, name) {
        if (value !== "") {
          body[name] = value;
        }
      });
      body.old = document.getElementById("edit-old").checked;
      if (body.management !== "red") {
        delete body.red_mode;
      }
      if (body.red_mode !== "unit") {
        delete body.unit;
      }
      if (body.management !== "company") {
        delete body.company;
      }
      if (body.built_year) {
        body.built_year = Number(body.built_year);
      }
      document.body.removeAttribute("data-property-saved");
      kit.postJson(config.compoundsUrl, body, config.csrf)
        .then(function (saved) {
          kit.setStatus(editStatus, t("已保存：{name}（{how}）", { name: saved.name, how: how(saved) }), false);
          return loadAll().then(function () {
            document.body.setAttribute("data-property-saved", saved.name);
          });
        })
        .catch(function (error) {
          kit.setStatus(editStatus, error.message, true);
        });
    });
  }

  loadAll().catch(function (error) {
    kit.setStatus(statusEl, error.message, true);
  });
})();
