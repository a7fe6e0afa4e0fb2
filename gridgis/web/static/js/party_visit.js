/*
 * The visit form (/party/visits/new?target=): the phone's position (navigator.geolocation),
 * a note, one problem found and photos, posted to POST /api/party/visits (JSON, or
 * multipart with `photos`); back to the visitor's list when it is stored.
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();
  var where = document.getElementById("visit-where");
  var status = document.getElementById("visit-status");
  var point = null;

  document.getElementById("visit-gps").addEventListener("click", function () {
    if (!navigator.geolocation) {
      kit.setStatus(where, t("此设备不支持定位。"), true);
      return;
    }
    kit.setStatus(where, t("正在定位…"), false);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        point = {
          lon: position.coords.longitude,
          lat: position.coords.latitude,
          accuracy: position.coords.accuracy,
        };
        kit.setStatus(
          where,
          t("当前定位：") + " " + point.lat.toFixed(6) + ", " + point.lon.toFixed(6),
          false
        );
        document.body.setAttribute("data-visit-point", "1");
      },
      function (error) {
        kit.setStatus(where, t("定位失败：") + error.message, true);
      },
      { enableHighAccuracy: true, timeout: 15000 }
    );
  });

  function post(body, files) {
    if (!files || !files.length) {
      return kit.postJson(config.visitsUrl, body, config.csrfToken);
    }
    var data = new FormData();
    Object.keys(body).forEach(function (key) {
      data.append(key, String(body[key]));
    });
    Array.prototype.forEach.call(files, function (file) {
      data.append("photos", file);
    });
    return kit.postForm(config.visitsUrl, data, config.csrfToken);
  }

  document.getElementById("visit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var category = document.getElementById("visit-problem-category").value;
    var problem = document.getElementById("visit-problem-description").value.trim();
    var note = document.getElementById("visit-note").value.trim();
    var files = document.getElementById("visit-photos").files;
    if (category && !problem) {
      kit.setStatus(status, t("请描述发现的问题。"), true);
      return;
    }
    if (problem && !category) {
      kit.setStatus(status, t("请选择问题类别。"), true);
      return;
    }
    if (files && files.length > config.maxPhotos) {
      kit.setStatus(status, t("照片最多 9 张。"), true);
      return;
    }
    var body = { target: config.target };
    if (point) {
      body.lon = point.lon;
      body.lat = point.lat;
      if (point.accuracy !== null && point.accuracy !== undefined) {
        body.accuracy = point.accuracy;
      }
    }
    if (note) {
      body.note = note;
    }
    if (category) {
      body.problem_category = category;
      body.problem_description = problem;
    }
    document.getElementById("visit-submit").disabled = true;
    kit.setStatus(status, t("正在提交…"), false);
    post(body, files)
      .then(function () {
        window.location.assign(config.doneUrl + "?done=1");
      })
      .catch(function (error) {
        document.getElementById("visit-submit").disabled = false;
        kit.setStatus(status, t("未能提交：") + error.message, true);
      });
  });

  document.body.setAttribute("data-visit-form-ready", "1");
})();
