// Behaviour shared by every page: dialogs delivered as htmx partials, copy buttons, password inputs.
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

  document.addEventListener("DOMContentLoaded", function () {
    showDialogs(document.body);
    document.querySelectorAll("[data-length-for]").forEach(updateCounter);
  });

  // For an outerHTML swap event.detail.target is the element that was replaced; the event
  // itself fires on the new content, so look at both.
  document.addEventListener("htmx:afterSwap", function (event) {
    showDialogs(event.target);
    if (event.detail && event.detail.target !== event.target) showDialogs(event.detail.target);
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
