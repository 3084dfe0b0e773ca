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

  // After Page Up / Page Down the new month opens with the focus back in the grid, on the
  // same day of the month (or the month's last day), so keyboard users keep their place.
  var FOCUS_KEY = "month-grid-focus-day";

  function remembered() {
    var day = null;
    try {
      day = window.sessionStorage.getItem(FOCUS_KEY);
      window.sessionStorage.removeItem(FOCUS_KEY);
    } catch (error) { return null; }
    if (!day) { return null; }
    var inMonth = cells.filter(function (cell) { return !cell.classList.contains("other-month"); });
    var index = Math.min(parseInt(day, 10), inMonth.length) - 1;
    return index >= 0 ? inMonth[index] : null;
  }

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
  var restored = remembered();
  var current = restored || pick();
  current.setAttribute("tabindex", "0");
  if (restored) { restored.focus(); }

  function move(to) {
    if (!to) { return; }
    current.setAttribute("tabindex", "-1");
    to.setAttribute("tabindex", "0");
    to.focus();
    current = to;
  }

  function go(which, fromCell) {
    var link = document.querySelector('[data-month-nav="' + which + '"]');
    if (!link) { return; }
    try {
      window.sessionStorage.setItem(FOCUS_KEY, String(parseInt(fromCell.dataset.date.slice(8), 10)));
    } catch (error) { /* storage off: the new month opens without focus in the grid */ }
    window.location.href = link.href;
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
      case "PageUp": event.preventDefault(); go("previous", cell); return;
      case "PageDown": event.preventDefault(); go("next", cell); return;
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
