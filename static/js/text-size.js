/* Text size: standard, larger, largest. The choice is kept in this browser (localStorage)
   and applied before the page is drawn (this file is loaded in <head>, not deferred). The
   buttons are in the page's header and stay hidden without JavaScript. */
(function () {
  "use strict";
  var KEY = "followup-text-size";
  var SIZES = ["standard", "larger", "largest"];
  var root = document.documentElement;

  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (error) { return null; }
  }

  function apply(size) {
    if (SIZES.indexOf(size) < 0) { size = "standard"; }
    root.setAttribute("data-text-size", size);
    return size;
  }

  var current = apply(stored());

  function enhance() {
    var control = document.querySelector("[data-text-size-control]");
    if (!control) { return; }
    var buttons = Array.prototype.slice.call(control.querySelectorAll("button[data-text-size]"));
    function mark() {
      buttons.forEach(function (button) {
        button.setAttribute("aria-pressed", button.getAttribute("data-text-size") === current ? "true" : "false");
      });
    }
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        current = apply(button.getAttribute("data-text-size"));
        try { window.localStorage.setItem(KEY, current); } catch (error) { /* private mode: this page only */ }
        mark();
      });
    });
    mark();
    control.hidden = false;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
