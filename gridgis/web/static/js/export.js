/*
 * The export page (/export): cases and inspections (the exports that grow to hundreds of
 * thousands of rows), the 大走访 visits and ledger and the 三零 figures run as background jobs. The form's submit starts one
 * (POST /api/export/<what>.<fmt>/jobs), a <progress> shows the rows written (polled from
 * the job's status route), and a download link appears when it is done; the page stays
 * usable meanwhile. Cells and statistics, and a page without scripts, download directly.
 *
 * Sets #export-job[data-state] to the job's state. Text goes in with textContent only.
 */
(function () {
  "use strict";

  var gridgis = window.gridgis;
  var t = gridgis.t;
  var BACKGROUND = ["cases", "inspections", "visits", "ledger", "sanling"];
  var AREA_PARAMETERS = { 6: "district", 9: "street", 12: "community" };
  var TEXT_FORMATS = ["shp", "csv"];

  var form = document.getElementById("export-form");
  var panel = document.getElementById("export-job");
  var bar = document.getElementById("export-progress");
  var messageEl = document.getElementById("export-job-message");
  var link = document.getElementById("export-job-link");
  var cancelButton = document.getElementById("export-job-cancel");
  var token = JSON.parse(document.getElementById("gridgis-config").textContent).csrf_token;
  var current = null;

  function value(name) {
    var field = form.elements[name];
    return field ? String(field.value || "").trim() : "";
  }

  /* The export API's parameters for the form's choices (as /export/download sends them). */
  function parameters(what, fmt) {
    var params = new URLSearchParams();
    var area = value("area");
    if (area) {
      params.set(AREA_PARAMETERS[area.length], area);
    }
    ["from", "to", "crs"].forEach(function (name) {
      if (value(name)) {
        params.set(name, value(name));
      }
    });
    if (TEXT_FORMATS.indexOf(fmt) >= 0 && value("encoding")) {
      params.set("encoding", value("encoding"));
    }
    if (what === "stats" && value("level")) {
      params.set("level", value("level"));
    }
    if ((fmt === "csv" || fmt === "xlsx") && value("headers")) {
      params.set("headers", value("headers"));
    }
    return params.toString();
  }

  function request(method, url) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Accept-Language": document.documentElement.lang || "zh-CN",
        "X-CSRF-Token": token,
      },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = body && body.error;
          throw new Error(error ? error.message || String(error) : "HTTP " + response.status);
        }
        return body;
      });
    });
  }

  function show(status) {
    panel.hidden = false;
    panel.setAttribute("data-state", status.state);
    cancelButton.hidden = status.state !== "queued" && status.state !== "running";
    link.hidden = status.state !== "done";
    if (status.percent === null || status.percent === undefined) {
      bar.removeAttribute("value");
    } else {
      bar.value = status.percent;
    }
    var text = "";
    if (status.state === "queued") {
      text = t("排队中…");
    } else if (status.state === "running") {
      text = status.total
        ? t("已写入 {done} / {total} 行", { done: status.done, total: status.total })
        : status.message || "";
    } else if (status.state === "done") {
      text = t("导出完成：");
      link.href = status.download_url;
      link.textContent = status.file_name;
    } else if (status.state === "failed") {
      text = t("导出失败：{error}", { error: status.error || "" });
    } else {
      text = t("导出已取消");
    }
    messageEl.textContent = text;
  }

  function poll(job) {
    if (current !== job.id) {
      return;
    }
    request("GET", job.status_url)
      .then(function (status) {
        show(status);
        if (status.state === "queued" || status.state === "running") {
          window.setTimeout(function () { poll(job); }, 700);
        }
      })
      .catch(function (error) {
        messageEl.textContent = t("无法获取进度：{error}", { error: String(error.message) });
        window.setTimeout(function () { poll(job); }, 3000);
      });
  }

  form.addEventListener("submit", function (event) {
    var what = value("what");
    var fmt = value("fmt");
    if (BACKGROUND.indexOf(what) < 0) {
      return; /* a small export: the direct download */
    }
    event.preventDefault();
    var query = parameters(what, fmt);
    var url = "/api/export/" + what + "." + fmt + "/jobs" + (query ? "?" + query : "");
    show({ state: "queued", percent: null });
    request("POST", url)
      .then(function (job) {
        current = job.id;
        show(job);
        poll(job);
      })
      .catch(function (error) {
        show({ state: "failed", percent: null, error: String(error.message) });
      });
  });

  cancelButton.addEventListener("click", function () {
    if (current === null) {
      return;
    }
    request("DELETE", "/api/jobs/" + current).then(show).catch(function (error) {
      messageEl.textContent = String(error.message);
    });
  });
})();
