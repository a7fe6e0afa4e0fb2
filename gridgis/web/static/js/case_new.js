/*
 * The filing form (/cases/new): the point comes from a click on the map, the phone's
 * position (navigator.geolocation) or an address whose match (GET /api/geocode) is shown
 * before saving. Filed by POST /api/cases: JSON, or multipart with `photos` when photos
 * are chosen (at most config.maxPhotos). The new case's page is opened when it is stored.
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();
  var map = kit.map(config.bounds);
  var where = document.getElementById("case-where");
  var matchLine = document.getElementById("case-match");
  var status = document.getElementById("case-status");
  var point = null; /* {lon, lat} chosen on the map or by GPS */
  var marker = null;
  var matched = null; /* the address the geocoder matched, when it is the chosen place */

  function setPoint(lat, lon, how) {
    point = { lat: lat, lon: lon };
    matched = null;
    if (marker) {
      marker.setLatLng([lat, lon]);
    } else {
      marker = L.circleMarker([lat, lon], { radius: 9, color: "#d9480f", weight: 3 }).addTo(map);
    }
    kit.setStatus(where, how + " " + lat.toFixed(6) + ", " + lon.toFixed(6), false);
    document.body.setAttribute("data-case-point", "1");
  }

  map.on("click", function (event) {
    setPoint(event.latlng.lat, event.latlng.lng, t("已在地图上选点："));
  });

  document.getElementById("case-gps").addEventListener("click", function () {
    if (!navigator.geolocation) {
      kit.setStatus(where, t("此设备不支持定位。"), true);
      return;
    }
    kit.setStatus(where, t("正在定位…"), false);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var lat = position.coords.latitude;
        var lon = position.coords.longitude;
        setPoint(lat, lon, t("当前定位："));
        map.setView([lat, lon], 17, { animate: false });
      },
      function (error) {
        kit.setStatus(where, t("定位失败：") + error.message, true);
      },
      { enableHighAccuracy: true, timeout: 15000 }
    );
  });

  document.getElementById("case-lookup").addEventListener("click", function () {
    var address = document.getElementById("case-address").value.trim();
    if (!address) {
      kit.setStatus(matchLine, t("请先输入地址。"), true);
      return;
    }
    kit.setStatus(matchLine, t("正在查找…"), false);
    kit
      .getJson(config.geocodeUrl + "?" + kit.query({ address: address }))
      .then(function (found) {
        if (found.lon === null || found.lat === null) {
          kit.setStatus(matchLine, t("未找到匹配的地址。"), true);
          return;
        }
        var text =
          t("匹配到：") +
          (found.building_address || "") +
          (found.cell_code ? " · " + t("网格") + " " + found.cell_code : "") +
          " · " +
          t("匹配度") +
          " " +
          Math.round((found.match_score || 0) * 100) +
          "%";
        kit.setStatus(matchLine, text, false);
        setPoint(found.lat, found.lon, t("地址所在位置："));
        matched = address;
        map.setView([found.lat, found.lon], 17, { animate: false });
      })
      .catch(function (error) {
        kit.setStatus(matchLine, t("查找失败：") + error.message, true);
      });
  });

  function post(body, files) {
    if (!files || !files.length) {
      return kit.postJson(config.casesUrl, body, config.csrfToken);
    }
    var data = new FormData();
    Object.keys(body).forEach(function (key) {
      data.append(key, String(body[key]));
    });
    Array.prototype.forEach.call(files, function (file) {
      data.append("photos", file);
    });
    return kit.postForm(config.casesUrl, data, config.csrfToken);
  }

  document.getElementById("case-new-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var category = document.getElementById("case-category").value;
    var address = document.getElementById("case-address").value.trim();
    var description = document.getElementById("case-description").value.trim();
    var files = document.getElementById("case-photos").files;
    if (!category) {
      kit.setStatus(status, t("请选择类别。"), true);
      return;
    }
    if (!point && !address) {
      kit.setStatus(status, t("请选择位置或输入地址。"), true);
      return;
    }
    if (files && files.length > config.maxPhotos) {
      kit.setStatus(status, t("照片最多 9 张。"), true);
      return;
    }
    var body = { category: category, source: "web" };
    if (point && matched === null) {
      body.lon = point.lon;
      body.lat = point.lat;
      if (address) {
        body.address = address;
      }
    } else {
      body.address = address;
    }
    if (description) {
      body.description = description;
    }
    document.getElementById("case-submit").disabled = true;
    kit.setStatus(status, t("正在提交…"), false);
    post(body, files)
      .then(function (filed) {
        window.location.assign("/cases/" + encodeURIComponent(filed.id));
      })
      .catch(function (error) {
        document.getElementById("case-submit").disabled = false;
        kit.setStatus(status, t("未能提交：") + error.message, true);
      });
  });

  document.body.setAttribute("data-case-form-ready", "1");
})();
