/* Move focus to the error summary after a failed submit, so keyboard and screen-reader
   users land on what needs fixing. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
