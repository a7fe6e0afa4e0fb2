/*
 * The ledger page (/party/ledger): 转为事件 posts POST /api/party/ledger/<id>/case, 销号
 * asks for a note and posts POST /api/party/ledger/<id>/clear; the page is read again.
 */
(function () {
  "use strict";

  var kit = window.gridgis.kit;
  var t = window.gridgis.t;
  var config = kit.config();
  var status = document.getElementById("ledger-status");

  function url(template, id) {
    return template.replace(/\/0\/(case|clear)$/, "/" + encodeURIComponent(id) + "/$1");
  }

  function done() {
    window.location.reload();
  }

  function failed(error) {
    kit.setStatus(status, t("未能提交：") + error.message, true);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".ledger-file"), function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      kit.setStatus(status, t("正在提交…"), false);
      kit
        .postJson(url(config.caseUrl, button.dataset.entry), {}, config.csrfToken)
        .then(done)
        .catch(function (error) {
          button.disabled = false;
          failed(error);
        });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll(".ledger-clear"), function (button) {
    button.addEventListener("click", function () {
      var note = window.prompt(t("如何解决的？（必填）"));
      if (!note || !note.trim()) {
        kit.setStatus(status, t("请填写说明。"), true);
        return;
      }
      kit
        .postJson(url(config.clearUrl, button.dataset.entry), { note: note.trim() }, config.csrfToken)
        .then(done)
        .catch(failed);
    });
  });

  document.body.setAttribute("data-ledger-ready", "1");
})();
