// salesreports index: filter, sort and page through the reports; builds only the visible rows.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ix-data").textContent);
  var rows = data.rows, cols = data.columns;
  // the page's words and language, written by the page (index.py): the script holds no text of its own
  var words = data.words;
  var fill = function (text, fields) {
    return text.replace(/\{(\w+)\}/g, function (all, key) { return key in fields ? fields[key] : all; });
  };
  var number = function (n) { return n.toLocaleString(words.lang); };
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  var statusRank = {failed: 0, ok: 1, skipped: 2};  // what needs a look first, who has no report last
  var fold = function (s) {
    return String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  };
  rows.forEach(function (r, i) {
    r.ix = i;
    r.hay = fold([r.n, r.i, r.t, r.s, r.kind, words.statuses[r.s], words.kinds[r.kind]].join(" "));
  });

  var els = {
    q: document.getElementById("ix-q"), status: document.getElementById("ix-status"),
    kind: document.getElementById("ix-kind"), team: document.getElementById("ix-team"),
    size: document.getElementById("ix-size"), body: document.getElementById("ix-rows"),
    prev: document.getElementById("ix-prev"), next: document.getElementById("ix-next"),
    line: document.getElementById("ix-status-line"), heads: document.querySelectorAll("#ix-table th[data-key]")
  };
  var state = {key: "", dir: 1, page: 0};
  var view = [];

  function value(r, key) {
    if (key.indexOf("kpi:") === 0) { return r.v[+key.slice(4)]; }
    if (key === "status") { return statusRank[r.s]; }
    return {name: r.n, id: r.i, team: r.t, kind: r.kind}[key];
  }
  function defaultOrder(a, b) {
    return (statusRank[a.s] - statusRank[b.s]) || ((a.kind === "team" ? 0 : 1) - (b.kind === "team" ? 0 : 1)) ||
      collator.compare(a.n, b.n) || a.ix - b.ix;
  }
  function compare(a, b) {
    var x = value(a, state.key), y = value(b, state.key);
    var xm = x === null || x === undefined || x !== x, ym = y === null || y === undefined || y !== y;
    if (xm || ym) { return xm && ym ? a.ix - b.ix : (xm ? 1 : -1); }  // missing values last, either direction
    var c = typeof x === "number" && typeof y === "number" ? x - y : collator.compare(String(x), String(y));
    return c * state.dir || a.ix - b.ix;
  }
  var timer = 0;
  function refilter() {
    clearTimeout(timer);  // a pending search would otherwise re-run later and send the reader back to page 1
    var q = fold(els.q.value).trim().split(/\s+/).filter(Boolean);
    var st = els.status.value, kind = els.kind.value, team = els.team.value;
    view = rows.filter(function (r) {
      if (st && r.s !== st) { return false; }
      if (kind && r.kind !== kind) { return false; }
      if (team && r.t !== team) { return false; }
      for (var i = 0; i < q.length; i++) { if (r.hay.indexOf(q[i]) < 0) { return false; } }
      return true;
    });
    view.sort(state.key ? compare : defaultOrder);
    state.page = 0;
    draw();
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function link(parent, href, label) {
    if (!href) { return; }
    var a = el("a", "", label);
    a.href = href;
    parent.appendChild(a);
  }
  function cell(tr, label, cls, text) {  // each cell names its column: on a phone a row is a card of labels
    var td = el("td", cls, text);
    if (label) { td.dataset.label = label; }
    tr.appendChild(td);
    return td;
  }
  function row(r) {
    var tr = document.createElement("tr");
    tr.dataset.id = r.i;
    var name = el("th", "ix-cell-name");
    name.scope = "row";
    name.appendChild(el("bdi", "ix-name", r.n));
    name.appendChild(document.createTextNode(" "));
    if (r.i !== r.n && !r.o) name.appendChild(el("span", "ix-id", r.i));  // a CRM whose rep id is the name: once
    tr.appendChild(name);
    var kind = cell(tr, words.kind, "ix-cell-kind");
    kind.appendChild(el("span", "ix-badge" + (r.kind === "team" ? " ix-badge--team" : ""),
      r.kind === "team" ? words.kinds.team : words.kinds.rep));
    var team = cell(tr, words.team, "ix-cell-team");
    team.appendChild(el("bdi", "", r.t));
    var st = cell(tr, words.status, "ix-cell-status");
    st.appendChild(el("span", "ix-badge ix-badge--" + r.s, words.statuses[r.s] || r.s));
    // a failed or skipped report has no figures: its error or reason takes the KPI columns (in the status
    // column it was a narrow tower of words); a report without any figure for one reason, that reason
    var why = r.z || (r.s !== "ok" && data.kpis.length ? r.m : "");
    if (r.m && !why) {
      var m = el("bdi", "ix-msg", r.m.length > 200 ? r.m.slice(0, 199) + "…" : r.m);
      m.title = r.m;
      st.appendChild(m);
    }
    if (why && data.kpis.length) {
      var w = cell(tr, "", "ix-why" + (r.s === "failed" ? " ix-error" : " ix-na"));
      var shown = why.charAt(0).toUpperCase() + why.slice(1);
      var text = el("bdi", "", shown.length > 300 ? shown.slice(0, 299) + "…" : shown);
      text.title = why;
      w.appendChild(text);
      w.colSpan = data.kpis.length;
    } else {
      for (var k = 0; k < data.kpis.length; k++) {
        var missing = r.v[k] === null;
        cell(tr, data.kpis[k], "ix-num" + (missing && r.x[k] ? " ix-na" : ""), r.x[k] || "—");
      }
    }
    var links = el("td", "ix-links");
    link(links, r.h, words.html);
    link(links, r.p, words.pdf);
    if (r.s !== "ok") { link(links, r.b, words.notebook); }
    tr.appendChild(links);
    return tr;
  }
  function draw() {
    var size = +els.size.value || 100;
    var pages = Math.max(1, Math.ceil(view.length / size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * size, end = Math.min(view.length, start + size);
    var frag = document.createDocumentFragment();
    for (var i = start; i < end; i++) { frag.appendChild(row(view[i])); }
    if (!view.length) {
      var tr = el("tr"), td = el("td", "ix-empty", words.none);
      td.colSpan = cols + 1;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    els.body.replaceChildren(frag);
    var shown = {first: number(start + 1), last: number(end), shown: number(view.length), total: number(rows.length)};
    els.line.textContent = !view.length ? fill(words.nothing, shown) :
      fill(view.length < rows.length ? words.filtered : words.showing, shown);
    els.prev.disabled = state.page === 0;
    els.next.disabled = state.page >= pages - 1;
  }
  els.heads.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.dataset.key;
      if (state.key === key) { state.dir = -state.dir; } else { state.key = key; state.dir = th.dataset.type === "num" ? -1 : 1; }
      els.heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      view.sort(compare);
      state.page = 0;
      draw();
    });
  });
  document.getElementById("ix-form").addEventListener("submit", function (e) { e.preventDefault(); });
  els.q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refilter, 80); });
  [els.status, els.kind, els.team].forEach(function (s) { s.addEventListener("change", refilter); });
  els.size.addEventListener("change", function () { state.page = 0; draw(); });
  els.prev.addEventListener("click", function () { state.page -= 1; draw(); });
  els.next.addEventListener("click", function () { state.page += 1; draw(); });
  refilter();
}());
