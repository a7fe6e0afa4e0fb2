/*
 * One 大走访 campaign (/party/campaigns/<id>): its cells coloured by the share of targets
 * visited (config.outlines, a GeoJSON FeatureCollection with share, targets, visited and
 * overdue per cell), and the assignment form (POST config.assignUrl).
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();
  var map = kit.map(null);
  var STEPS = [
    { upTo: 0.25, colour: "#fee5d9", label: "0–25%" },
    { upTo: 0.5, colour: "#fcae91", label: "25–50%" },
    { upTo: 0.75, colour: "#a1d99b", label: "50–75%" },
    { upTo: 1.01, colour: "#31a354", label: "75–100%" },
  ];

  function colour(share) {
    if (share === null || share === undefined) {
      return "#cccccc";
    }
    for (var i = 0; i < STEPS.length; i += 1) {
      if (share < STEPS[i].upTo) {
        return STEPS[i].colour;
      }
    }
    return STEPS[STEPS.length - 1].colour;
  }

  var layer = L.geoJSON(config.outlines, {
    style: function (feature) {
      return {
        color: "#555555",
        weight: 1,
        fillColor: colour(feature.properties.share),
        fillOpacity: 0.7,
      };
    },
    onEachFeature: function (feature, shape) {
      var p = feature.properties;
      shape.bindPopup(
        kit.popup(p.name || p.code, [
          [t("走访对象"), kit.number(p.targets)],
          [t("已走访"), kit.number(p.visited)],
          [t("走访率"), p.share === null ? "—" : Math.round(p.share * 100) + "%"],
          [t("超期未访"), kit.number(p.overdue)],
        ])
      );
    },
  }).addTo(map);
  if (layer.getLayers().length) {
    map.fitBounds(layer.getBounds(), { padding: [8, 8], animate: false });
  }
  kit.legend(
    document.getElementById("campaign-legend"),
    t("走访率"),
    STEPS.map(function (step) {
      return { colour: step.colour, label: step.label };
    })
  );

  var form = document.getElementById("assign-form");
  if (form) {
    var status = document.getElementById("assign-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = document.getElementById("assign-visitor").value.split(":");
      var body = { cell: document.getElementById("assign-cell").value };
      if (chosen[0] === "user") {
        body.user = chosen.slice(1).join(":");
      } else {
        body[chosen[0]] = Number(chosen[1]);
      }
      kit.setStatus(status, t("正在提交…"), false);
      kit
        .postJson(config.assignUrl, body, config.csrfToken)
        .then(function (answer) {
          kit.setStatus(status, t("已分配 {n} 个走访对象。", { n: answer.assigned }), false);
          document.body.setAttribute("data-assigned", String(answer.assigned));
        })
        .catch(function (error) {
          kit.setStatus(status, t("未能提交：") + error.message, true);
        });
    });
  }
  document.body.setAttribute("data-campaign-drawn", "1");
})();
