// Nurse patient page: open the folded year that holds the event a link points at (#event-123).
(function () {
  "use strict";
  function reveal() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (!target) { return; }
    for (var el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
    target.scrollIntoView();
  }
  window.addEventListener("hashchange", reveal);
  reveal();
})();
