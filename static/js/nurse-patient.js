// Nurse patient page. Progressive enhancement (the page works without it):
// - a folded year or an "Actions" panel with data-fragment loads its content when opened
//   (the server sends only what is visible; without script, links open the same content);
// - a link to #event-123 opens the details that hold it.
(function () {
  "use strict";

  function load(details) {
    if (details.hasAttribute("data-loaded") || details.hasAttribute("data-loading")) { return; }
    details.setAttribute("data-loading", "");
    var target = details.querySelector(":scope > .fragment-body") || details.querySelector(":scope > summary + *");
    fetch(details.getAttribute("data-fragment"), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.text();
    }).then(function (html) {
      var parsed = new DOMParser().parseFromString(html, "text/html");
      var fetched = parsed.body.querySelector("details.quick-actions");
      var nodes = [];
      if (fetched && details.classList.contains("quick-actions")) {
        // The fragment is the whole panel: keep our summary, take the rest.
        Array.prototype.forEach.call(fetched.children, function (child) {
          if (child.tagName !== "SUMMARY") { nodes.push(child); }
        });
        target.replaceWith.apply(target, nodes);
      } else {
        target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
      }
      details.setAttribute("data-loaded", "");
      details.removeAttribute("data-loading");
      var wanted = location.hash && document.getElementById(location.hash.slice(1));
      if (wanted && details.contains(wanted)) { wanted.scrollIntoView(); }
    }).catch(function () {
      details.removeAttribute("data-loading");  // the link in the panel still works
    });
  }

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.tagName === "DETAILS" && details.open && details.hasAttribute("data-fragment")) {
      load(details);
    }
  }, true);

  function reveal() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (!target) { return; }
    for (var el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS" && !el.open) { el.open = true; }
    }
    target.scrollIntoView();
  }
  window.addEventListener("hashchange", reveal);
  reveal();
})();
