/* compile_lens report behaviour: sort/filter tables, select pieces in the graph, fold all.
   Plain DOM, no dependencies, no network. Embedded once per page. */
(function () {
  "use strict";
  /* The page never navigates away and opens no window: only a plain click on an in-page anchor
     (#...) or on plotly's own image download (data:/blob:) is followed. CSP cannot forbid link
     clicks, so they are stopped here, in the capture phase, before any handler of the link
     itself runs; middle and modified clicks (new tab or window) are stopped too, and
     window.open is switched off. */
  function followable(a, ev) {
    if (ev.type !== "click" || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) {
      return false;
    }
    var href = a.getAttribute("href") || a.getAttribute("xlink:href") || "";
    if (href.charAt(0) === "#") { return true; }
    return a.hasAttribute("download") && /^(data|blob):/i.test(href);
  }
  ["click", "auxclick"].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var a = ev.target && ev.target.closest && ev.target.closest("a");
      if (a && !followable(a, ev)) { ev.preventDefault(); ev.stopPropagation(); }
    }, true);
  });
  document.addEventListener("submit", function (ev) { ev.preventDefault(); }, true);
  window.open = function () { return null; };
  function cellValue(row, i) {
    var c = row.cells[i];
    return c ? (c.getAttribute("data-v") || c.textContent) : "";
  }
  function sortTable(th) {
    var table = th.closest("table"), idx = th.cellIndex;
    var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", dir);
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, idx), y = cellValue(b, idx), nx = parseFloat(x), ny = parseFloat(y);
      var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return dir === "asc" ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function filterTable(input) {
    var table = document.getElementById(input.getAttribute("data-filter-for"));
    if (!table) { return; }
    var q = input.value.toLowerCase(), shown = 0, rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var hit = !q || rows[i].textContent.toLowerCase().indexOf(q) >= 0;
      rows[i].style.display = hit ? "" : "none";
      if (hit) { shown++; }
    }
    var out = document.getElementById(input.getAttribute("data-count"));
    if (out) { out.textContent = shown + " of " + rows.length + " rows"; }
  }
  function selectPiece(scope, piece) {
    scope.querySelectorAll(".cl-piece-detail").forEach(function (d) {
      d.classList.toggle("cl-shown", d.getAttribute("data-piece") === piece);
    });
    scope.querySelectorAll(".cl-graph [data-piece]").forEach(function (g) {
      g.classList.toggle("cl-selected", g.getAttribute("data-piece") === piece);
    });
    var sel = scope.querySelector("select.cl-piece-select");
    if (sel && sel.value !== piece) { sel.value = piece; }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var th = t.closest && t.closest("table.cl-sortable th");
    if (th) { sortTable(th); return; }
    var g = t.closest && t.closest(".cl-graph [data-piece]");
    if (g) { selectPiece(g.closest(".cl-body") || document, g.getAttribute("data-piece")); return; }
    var zoom = t.closest && t.closest("[data-zoom]");
    if (zoom) {
      var row = zoom.parentElement.nextElementSibling;  /* the graph row follows the button */
      var box = row && row.querySelector(".cl-graph");
      if (box) { zoom.textContent = box.classList.toggle("cl-natural") ? "fit to width" : "actual size"; }
      return;
    }
    var btn = t.closest && t.closest("[data-fold]");
    if (btn) {
      var open = btn.getAttribute("data-fold") === "open";
      document.querySelectorAll("details.cl-section").forEach(function (d) { d.open = open; });
    }
  });
  document.addEventListener("input", function (ev) {
    if (ev.target.matches && ev.target.matches("input.cl-filter")) { filterTable(ev.target); }
  });
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select.cl-piece-select")) {
      selectPiece(ev.target.closest(".cl-body") || document, ev.target.value);
    }
  });
})();
