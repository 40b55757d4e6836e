// Behaviour shared by every page: dialogs delivered as htmx partials, copy buttons.
(function () {
  "use strict";

  // A partial swapped into #modal-container that holds a .modal opens itself.
  document.addEventListener("htmx:afterSwap", function (event) {
    var modal = event.detail.target && event.detail.target.querySelector(".modal[data-autoshow]");
    if (modal && window.bootstrap) {
      window.bootstrap.Modal.getOrCreateInstance(modal).show();
    }
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
})();
