/* Keyboard navigation of the month grid (progressive enhancement: without this script
   the grid is a plain table whose links are reached with Tab).
   Arrow keys move between days, Home/End to the start/end of the week, Page Up/Page Down
   open the previous/next month. One day at a time is in the Tab order (roving tabindex). */
(function () {
  "use strict";
  var grid = document.getElementById("month-grid");
  if (!grid) { return; }
  var cells = Array.prototype.slice.call(grid.querySelectorAll("td.day"));
  if (!cells.length) { return; }

  function pick() {
    var today = grid.querySelector("td.today");
    if (today) { return today; }
    var withItems = grid.querySelector("td.has-items:not(.other-month)");
    return withItems || grid.querySelector("td.day:not(.other-month)") || cells[0];
  }

  function label(cell) {
    var parts = [cell.querySelector(".day-number .visually-hidden").textContent.trim()];
    var items = cell.querySelectorAll(".chip-text");
    if (!items.length) { parts.push(grid.dataset.emptyLabel || "nothing planned"); }
    items.forEach(function (item) { parts.push(item.textContent.trim()); });
    return parts.join(". ");
  }

  cells.forEach(function (cell) {
    cell.setAttribute("tabindex", "-1");
    cell.setAttribute("aria-label", label(cell));
  });
  var current = pick();
  current.setAttribute("tabindex", "0");

  function move(to) {
    if (!to) { return; }
    current.setAttribute("tabindex", "-1");
    to.setAttribute("tabindex", "0");
    to.focus();
    current = to;
  }

  function go(which) {
    var link = document.querySelector('[data-month-nav="' + which + '"]');
    if (link) { window.location.href = link.href; }
  }

  grid.addEventListener("keydown", function (event) {
    var cell = event.target.closest("td.day");
    if (!cell) { return; }
    var index = cells.indexOf(cell);
    var column = index % 7;
    var target = null;
    switch (event.key) {
      case "ArrowLeft": target = cells[index - 1]; break;
      case "ArrowRight": target = cells[index + 1]; break;
      case "ArrowUp": target = cells[index - 7]; break;
      case "ArrowDown": target = cells[index + 7]; break;
      case "Home": target = cells[index - column]; break;
      case "End": target = cells[index + (6 - column)]; break;
      case "PageUp": event.preventDefault(); go("previous"); return;
      case "PageDown": event.preventDefault(); go("next"); return;
      case "Enter":
        if (event.target === cell) {
          var link = cell.querySelector("a");
          if (link) { event.preventDefault(); link.click(); }
        }
        return;
      default: return;
    }
    event.preventDefault();
    if (target) { move(target); }
  });

  grid.addEventListener("click", function (event) {
    var cell = event.target.closest("td.day");
    if (cell && cell !== current) {
      current.setAttribute("tabindex", "-1");
      cell.setAttribute("tabindex", "0");
      current = cell;
    }
  });
})();
