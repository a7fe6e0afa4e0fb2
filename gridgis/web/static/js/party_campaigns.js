/*
 * The 大走访 campaigns page (/party/campaigns): the form to create a campaign, posted to
 * POST /api/party/campaigns; the new campaign's page is opened when it is stored.
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();
  var form = document.getElementById("campaign-form");
  if (!form) {
    return;
  }
  var status = document.getElementById("campaign-status");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var rules = Array.prototype.map.call(
      form.querySelectorAll("input[name=rules]:checked"),
      function (box) {
        return box.value;
      }
    );
    var buildings = document
      .getElementById("campaign-buildings")
      .value.split(/[,，\s]+/)
      .filter(function (v) {
        return v !== "";
      })
      .map(Number);
    var body = {
      name: document.getElementById("campaign-name").value.trim(),
      area: document.getElementById("campaign-area").value.trim(),
      starts_on: document.getElementById("campaign-starts").value,
      ends_on: document.getElementById("campaign-ends").value,
      rules: rules,
      buildings: buildings,
    };
    if (!body.name || !body.area || !body.starts_on || !body.ends_on) {
      kit.setStatus(status, t("请填写名称、范围和日期。"), true);
      return;
    }
    document.getElementById("campaign-submit").disabled = true;
    kit.setStatus(status, t("正在提交…"), false);
    kit
      .postJson(config.campaignsUrl, body, config.csrfToken)
      .then(function (created) {
        window.location.assign("/party/campaigns/" + encodeURIComponent(created.id));
      })
      .catch(function (error) {
        document.getElementById("campaign-submit").disabled = false;
        kit.setStatus(status, t("未能提交：") + error.message, true);
      });
  });
})();
