// Behaviour shared by every page: dialogs delivered as htmx partials, copy buttons, password
// inputs, progress bars. The only script of the portal besides htmx and Bootstrap (see the CSP).
(function () {
  "use strict";

  // Dialogs marked data-autoshow open themselves, whether rendered with the page or swapped in.
  function showDialogs(root) {
    if (!root || !window.bootstrap || !root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll(".modal[data-autoshow]"));
    if (root.matches && root.matches(".modal[data-autoshow]")) found.push(root);
    found.forEach(function (modal) {
      if (modal.isConnected) window.bootstrap.Modal.getOrCreateInstance(modal).show();
    });
  }

  // Progress bars carry their width as data (the Content-Security-Policy forbids style="").
  function applyProgress(root) {
    if (!root || !root.querySelectorAll) return;
    var bars = Array.prototype.slice.call(root.querySelectorAll("[data-progress-percent]"));
    if (root.matches && root.matches("[data-progress-percent]")) bars.push(root);
    bars.forEach(function (bar) {
      bar.style.width = Number(bar.getAttribute("data-progress-percent")) + "%";
    });
  }

  // Messages that belong far down a long page (a schedule overlap next to its editor) bring
  // the first of them into view when they arrive.
  function scrollToFirstError(root) {
    if (!root || !root.querySelector) return;
    var first = root.querySelector("[data-scroll-to-error]");
    if (first) first.scrollIntoView({ block: "center" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showDialogs(document.body);
    applyProgress(document.body);
    scrollToFirstError(document.body);
    document.querySelectorAll("[data-length-for]").forEach(updateCounter);
  });

  // Every element htmx puts into the page.
  document.addEventListener("htmx:load", function (event) {
    applyProgress(event.target);
  });

  // The 「閉じる」 of a dialog that applied its changes answers with this event.
  document.addEventListener("settingsCloseModal", function () {
    document.querySelectorAll("#modal-container .modal.show").forEach(function (element) {
      window.bootstrap.Modal.getOrCreateInstance(element).hide();
    });
  });

  // A checkbox with data-toggle-visible="#id" shows that element only while it is ticked.
  document.addEventListener("change", function (event) {
    var selector = event.target.getAttribute && event.target.getAttribute("data-toggle-visible");
    if (!selector) return;
    var target = document.querySelector(selector);
    if (target) target.classList.toggle("d-none", !event.target.checked);
  });

  // Inputs with data-change-event="name" fire that event on <body> when they change, so parts
  // of the page can listen with hx-trigger="name from:body" (no trigger filters: they need eval).
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-change-event");
    if (name) document.body.dispatchEvent(new CustomEvent(name, { bubbles: true }));
  });

  // For an outerHTML swap event.detail.target is the element that was replaced; the event
  // itself fires on the new content, so look at both.
  document.addEventListener("htmx:afterSwap", function (event) {
    showDialogs(event.target);
    if (event.detail && event.detail.target !== event.target) showDialogs(event.detail.target);
    scrollToFirstError(event.target);
  });

  // An htmx request that failed: htmx swaps nothing, so say what happened above the page. Error
  // answers of the portal are text/plain Japanese sentences (portal/web/errors.py).
  var GENERIC_ERROR = "エラーが発生しました。時間をおいてから、もう一度操作してください。";
  var NETWORK_ERROR = "サーバーに接続できませんでした。ネットワークを確認して、もう一度操作してください。";

  function showRequestError(text) {
    var container = document.getElementById("request-errors");
    if (!container) return;
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "閉じる");
    alert.appendChild(close);
    container.replaceChildren(alert);
    container.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.getResponseHeader("HX-Redirect")) return;
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = type.indexOf("text/plain") === 0 && xhr.responseText ? xhr.responseText : GENERIC_ERROR;
    showRequestError(text);
  });

  document.addEventListener("htmx:sendError", function () {
    showRequestError(NETWORK_ERROR);
  });

  // Secret inputs (data-keep-typed) are never filled by the server with a token, not even one
  // just typed; what the user typed stays in the browser across re-renders of the section.
  var typedSecrets = {};

  document.addEventListener("htmx:beforeSwap", function () {
    typedSecrets = {};
    document.querySelectorAll("input[data-keep-typed]").forEach(function (input) {
      var placeholder = input.getAttribute("data-placeholder-value");
      if (input.id && input.value && input.value !== placeholder) typedSecrets[input.id] = input.value;
    });
  });

  document.addEventListener("htmx:afterSwap", function () {
    Object.keys(typedSecrets).forEach(function (id) {
      var input = document.getElementById(id);
      if (!input) return;
      var placeholder = input.getAttribute("data-placeholder-value");
      if (!input.value || input.value === placeholder) input.value = typedSecrets[id];
    });
    typedSecrets = {};
  });

  // A form marked data-warn-unsaved remembers that the user changed it; leaving the page before
  // it was saved asks first (links in the page with the portal's sentence, reload/close with the
  // browser's own dialog, which shows no custom text). A successful save clears the mark.
  var UNSAVED_MESSAGE = "保存されていない変更があります。このページを離れますか？";
  var unsaved = false;

  function watchedForm(element) {
    return element && element.closest && element.closest("form[data-warn-unsaved]");
  }

  ["input", "change"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (watchedForm(event.target)) unsaved = true;
    });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var form = target && (target.matches && target.matches("form[data-warn-unsaved]") ? target : watchedForm(target));
    if (!form || !form.isConnected) {
      form = document.querySelector("form[data-warn-unsaved]");
      if (!form || !form.contains(event.target)) return;
    }
    if (form.querySelector("[data-saved-notice]")) {
      unsaved = false; // 「保存」 (or its 「確認」 OK) stored everything
      return;
    }
    // Rows a dialog's 「閉じる」 put on the page are changes like any typed value.
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.closest && source.closest("#modal-container")) unsaved = true;
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!unsaved || !link || link.getAttribute("href").charAt(0) === "#") return;
    if (link.hasAttribute("data-bs-toggle")) return;
    if (!window.confirm(UNSAVED_MESSAGE)) {
      event.preventDefault();
      event.stopPropagation();
    } else {
      unsaved = false;
    }
  }, true);

  window.addEventListener("beforeunload", function (event) {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = UNSAVED_MESSAGE;
  });

  // Elements with data-copy-target copy the value of the element they name.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value || source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text);
    } else {
      source.select && source.select();
      document.execCommand("copy");
    }
    button.textContent = "コピーしました";
  });

  // Live length counters: <span data-length-for="#input-id">.
  function updateCounter(counter) {
    var input = document.querySelector(counter.getAttribute("data-length-for"));
    if (input) counter.textContent = String(input.value.length);
  }

  document.addEventListener("input", function (event) {
    if (!event.target.id) return;
    document
      .querySelectorAll('[data-length-for="#' + event.target.id + '"]')
      .forEach(updateCounter);
  });

  // Show/hide toggles (data-password-toggle) and clear buttons (data-clear-target).
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-password-toggle]");
    if (toggle) {
      var input = document.querySelector(toggle.getAttribute("data-password-toggle"));
      if (!input) return;
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      toggle.setAttribute("aria-pressed", show ? "true" : "false");
      toggle.classList.toggle("active", show);
      return;
    }
    var clear = event.target.closest("[data-clear-target]");
    if (clear) {
      var target = document.querySelector(clear.getAttribute("data-clear-target"));
      if (!target) return;
      target.value = "";
      target.dispatchEvent(new Event("input", { bubbles: true }));
      target.focus();
    }
  });
})();
