/*
 * One case (/cases/<id>): its pin in its cell, the actions this user may take (posted to
 * the case API with the session's CSRF token; the page is then loaded again), and its
 * photos and near-duplicates when the API has those routes (a 404 shows nothing).
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();

  var map = kit.map(null);
  if (config.cell) {
    var cell = L.geoJSON(config.cell, { style: { color: "#1f5f8b", weight: 2, fillOpacity: 0.08 } });
    cell.addTo(map);
    map.fitBounds(cell.getBounds(), { padding: [16, 16], animate: false });
  }
  if (config.point) {
    L.circleMarker(config.point, { radius: 8, color: "#d9480f", weight: 3 }).addTo(map);
    if (!config.cell) {
      map.setView(config.point, 17, { animate: false });
    }
  }

  var form = document.getElementById("case-action-form");
  var chosen = null;
  var NEEDS_NOTE = { returned: true, rejected: true, escalated: true, note: true };

  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) {
      el.hidden = !visible;
    }
  }

  function choose(button) {
    chosen = button.getAttribute("data-action");
    document.getElementById("case-action-title").textContent = button.textContent;
    show("case-action-department-field", chosen === "dispatched");
    show("case-action-assignee-field", chosen === "dispatched");
    show("case-action-photos-field", chosen === "handled" || chosen === "verified");
    show("case-action-into-field", chosen === "merged");
    document.getElementById("case-action-into").required = chosen === "merged";
    document.getElementById("case-action-note").required = Boolean(NEEDS_NOTE[chosen]);
    document.getElementById("case-action-note-label").textContent = NEEDS_NOTE[chosen]
      ? t("说明（必填）")
      : t("说明");
    form.hidden = false;
    kit.setStatus(document.getElementById("case-action-status"), "", false);
    document.getElementById("case-action-note").focus();
  }

  function send(url, body, files) {
    if (!files || !files.length) {
      return kit.postJson(url, body, config.csrfToken);
    }
    var data = new FormData();
    Object.keys(body).forEach(function (key) {
      if (body[key] !== null && body[key] !== undefined && body[key] !== "") {
        data.append(key, body[key]);
      }
    });
    Array.prototype.forEach.call(files, function (file) {
      data.append("photos", file);
    });
    return kit.postForm(url, data, config.csrfToken);
  }

  if (form) {
    Array.prototype.forEach.call(
      document.querySelectorAll("#case-actions button[data-action]"),
      function (button) {
        button.addEventListener("click", function () {
          choose(button);
        });
      }
    );
    document.getElementById("case-action-cancel").addEventListener("click", function () {
      form.hidden = true;
      chosen = null;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = document.getElementById("case-action-status");
      var note = document.getElementById("case-action-note").value.trim();
      if (NEEDS_NOTE[chosen] && !note) {
        kit.setStatus(status, t("请填写说明。"), true);
        return;
      }
      var url = config.stepsUrl;
      var body = { step: chosen, note: note || null };
      if (chosen === "escalated") {
        url = config.escalateUrl;
        body = { note: note };
      } else if (chosen === "note") {
        url = config.noteUrl;
        body = { note: note };
      } else if (chosen === "merged") {
        url = config.mergeUrl;
        body = { into: Number(document.getElementById("case-action-into").value), note: note || null };
      } else if (chosen === "dispatched") {
        var department = document.getElementById("case-action-department");
        var assignee = document.getElementById("case-action-assignee");
        if (department && department.value) {
          body.department = department.value;
        }
        if (assignee && assignee.value.trim()) {
          body.assignee = assignee.value.trim();
        }
      }
      var photos = document.getElementById("case-action-photos");
      var files = chosen === "handled" || chosen === "verified" ? photos.files : null;
      document.getElementById("case-action-submit").disabled = true;
      kit.setStatus(status, t("正在提交…"), false);
      send(url, body, files)
        .then(function () {
          window.location.reload();
        })
        .catch(function (error) {
          document.getElementById("case-action-submit").disabled = false;
          kit.setStatus(status, t("未能提交：") + error.message, true);
        });
    });
  }

  /* Photos and near-duplicates: routes that may not exist on this server (404: nothing). */
  function optional(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        return response.ok ? response.json() : null;
      }
    );
  }

  var pending = 2;
  function done() {
    pending -= 1;
    if (pending === 0) {
      document.body.setAttribute("data-case-drawn", "1");
    }
  }

  optional(config.photosUrl)
    .then(function (body) {
      var photos = body && (body.photos || body);
      if (photos && photos.length) {
        var box = document.getElementById("case-photos");
        photos.forEach(function (photo) {
          var img = document.createElement("img");
          img.src = photo.url || photo.thumbnail_url || photo.href;
          img.alt = t("事件照片");
          img.loading = "lazy";
          box.appendChild(img);
        });
        box.hidden = false;
      }
    })
    .catch(function () {})
    .then(done);

  optional(config.duplicatesUrl)
    .then(function (body) {
      var found = body && (body.duplicates || body.cases || body);
      if (found && found.length) {
        var list = document.getElementById("case-duplicates");
        found.forEach(function (c) {
          var item = document.createElement("li");
          var link = kit.text("a", null, "#" + c.id + " " + (c.category_name || c.category || ""));
          link.href = "/cases/" + encodeURIComponent(c.id);
          item.appendChild(link);
          var merge = document.querySelector('#case-actions button[data-action="merged"]');
          if (merge) {
            var into = kit.text("button", "button-plain", t("合并到该事件"));
            into.type = "button";
            into.setAttribute("data-into", String(c.id));
            into.addEventListener("click", function () {
              choose(merge);
              document.getElementById("case-action-into").value = String(c.id);
            });
            item.appendChild(into);
          }
          list.appendChild(item);
        });
        document.getElementById("case-duplicates-section").hidden = false;
      }
    })
    .catch(function () {})
    .then(done);
})();
