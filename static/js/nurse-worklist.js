// Worklist: "select every item on this page" and a live count of what is selected.
// Without this script every checkbox still works; "all matching items" needs no script.
(function () {
  "use strict";
  // On phones the CSS shows each row as a card (display: block / grid), which makes some
  // browsers (Safari) stop exposing the table as a table; explicit roles keep it one.
  var table = document.querySelector("table.table-worklist");
  if (table) {
    table.setAttribute("role", "table");
    var roles = [["thead, tbody", "rowgroup"], ["tr", "row"], ["th", "columnheader"], ["td", "cell"]];
    roles.forEach(function (pair) {
      table.querySelectorAll(pair[0]).forEach(function (el) { el.setAttribute("role", pair[1]); });
    });
  }
  var form = document.getElementById("bulk");
  if (!form) { return; }
  var page = document.getElementById("select-page");
  var all = document.getElementById("all-matching");
  var count = document.getElementById("selected-count");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input.row-check"));
  function update() {
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    page.checked = ticked === boxes.length && boxes.length > 0;
    page.indeterminate = ticked > 0 && ticked < boxes.length;
    count.textContent = all.checked ? "Selected: " + all.nextElementSibling.textContent.replace(/^Select /, "")
      : ticked + " selected on this page";
  }
  page.hidden = false;
  var pageLabel = form.querySelector("label.select-page-label");  // shown above the cards on phones
  if (pageLabel) { pageLabel.hidden = false; }
  page.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = page.checked; });
    update();
  });
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  all.addEventListener("change", update);
  update();
})();
