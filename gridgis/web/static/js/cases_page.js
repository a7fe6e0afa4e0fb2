/*
 * The list of cases (/cases): the page's cases as pins on the map, each linking to its page.
 * The list itself is drawn by the server; this only adds the map.
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var config = kit.config();
  var map = kit.map(null);
  var pins = [];
  config.points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], { radius: 7, color: "#1f5f8b", weight: 2 });
    var link = kit.text("a", null, "#" + p.id + " " + p.title);
    link.href = p.url;
    marker.bindPopup(link);
    marker.addTo(map);
    pins.push([p.lat, p.lon]);
  });
  if (pins.length) {
    map.fitBounds(pins, { padding: [24, 24], maxZoom: 17, animate: false });
  }
  document.body.setAttribute("data-cases-drawn", String(pins.length));
})();
