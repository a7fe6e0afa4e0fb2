/*
 * gridgis page kit: the small helpers every map page script shares, as
 * window.gridgis.kit (loaded by map_page.html after i18n.js and basemap.js, before the
 * page's own scripts).
 *
 *   var kit = window.gridgis.kit;
 *   var config = kit.config();                       // the page's #gridgis-config
 *   var map = kit.map(config.bounds);                // Leaflet map in #map, scale bar
 *   kit.setStatus(statusEl, message, isError);   // red when isError
 *   kit.postForm(url, formData, token)              // multipart, same answers as postJson
 *   kit.getJson(url + "?" + kit.query({ street: "350304001", since: "" }))
 *     .then(function (body) { ... });               // rejects with the API's error
 *   list.appendChild(kit.text("dd", null, name));   // text only, never markup
 *   kit.definitions(list, [[term, kit.number(1234)]]);
 *   kit.legend(legendEl, title, [{ colour: "#74c476", label: label }]);
 *
 * Every text goes in the page with textContent: a name holding markup shows as text.
 */
(function () {
  "use strict";

  var gridgis = (window.gridgis = window.gridgis || {});

  /* The page's settings: the JSON block #gridgis-config. */
  function config() {
    return JSON.parse(document.getElementById("gridgis-config").textContent);
  }

  /* An element with a class (or none) holding `content` as text (null: empty). */
  function text(tag, className, content) {
    var el = document.createElement(tag);
    if (className) {
      el.className = className;
    }
    el.textContent = content === null || content === undefined ? "" : String(content);
    return el;
  }

  /* Show a message in a status line (none on the page: nothing), red when it is an error. */
  function setStatus(el, message, isError) {
    if (!el) {
      return;
    }
    el.textContent = message;
    el.classList.toggle("status-error", Boolean(isError));
  }

  /* A query string of the parameters that have a value (null, undefined and "" left out). */
  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== null && value !== undefined && value !== "") {
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
      }
    });
    return parts.join("&");
  }

  /* The page's language (<html lang>), sent with every request so that the API's error
     messages come in it (the API answers English to a request that names none). */
  function language() {
    return document.documentElement.lang || "zh-CN";
  }

  /* GET a JSON answer of the app (`accept`: its media type, default application/json); a
     failed request rejects with the API's error message ("HTTP 500" when it gave none). */
  function getJson(url, accept) {
    var headers = { Accept: accept || "application/json", "Accept-Language": language() };
    return fetch(url, { credentials: "same-origin", headers: headers }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = body && body.error;
          throw new Error(error ? (error.message || String(error)) : "HTTP " + response.status);
        }
        return body;
      });
    });
  }

  /* POST `body` as JSON with the session's CSRF token `token` (the page embeds it in its
     configuration); the answer's JSON, or a rejection with the API's error message. */
  function postJson(url, body, token) {
    return post(url, JSON.stringify(body || {}), token, "application/json");
  }

  /* POST a FormData (multipart, e.g. with files) with the CSRF token; like postJson. */
  function postForm(url, data, token) {
    return post(url, data, token, null);
  }

  function post(url, payload, token, contentType) {
    var headers = {
      Accept: "application/json",
      "Accept-Language": language(),
      "X-CSRF-Token": token,
    };
    if (contentType) {
      headers["Content-Type"] = contentType;
    }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: payload,
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          var error = answer && answer.error;
          throw new Error(error ? error.message || String(error) : "HTTP " + response.status);
        }
        return answer;
      });
    });
  }

  /* A number in the page's language, `digits` decimals at most; "—" for no value. */
  function number(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) {
      return "—";
    }
    var lang = gridgis.language === "en" ? "en" : "zh-CN";
    return Number(value).toLocaleString(lang, { maximumFractionDigits: digits || 0 });
  }

  /* Fill a <dl> with [term, value] rows (what it held before is removed). */
  function definitions(el, rows) {
    el.textContent = "";
    rows.forEach(function (row) {
      el.appendChild(text("dt", null, row[0]));
      el.appendChild(text("dd", null, row[1]));
    });
    return el;
  }

  /* A map popup: a title line and a list of [term, value] rows. */
  function popup(title, rows) {
    var root = text("div", "cell-popup");
    root.appendChild(text("p", "cell-popup-code", title));
    root.appendChild(definitions(document.createElement("dl"), rows));
    return root;
  }

  /* A legend's colour square; no fill: the red dashed square of cells out of bounds. */
  function swatch(fill, className) {
    var el = document.createElement("span");
    el.className = "legend-swatch" + (className ? " " + className : "");
    if (fill) {
      el.style.backgroundColor = fill; /* CSSOM, allowed by the page's CSP */
    } else {
      el.classList.add("legend-out-of-bounds");
    }
    return el;
  }

  /* Draw a legend in `el`: a title and one line per {colour, label, className} entry. */
  function legend(el, title, entries) {
    el.textContent = "";
    el.appendChild(text("h2", null, title));
    var list = document.createElement("ul");
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      item.appendChild(swatch(entry.colour, entry.className));
      item.appendChild(document.createTextNode(entry.label));
      list.appendChild(item);
    });
    el.appendChild(list);
  }

  /* The page's Leaflet map in #map with a scale bar, fitted to `bounds` when given (the
     base map, if one is configured, is added by basemap.js). */
  function map(bounds) {
    var leafletMap = L.map("map", { zoomControl: true }).setView([35.0, 105.0], 4);
    L.control.scale({ imperial: false }).addTo(leafletMap);
    if (bounds) {
      leafletMap.fitBounds(bounds, { padding: [16, 16], animate: false });
    }
    return leafletMap;
  }

  gridgis.kit = {
    config: config,
    map: map,
    text: text,
    setStatus: setStatus,
    query: query,
    getJson: getJson,
    postJson: postJson,
    postForm: postForm,
    number: number,
    definitions: definitions,
    popup: popup,
    swatch: swatch,
    legend: legend,
  };
})();
