"""The report's interactive layer, inline in the one HTML file (no library, nothing fetched):

- every table with class ``dt`` sorts by a click on a column header (numbers by value,
  text alphabetically; again to reverse) and, when it has more than a few rows, gets a
  filter box that keeps the rows containing every word typed;
- the toolbar's check boxes show or hide each model and each image operator in every
  figure (SVG groups ``g.ds[data-m]``, ``g.ds[data-o]``, see ``plots.py``) and each model's
  table rows (``tr[data-m]``);
- the worst-flips gallery filters by model and condition (``.flip[data-m][data-c]``).

Without JavaScript the report reads the same, with everything shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from derm_stress.report.format import esc
from derm_stress.report.plots import model_color

SCRIPT = r"""
(function () {
  "use strict";
  function num(text) {
    var m = text.replace(/\u2212/g, "-").match(/[-+]?\d+(\.\d+)?/);
    return m ? parseFloat(m[0]) : null;
  }
  function cellText(row, i) {
    var c = row.cells[i];
    return c ? c.textContent.trim() : "";
  }
  document.querySelectorAll("table.dt").forEach(function (table) {
    var head = table.rows[0];
    var body = Array.prototype.slice.call(table.rows, 1);
    Array.prototype.forEach.call(head.cells, function (th, i) {
      th.classList.add("sortable");
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(head.cells, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(table.rows, 1);
        rows.sort(function (a, b) {
          var x = cellText(a, i), y = cellText(b, i), nx = num(x), ny = num(y), r;
          if (nx !== null && ny !== null) { r = nx - ny; }
          else if (nx !== null) { r = -1; } else if (ny !== null) { r = 1; }
          else { r = x.localeCompare(y); }
          return asc ? r : -r;
        });
        var parent = rows.length ? rows[0].parentNode : table;
        rows.forEach(function (r) { parent.appendChild(r); });
      });
    });
    if (body.length > 6) {
      var box = document.createElement("input");
      box.type = "search";
      box.className = "filter";
      box.placeholder = "filter rows (all words must match)";
      box.setAttribute("aria-label", "filter table rows");
      box.addEventListener("input", function () {
        var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
        Array.prototype.forEach.call(table.rows, function (row, i) {
          if (i === 0) { return; }
          var text = row.textContent.toLowerCase();
          var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
          row.classList.toggle("filtered", !hit);
        });
      });
      table.parentNode.insertBefore(box, table);
    }
  });
  var style = document.createElement("style");
  document.head.appendChild(style);
  function applyToggles() {
    var rules = [];
    document.querySelectorAll("#toolbar input[type=checkbox]").forEach(function (box) {
      if (box.checked) { return; }
      var key = box.dataset.m !== undefined ? "m" : "o";
      var value = box.dataset[key];
      rules.push("g.ds[data-" + key + "='" + value + "']{display:none}");
      if (key === "m") {
        rules.push("tr[data-m='" + value + "'],.flip[data-m='" + value + "']{display:none}");
      }
    });
    style.textContent = rules.join("\n");
  }
  document.querySelectorAll("#toolbar input[type=checkbox]").forEach(function (box) {
    box.addEventListener("change", applyToggles);
  });
  var pick = document.getElementById("flip-filter");
  if (pick) {
    pick.addEventListener("change", function () {
      document.querySelectorAll(".flip").forEach(function (card) {
        card.classList.toggle("filtered", pick.value !== "" && card.dataset.c !== pick.value);
      });
    });
  }
})();
"""

CSS = """
#toolbar{position:sticky;top:0;z-index:5;background:#f6f7f9ee;border-bottom:1px solid #dde;
padding:6px 0;margin:0 0 8px;font-size:12.5px;display:flex;flex-wrap:wrap;gap:4px 14px}
#toolbar label{white-space:nowrap;cursor:pointer}
#toolbar .sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 3px 0 2px;
vertical-align:-1px}
th.sortable{cursor:pointer}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}
input.filter{margin:4px 0;padding:3px 6px;width:280px;font-size:12.5px}
.filtered{display:none}
"""


def toolbar(models: Sequence[str], operators: Sequence[str]) -> str:
    """Check boxes that show or hide each model and image operator (checked: shown)."""
    boxes = ["<b>show models:</b>"]
    for i, model in enumerate(models):
        boxes.append(
            f"<label><input type=checkbox checked data-m={i}><span class=sw "
            f"style='background:{model_color(models, model)}'></span>{esc(model)}</label>"
        )
    if operators:
        boxes.append("<b>image operators:</b>")
        boxes += [
            f"<label><input type=checkbox checked data-o={i}>{esc(op)}</label>"
            for i, op in enumerate(operators)
        ]
    return f"<nav id=toolbar aria-label='figure toggles'>{''.join(boxes)}</nav>"
