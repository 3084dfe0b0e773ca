// Bulk enrolment: while an import runs, poll its status and move the progress bar; when it
// has finished, reload the page once (it then shows the summary and the refused rows).
(function () {
  "use strict";
  var section = document.getElementById("import-progress-section");
  if (!section) { return; }
  var url = section.getAttribute("data-status-url");
  var finished = ["done", "failed"];
  if (finished.indexOf(section.getAttribute("data-status")) !== -1) { return; }
  function set(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = String(value); }
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var bar = document.getElementById("import-progress");
        bar.value = data.percent;
        bar.textContent = data.percent + "%";
        set("import-progress-label", data.processed + " of " + data.total + " patients");
        set("import-status", data.status_display);
        set("import-created", data.created);
        set("import-updated", data.updated);
        set("import-unchanged", data.unchanged);
        set("import-refused", data.refused);
        if (finished.indexOf(data.status) !== -1) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
