// Enrolment: with JavaScript, picking a cancer type shows its facts at once; without, the
// "show facts" button does. The select is the one named in the form's data-facts-select.
(function () {
  "use strict";
  var form = document.getElementById("enrol-form");
  var select = form && document.getElementById(form.getAttribute("data-facts-select"));
  var button = document.getElementById("show-facts");
  if (!select || !button) { return; }
  button.classList.add("visually-hidden");
  button.setAttribute("tabindex", "-1");
  select.addEventListener("change", function () { button.click(); });
})();
