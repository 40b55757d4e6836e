/*
 * 配配メールコネクタ kintone プラグイン — settings screen.
 *
 * Saves the portal URL and the chosen 顧客情報連携設定 with setConfig, and the plugin token only
 * with setProxyConfig (as an Authorization header kintone adds to proxy calls under the portal's
 * plugin API URL), so the record list's scripts never see the token.
 */
(function (PLUGIN_ID) {
  "use strict";

  var API_PATH = "/inbound/kintone-plugin/v1/";
  var METHODS = ["GET", "POST"];
  var URL_PATTERN = /^(https:\/\/[^\s\/?#]+|http:\/\/(127\.0\.0\.1|localhost)(:\d+)?)(\/[^\s?#]*)?$/;
  var TOKEN_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
  var MSG = {
    urlRequired: "配配メールコネクタのURLを入力してください。",
    urlFormat: "配配メールコネクタのURLは https:// で始まる形式で入力してください。（例: https://portal.example.com/）",
    tokenRequired: "配配メールコネクタ kintone プラグイン用トークンを入力してください。",
    tokenFormat: "トークンの形式が正しくありません。連携設定画面（Step1）で発行したトークンをそのまま貼り付けてください。",
    settingsRequired: "実行する顧客情報連携設定を1つ以上選択してください。",
    settingsNotLoaded: "「接続を確認」を押して、実行する顧客情報連携設定を選択してください。",
    unreachable: "配配メールコネクタに接続できません。URLを確認してください。",
    checking: "接続を確認しています…",
    saveFailed: "設定を保存できませんでした。時間を置いて再度お試しください。"
  };

  var stored = kintone.plugin.app.getConfig(PLUGIN_ID) || {};
  var form = document.getElementById("hai2-config-form");
  var urlInput = document.getElementById("hai2-portal-url");
  var tokenInput = document.getElementById("hai2-token");
  var settingsBox = document.getElementById("hai2-settings");
  var result = document.getElementById("hai2-check-result");
  var loadedSettings = null; // the connector's settings once 「接続を確認」 succeeded
  var appMatches = false; // this app is the connector's Step3 app
  var chosen = parseNumbers(stored.settings);

  function parseNumbers(text) {
    try {
      var parsed = JSON.parse(text || "[]");
      return Array.isArray(parsed) ? parsed.map(function (s) { return s.number; }) : [];
    } catch (error) {
      return [];
    }
  }

  function apiBase(url) {
    return url.replace(/\/+$/, "") + API_PATH;
  }

  function storedAuthorization(url) {
    if (!url) return null;
    var saved = kintone.plugin.app.getProxyConfig(apiBase(url), "POST");
    return saved && saved.headers && saved.headers.Authorization ? saved.headers.Authorization : null;
  }

  function showError(id, message) {
    var box = document.getElementById(id);
    box.textContent = message || "";
    var input = box.parentNode.querySelector("input.hai2-input");
    if (input) {
      input.classList.toggle("hai2-invalid", Boolean(message));
      input.setAttribute("aria-invalid", message ? "true" : "false");
    }
  }

  function checkUrl() {
    var url = urlInput.value.trim();
    if (!url) return MSG.urlRequired;
    if (!URL_PATTERN.test(url)) return MSG.urlFormat;
    return "";
  }

  function checkToken(url) {
    var token = tokenInput.value.trim();
    if (!token) return storedAuthorization(url) ? "" : MSG.tokenRequired;
    if (!TOKEN_PATTERN.test(token)) return MSG.tokenFormat;
    return "";
  }

  function authorizationFor(url) {
    var token = tokenInput.value.trim();
    return token ? "Bearer " + token : storedAuthorization(url);
  }

  function renderSettings(list) {
    settingsBox.textContent = "";
    if (list.length === 0) {
      var none = document.createElement("p");
      none.className = "hai2-note";
      none.textContent = "この連携設定には顧客情報連携設定がありません。配配メールコネクタの連携設定画面（Step5）で登録してください。";
      settingsBox.appendChild(none);
      return;
    }
    list.forEach(function (setting) {
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = "setting";
      box.value = String(setting.number);
      box.disabled = !setting.runnable;
      box.checked = setting.runnable && chosen.indexOf(setting.number) >= 0;
      label.appendChild(box);
      label.appendChild(document.createTextNode(setting.name));
      var detail = document.createElement("span");
      detail.className = "hai2-setting-detail";
      detail.textContent = setting.description + (setting.runnable ? "" : "（連携しない）");
      label.appendChild(detail);
      if (!setting.runnable) label.className = "hai2-off";
      settingsBox.appendChild(label);
    });
  }

  function checkConnection(quiet) {
    var url = urlInput.value.trim();
    var urlError = checkUrl();
    var tokenError = urlError ? "" : checkToken(url);
    if (!quiet) {
      showError("hai2-portal-url-error", urlError);
      showError("hai2-token-error", tokenError);
    }
    if (urlError || tokenError) return Promise.resolve(false);
    result.className = "hai2-result";
    result.textContent = MSG.checking;
    var headers = { Authorization: authorizationFor(url) };
    var target = apiBase(url) + "connection?app=" + encodeURIComponent(kintone.app.getId());
    return kintone.plugin.app.proxy(PLUGIN_ID, target, "GET", headers, {}).then(function (answer) {
      var body = null;
      try { body = JSON.parse(answer[0]); } catch (error) { body = null; }
      if (answer[1] === 200 && body && body.connector) {
        loadedSettings = body.settings;
        appMatches = body.app.matches;
        renderSettings(body.settings);
        if (!body.app.matches) {
          result.className = "hai2-result hai2-result-ng";
          result.textContent = "連携設定「" + body.connector.name + "」に接続できましたが、このアプリ（アプリID: " +
            kintone.app.getId() + "）は連携先のkintoneアプリ（Step3）ではありません。" +
            "連携先のアプリにプラグインを設定してください。";
          return false;
        }
        result.className = "hai2-result hai2-result-ok";
        result.textContent = "接続できました。連携設定: " + body.connector.name;
        return true;
      }
      result.className = "hai2-result hai2-result-ng";
      result.textContent = body && body.error ? body.error.message : MSG.unreachable;
      return false;
    }, function () {
      result.className = "hai2-result hai2-result-ng";
      result.textContent = MSG.unreachable;
      return false;
    });
  }

  function selectedSettings() {
    var boxes = settingsBox.querySelectorAll("input[name=setting]:checked");
    var numbers = Array.prototype.map.call(boxes, function (box) { return Number(box.value); });
    return (loadedSettings || []).filter(function (s) { return numbers.indexOf(s.number) >= 0; })
      .map(function (s) { return { number: s.number, name: s.name, description: s.description }; });
  }

  function setProxy(url, method, headers) {
    return new Promise(function (resolve) {
      kintone.plugin.app.setProxyConfig(url, method, headers, {}, resolve);
    });
  }

  function save(event) {
    event.preventDefault();
    var url = urlInput.value.trim();
    var urlError = checkUrl();
    var tokenError = urlError ? "" : checkToken(url);
    var chosenSettings = selectedSettings();
    var settingsError = loadedSettings === null ? MSG.settingsNotLoaded
      : (chosenSettings.length === 0 ? MSG.settingsRequired : "");
    showError("hai2-portal-url-error", urlError);
    showError("hai2-token-error", tokenError);
    showError("hai2-settings-error", settingsError);
    showError("hai2-save-error", loadedSettings !== null && !appMatches ? result.textContent : "");
    if (urlError || tokenError || settingsError || (loadedSettings !== null && !appMatches)) return;
    var authorization = authorizationFor(url) || storedAuthorization(stored.portalUrl);
    var base = apiBase(url);
    var steps = METHODS.map(function (method) {
      return function () { return setProxy(base, method, { Authorization: authorization }); };
    });
    if (stored.portalUrl && apiBase(stored.portalUrl) !== base) {
      // The token must not stay stored for a URL the plugin no longer calls.
      METHODS.forEach(function (method) {
        steps.push(function () { return setProxy(apiBase(stored.portalUrl), method, {}); });
      });
    }
    var chain = Promise.resolve();
    steps.forEach(function (step) { chain = chain.then(step); });
    chain.then(function () {
      kintone.plugin.app.setConfig({ portalUrl: url, settings: JSON.stringify(chosenSettings) });
    }, function () {
      showError("hai2-save-error", MSG.saveFailed);
    });
  }

  urlInput.value = stored.portalUrl || "";
  if (storedAuthorization(stored.portalUrl)) {
    tokenInput.placeholder = "設定済み（変更する場合のみ入力してください）";
  }
  document.getElementById("hai2-check").addEventListener("click", function () {
    checkConnection(false);
  });
  document.getElementById("hai2-cancel").addEventListener("click", function () {
    history.back();
  });
  form.addEventListener("submit", save);
  settingsBox.addEventListener("change", function () {
    showError("hai2-settings-error", "");
  });
  if (stored.portalUrl) checkConnection(true);
})(kintone.$PLUGIN_ID);
