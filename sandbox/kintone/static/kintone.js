/*
 * The kintone JavaScript API as far as plugins use it (spec §7.3), for the sandbox's screens.
 *
 * The page carries its state in <script id="ksb-bootstrap" type="application/json">. Plugin
 * scripts load one after another with kintone.$PLUGIN_ID set for each; then the record list fires
 * app.record.index.show. Calls that need the server go to /{sub}/k/_shim/… (setConfig,
 * setProxyConfig, proxy) or to the REST API (kintone.api) with the page's session cookie.
 */
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("ksb-bootstrap").textContent);
  var handlers = {};
  var proxyConfigs = (boot.proxyConfigs || []).slice();

  function post(path, body, extraHeaders) {
    var headers = { "Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest" };
    Object.keys(extraHeaders || {}).forEach(function (name) { headers[name] = extraHeaders[name]; });
    return fetch(path, {
      method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw json;
        return json;
      });
    });
  }

  function shim(name, body) {
    return post(boot.base + "_shim/" + name, body);
  }

  function settle(promise, success, failure) {
    if (!success && !failure) return promise;
    promise.then(function (value) { if (success) success(value); },
      function (error) { if (failure) failure(error); });
    return undefined;
  }

  function onlyOn(page, name) {
    if (boot.page !== page) throw new Error(name + " は" + (page === "config" ? "プラグインの設定画面" : "レコード一覧画面") + "でのみ使用できます。");
  }

  var kintone = {
    $PLUGIN_ID: null,
    Promise: window.Promise,
    events: {
      on: function (types, handler) {
        (Array.isArray(types) ? types : [types]).forEach(function (type) {
          (handlers[type] = handlers[type] || []).push(handler);
        });
      },
      off: function (types, handler) {
        (Array.isArray(types) ? types : [types]).forEach(function (type) {
          handlers[type] = handler ? (handlers[type] || []).filter(function (h) { return h !== handler; }) : [];
        });
        return true;
      }
    },
    app: {
      getId: function () { return boot.appId; },
      getQueryCondition: function () { return boot.page === "index" ? boot.condition : null; },
      getQuery: function () { return boot.page === "index" ? boot.query : null; },
      getHeaderMenuSpaceElement: function () { return document.getElementById("ksb-header-menu-space"); },
      getHeaderSpaceElement: function () { return document.getElementById("ksb-header-space"); }
    },
    getLoginUser: function () { return { id: "1", code: "Administrator", name: "Administrator" }; },
    plugin: {
      app: {
        getConfig: function (pluginId) {
          var config = (boot.configs || {})[pluginId];
          return config ? JSON.parse(JSON.stringify(config)) : null;
        },
        setConfig: function (config, successCallback) {
          onlyOn("config", "setConfig");
          shim("plugin/config", { app: boot.appId, pluginId: boot.pluginId, config: config }).then(function () {
            if (successCallback) successCallback();
            else window.location.href = boot.afterSave;
          }, function (error) { window.alert(error.message || "設定を保存できませんでした。"); });
        },
        setProxyConfig: function (url, method, headers, data, successCallback) {
          onlyOn("config", "setProxyConfig");
          shim("plugin/proxy-config", {
            app: boot.appId, pluginId: boot.pluginId, url: url, method: method, headers: headers || {}, data: data || {}
          }).then(function () {
            proxyConfigs = proxyConfigs.filter(function (c) { return !(c.url === url && c.method === method); });
            proxyConfigs.push({ url: url, method: method, headers: headers || {}, data: data || {} });
            if (successCallback) successCallback();
          });
        },
        getProxyConfig: function (url, method) {
          onlyOn("config", "getProxyConfig");
          var found = proxyConfigs.filter(function (c) { return c.url === url && c.method === method; })[0];
          if (!found) return null;
          var headers = {};
          Object.keys(found.headers || {}).forEach(function (name) { headers[name] = String(found.headers[name]); });
          return { headers: headers, data: found.data || {} };
        },
        proxy: function (pluginId, url, method, headers, data, success, failure) {
          var call = shim("plugin/proxy", {
            app: boot.appId, pluginId: pluginId, url: url, method: method, headers: headers || {}, data: data
          }).then(function (answer) {
            if (answer.status === 0) throw { message: answer.body };
            return [answer.body, answer.status, answer.headers];
          });
          if (!success && !failure) return call;
          call.then(function (value) { if (success) success(value[0], value[1], value[2]); },
            function (error) { if (failure) failure(error.message || String(error)); });
          return undefined;
        }
      }
    }
  };

  kintone.api = function (path, method, params, success, failure) {
    var verb = String(method).toUpperCase();
    // Every call is a POST; X-HTTP-Method-Override names the real method (kintone.api does this
    // itself for long GET requests).
    var call = post(path, params || {}, { "X-HTTP-Method-Override": verb });
    return settle(call, success, failure);
  };
  kintone.api.url = function (path) {
    return boot.base.replace(/k\/$/, "") + path.replace(/^\//, "") + ".json";
  };
  kintone.api.urlForGet = function (path, params) {
    var query = Object.keys(params || {}).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]);
    }).join("&");
    return kintone.api.url(path) + (query ? "?" + query : "");
  };
  window.kintone = kintone;

  function loadScripts(list) {
    return list.reduce(function (chain, item) {
      return chain.then(function () {
        return new Promise(function (resolve) {
          kintone.$PLUGIN_ID = item.pluginId;
          var script = document.createElement("script");
          script.src = item.src;
          script.onload = resolve;
          script.onerror = resolve;
          document.body.appendChild(script);
        });
      });
    }, Promise.resolve());
  }

  function fire(type, event) {
    return (handlers[type] || []).reduce(function (chain, handler) {
      return chain.then(function (current) {
        var result = handler(current);
        return result && typeof result.then === "function" ? result : (result || current);
      });
    }, Promise.resolve(event));
  }

  loadScripts(boot.scripts || []).then(function () {
    document.body.dataset.ksbReady = "scripts";
    if (boot.page !== "index") return null;
    return fire("app.record.index.show", {
      type: "app.record.index.show",
      appId: boot.appId,
      viewId: boot.view.id,
      viewName: boot.view.name,
      viewType: boot.view.type,
      records: boot.records,
      offset: boot.offset,
      size: boot.size,
      date: null
    });
  }).then(function () {
    document.body.dataset.ksbReady = "true";
  });
})();
