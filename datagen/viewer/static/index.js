/* drivesynth viewer: the index page (filters with counts, a paginated thumbnail grid). */
"use strict";
(function () {
  const MULTI = { events: true, qc: true };
  let data = null, facets = [], filtered = [], page = 0;

  function values(r, f) { return MULTI[f] ? (r[f] || []) : [r[f]]; }

  function state() {
    const s = { q: (document.getElementById("search") || {}).value || "" };
    for (const f of facets) s[f] = document.getElementById("f-" + f).value;
    return s;
  }

  function matches(r, f, want) {
    if (want === "") return true;
    return values(r, f).indexOf(want) >= 0;
  }

  function apply(keepPage) {
    const s = state();
    const q = s.q.trim().toLowerCase();
    const counts = {};
    for (const f of facets) counts[f] = {};
    filtered = [];
    for (const r of data.records) {
      if (q && (r.key + " " + r.caption + " " + r.shard).toLowerCase().indexOf(q) < 0) continue;
      let failed = null, nfail = 0;
      for (const f of facets) {
        if (!matches(r, f, s[f])) { nfail++; failed = f; if (nfail > 1) break; }
      }
      if (nfail > 1) continue;
      for (const f of facets) {
        if (nfail === 1 && f !== failed) continue;
        for (const v of values(r, f)) counts[f][v] = (counts[f][v] || 0) + 1;
      }
      if (nfail === 0) filtered.push(r);
    }
    for (const f of facets) {
      const sel = document.getElementById("f-" + f);
      for (const opt of sel.options) {
        if (opt.value === "") { opt.textContent = "all"; continue; }
        const n = counts[f][opt.value] || 0;
        opt.textContent = opt.value + " (" + n + ")";
        opt.disabled = n === 0 && opt.value !== s[f];
      }
    }
    if (!keepPage) page = 0;
    const pages = Math.max(1, Math.ceil(filtered.length / data.page_size));
    page = Math.min(page, pages - 1);
    document.getElementById("count").textContent =
      filtered.length + " of " + data.samples + " samples";
    const h = Object.assign({}, s);
    if (page) h.page = page + 1;
    DS.writeHash(h);
    render();
  }

  function pager(id) {
    const nav = document.getElementById(id);
    nav.replaceChildren();
    const pages = Math.max(1, Math.ceil(filtered.length / data.page_size));
    const prev = DS.el("button", { "class": "prev" }, "\u2039 previous");
    prev.disabled = page === 0;
    prev.onclick = function () { page--; apply(true); };
    const next = DS.el("button", { "class": "next" }, "next \u203a");
    next.disabled = page >= pages - 1;
    next.onclick = function () { page++; apply(true); };
    nav.append(prev, DS.el("span", { "class": "muted pos" }, "page " + (page + 1) + " of " + pages), next);
  }

  function card(r) {
    const a = DS.el("a", { "class": "card", href: "sample.html#" + r.i, "data-i": r.i });
    if (r.error) {
      a.append(DS.el("span", { "class": "badge err" }, "undecodable"),
               DS.el("div", { "class": "c" }, r.error));
    } else {
      a.append(DS.el("img", { src: r.dir + "/thumb.jpg", loading: "lazy", decoding: "async",
                              width: r.w, height: r.h, alt: r.key }));
    }
    a.append(DS.el("div", { "class": "k" }, r.shard + " " + r.key));
    const tags = DS.el("div");
    for (const t of [r.preset, r.tod, r.style]) if (t) tags.append(DS.el("span", { "class": "badge" }, t));
    for (const e of r.events || []) tags.append(DS.el("span", { "class": "badge" }, e));
    for (const q of r.qc || []) if (q !== "none") tags.append(DS.el("span", { "class": "badge qc" }, "QC " + q));
    a.append(tags, DS.el("div", { "class": "c", title: r.caption }, r.caption));
    return a;
  }

  function render() {
    const grid = document.getElementById("grid");
    const start = page * data.page_size;
    const frag = document.createDocumentFragment();
    for (const r of filtered.slice(start, start + data.page_size)) frag.append(card(r));
    grid.replaceChildren(frag);
    pager("pager-top");
    pager("pager-bottom");
  }

  function build() {
    const box = document.getElementById("filters");
    const hash = DS.readHash();
    for (const [f, label] of Object.entries(data.facets)) {
      const vals = Object.keys(data.counts[f] || {});
      if (f === "qc" && !data.qc_report) continue;  // no QC report: no QC filter
      facets.push(f);
      const sel = DS.el("select", { id: "f-" + f, "data-facet": f });
      sel.append(DS.el("option", { value: "" }, "all"));
      for (const v of vals) sel.append(DS.el("option", { value: v }, v));
      if (hash[f] && vals.indexOf(hash[f]) >= 0) sel.value = hash[f];
      sel.onchange = function () { apply(false); };
      const lab = DS.el("label", {}, label);
      lab.append(sel);
      box.append(lab);
    }
    const search = DS.el("input", { id: "search", type: "search", placeholder: "key or caption" });
    search.value = hash.q || "";
    search.oninput = function () { apply(false); };
    const lab = DS.el("label", {}, "search");
    lab.append(search);
    box.append(lab);
    if (!data.qc_report) {
      box.append(DS.el("span", { "class": "muted", id: "qc-note" },
        "no QC report (run: drivesynth qc DIR --json DIR/qc.json, then view again)"));
    }
    page = Math.max(0, (parseInt(hash.page, 10) || 1) - 1);
  }

  DS.index = function (payload) {
    const t0 = performance.now();
    data = payload;
    document.getElementById("title").textContent = data.dataset;
    document.title = data.dataset + " \u2014 drivesynth";
    build();
    apply(true);
    DS.indexRenderMs = performance.now() - t0;
    document.body.dataset.ready = "1";
  };
})();
