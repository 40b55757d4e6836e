/*
 * 配配メールコネクタ kintone プラグイン — record list.
 *
 * Adds 「配配メールへ連携」 beside the list's menu. Pressing it shows how many records the view's
 * filter holds, asks which 顧客情報連携設定 to run, then asks the portal (through kintone's plugin
 * proxy, which adds the plugin token stored by the settings screen) to run 顧客情報連携
 * (kintoneからの実行) with that filter. The run's status is polled until it ends; a second press
 * while a run is under way shows that run instead of starting another.
 */
(function (PLUGIN_ID) {
  "use strict";

  var API_PATH = "/inbound/kintone-plugin/v1/";
  var POLL_FAST_MS = 3000;
  var POLL_SLOW_MS = 10000;
  var FAST_FOR_MS = 60000;
  var BUTTON_ID = "hai2-connect-run-button";
  var STATUS_ID = "hai2-connect-status";
  var STORAGE_PREFIX = "hai2-connect-task:";
  var BADGES = { queued: "待機中", running: "処理中", succeeded: "成功", failed: "エラー" };

  var config = kintone.plugin.app.getConfig(PLUGIN_ID) || {};
  var settings = parseSettings(config.settings);
  if (!config.portalUrl || settings.length === 0) {
    return;
  }
  var apiBase = config.portalUrl.replace(/\/+$/, "") + API_PATH;
  var busy = false; // true from the press until the run it started (or found) has ended
  var pollTimer = null;

  function parseSettings(text) {
    try {
      var parsed = JSON.parse(text || "[]");
      return Array.isArray(parsed) ? parsed.filter(function (s) { return s && s.number; }) : [];
    } catch (error) {
      return [];
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- talking to the portal through kintone's proxy ---------------------------------------

  function callPortal(method, path, body) {
    var headers = method === "POST" ? { "Content-Type": "application/json" } : {};
    var data = method === "POST" ? JSON.stringify(body || {}) : {};
    return kintone.plugin.app.proxy(PLUGIN_ID, apiBase + path, method, headers, data).then(
      function (answer) {
        var parsed = null;
        try {
          parsed = JSON.parse(answer[0]);
        } catch (error) {
          parsed = null;
        }
        return { status: answer[1], body: parsed };
      },
      function () {
        return { status: 0, body: null };
      }
    );
  }

  function errorMessage(answer) {
    if (answer.body && answer.body.error && answer.body.error.message) {
      return answer.body.error.message;
    }
    if (answer.status === 0) {
      return "配配メールコネクタに接続できません。プラグインの設定で配配メールコネクタのURLを確認してください。";
    }
    return "配配メールコネクタから予期しない応答がありました（HTTP " + answer.status + "）。" +
      "プラグインの設定で配配メールコネクタのURLを確認してください。";
  }

  function countRecords(appId, condition) {
    var query = (condition ? condition + " " : "") + "limit 1";
    return kintone.api(kintone.api.url("/k/v1/records", true), "GET", {
      app: appId, query: query, fields: ["$id"], totalCount: true
    }).then(function (resp) {
      return Number(resp.totalCount);
    }, function () {
      return null;
    });
  }

  // --- the confirmation dialog ---------------------------------------------------------------

  function confirmRun(count) {
    return new Promise(function (resolve) {
      var overlay = el("div", "hai2-overlay");
      var dialog = el("div", "hai2-dialog");
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-labelledby", "hai2-dialog-title");
      var title = el("h2", null, "配配メールへ連携");
      title.id = "hai2-dialog-title";
      dialog.appendChild(title);
      var counted = count === null
        ? "この一覧の絞り込み条件に合うレコードを配配メールへ連携します。（件数を取得できませんでした）"
        : "この一覧の絞り込み条件に合うレコード " + count.toLocaleString("ja-JP") + " 件を配配メールへ連携します。";
      var text = el("p", "hai2-dialog-count", counted);
      dialog.appendChild(text);
      if (count === 0) {
        dialog.appendChild(el("p", "hai2-dialog-note",
          "連携するレコードがありません。実行すると、処理件数 0 件で終了します。"));
      }
      var select = el("select");
      select.id = "hai2-dialog-setting";
      settings.forEach(function (setting) {
        var option = el("option", null, setting.name + (setting.description ? "（" + setting.description + "）" : ""));
        option.value = String(setting.number);
        select.appendChild(option);
      });
      var label = el("label", null, "実行する顧客情報連携設定");
      label.htmlFor = select.id;
      dialog.appendChild(label);
      dialog.appendChild(select);
      if (settings.length === 1) {
        select.disabled = true;
      }
      dialog.appendChild(el("p", null, "よろしいですか？"));
      var actions = el("div", "hai2-dialog-actions");
      var cancel = el("button", "hai2-cancel", "キャンセル");
      var ok = el("button", "hai2-ok", "連携する");
      cancel.type = ok.type = "button";
      actions.appendChild(cancel);
      actions.appendChild(ok);
      dialog.appendChild(actions);
      overlay.appendChild(dialog);
      document.body.appendChild(overlay);
      ok.focus();

      var done = false;
      function finish(answer) {
        if (done) return; // a double click on 「連携する」 answers once
        done = true;
        overlay.parentNode.removeChild(overlay);
        resolve(answer);
      }
      ok.addEventListener("click", function () { finish(Number(select.value)); });
      cancel.addEventListener("click", function () { finish(null); });
      overlay.addEventListener("keydown", function (event) {
        if (event.key === "Escape") finish(null);
      });
    });
  }

  // --- the status panel ----------------------------------------------------------------------

  function statusPanel() {
    var panel = document.getElementById(STATUS_ID);
    if (panel) return panel;
    panel = el("div", "hai2-status");
    panel.id = STATUS_ID;
    panel.setAttribute("role", "status");
    panel.setAttribute("aria-live", "polite");
    var space = kintone.app.getHeaderSpaceElement() || document.body;
    space.appendChild(panel);
    return panel;
  }

  function closeButton(panel) {
    var close = el("button", "hai2-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "閉じる");
    close.addEventListener("click", function () {
      if (panel.parentNode) panel.parentNode.removeChild(panel);
    });
    return close;
  }

  function showMessage(text, failed) {
    var panel = statusPanel();
    panel.textContent = "";
    panel.appendChild(el("span", "hai2-status-title", "配配メールへの連携"));
    if (failed) {
      panel.appendChild(el("span", "hai2-badge hai2-badge-failed", "エラー"));
      panel.appendChild(el("div", "hai2-error-detail hai2-status-message", text));
      panel.appendChild(closeButton(panel));
    } else {
      panel.appendChild(el("div", "hai2-status-line hai2-status-message", text));
    }
  }

  function showRun(run, note) {
    var panel = statusPanel();
    panel.textContent = "";
    panel.dataset.status = run.status;
    panel.appendChild(el("span", "hai2-status-title", "配配メールへの連携"));
    panel.appendChild(el("span", "hai2-badge hai2-badge-" + run.status, BADGES[run.status] || run.status_label));
    if (note) panel.appendChild(el("div", "hai2-status-line hai2-status-note", note));
    panel.appendChild(el("div", "hai2-status-line", run.log_name));
    panel.appendChild(el("div", "hai2-status-line hai2-count", "処理件数: " + run.processed + " / " + run.total));
    if (run.status === "running") {
      var bar = el("div", "hai2-progress-bar");
      bar.style.width = Math.floor((run.progress || 0) * 100) + "%";
      var track = el("div", "hai2-progress");
      track.appendChild(bar);
      panel.appendChild(track);
    }
    if (run.status === "succeeded") {
      panel.appendChild(el("div", "hai2-status-line", run.total === 0
        ? "連携条件に該当するkintoneのデータが0件でした。配配メールへの連携は行われていません。"
        : "連携が完了しました。配配メールの［一括登録・削除の処理結果］で詳細結果をご確認ください。"));
    }
    if (run.status === "failed") {
      panel.appendChild(el("div", "hai2-error-title", "エラー詳細"));
      panel.appendChild(el("div", "hai2-error-detail", run.error_detail || ""));
    }
    panel.appendChild(el("div", "hai2-task-id", "タスクID:" + run.task_id));
    if (run.finished) panel.appendChild(closeButton(panel));
  }

  // --- the button ----------------------------------------------------------------------------

  function setBusy(value) {
    busy = value;
    var button = document.getElementById(BUTTON_ID);
    if (button) {
      button.disabled = value;
      button.textContent = value ? "連携中…" : "配配メールへ連携";
    }
  }

  function storageKey() {
    return STORAGE_PREFIX + kintone.app.getId();
  }

  function follow(taskId, startedAt) {
    if (pollTimer) clearTimeout(pollTimer);
    var begun = startedAt || Date.now();
    var delay = Date.now() - begun < FAST_FOR_MS ? POLL_FAST_MS : POLL_SLOW_MS;
    pollTimer = setTimeout(function () {
      callPortal("GET", "runs/" + encodeURIComponent(taskId)).then(function (answer) {
        if (answer.status === 200 && answer.body) {
          showRun(answer.body);
          if (answer.body.finished) {
            sessionStorage.removeItem(storageKey());
            setBusy(false);
            return;
          }
          follow(taskId, begun);
          return;
        }
        if (answer.status === 429 || answer.status === 0 || answer.status >= 500) {
          follow(taskId, begun - FAST_FOR_MS); // try again, slowly
          return;
        }
        sessionStorage.removeItem(storageKey());
        showMessage(errorMessage(answer), true);
        setBusy(false);
      });
    }, delay);
  }

  function press() {
    if (busy) return;
    setBusy(true);
    var appId = kintone.app.getId();
    var condition = kintone.app.getQueryCondition() || "";
    countRecords(appId, condition).then(confirmRun).then(function (number) {
      if (number === null) {
        setBusy(false);
        return null;
      }
      showMessage("連携を開始しています…", false);
      return callPortal("POST", "runs", { app: String(appId), setting: number, condition: condition })
        .then(function (answer) {
          if ((answer.status === 202 || answer.status === 200) && answer.body) {
            var run = answer.body;
            showRun(run, run.already_running
              ? "実行中の連携があります。新しい連携は開始せず、実行中の連携の状況を表示しています。"
              : null);
            sessionStorage.setItem(storageKey(), run.task_id);
            follow(run.task_id);
            return null;
          }
          showMessage(errorMessage(answer), true);
          setBusy(false);
          return null;
        });
    });
  }

  function addButton() {
    if (document.getElementById(BUTTON_ID)) return;
    var space = kintone.app.getHeaderMenuSpaceElement();
    if (!space) return;
    var button = el("button", "hai2-run-button", "配配メールへ連携");
    button.id = BUTTON_ID;
    button.type = "button";
    button.addEventListener("click", press);
    space.appendChild(button);
    setBusy(busy);
  }

  kintone.events.on("app.record.index.show", function (event) {
    addButton();
    // Back on the list while a run started from it is still going: keep showing it.
    var taskId = sessionStorage.getItem(storageKey());
    if (taskId && !busy) {
      setBusy(true);
      follow(taskId);
    }
    return event;
  });
})(kintone.$PLUGIN_ID);
