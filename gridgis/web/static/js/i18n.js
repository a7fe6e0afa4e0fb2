/*
 * gridgis translations for scripts: gridgis.t("户数") gives the text in the page's
 * language, gridgis.t("共 {n} 个网格", {n: 3}) fills {fields}. The page embeds its
 * catalog (Chinese text -> English) in <script id="gridgis-messages"> only when it is
 * in English; a Chinese page embeds {} and every text stays as written.
 * gridgis.language is "zh" or "en" (from <html lang>).
 */
(function () {
  "use strict";
  var gridgis = (window.gridgis = window.gridgis || {});
  var el = document.getElementById("gridgis-messages");
  var messages = el ? JSON.parse(el.textContent) : {};
  gridgis.language = (document.documentElement.lang || "zh").slice(0, 2) === "en" ? "en" : "zh";
  gridgis.t = function (message, values) {
    var text = Object.prototype.hasOwnProperty.call(messages, message) ? messages[message] : message;
    if (values) {
      text = text.replace(/\{(\w+)\}/g, function (whole, key) {
        return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
      });
    }
    return text;
  };
})();
