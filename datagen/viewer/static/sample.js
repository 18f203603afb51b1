/* drivesynth viewer: one sample (RGB with toggleable overlays, depth with its scale in
   metres, the clip with its spectrogram, captions, objects, QC findings and the json). */
"use strict";
(function () {
  const MAX_STAGE_PX = 512;
  const SPEC = { w: 560, h: 220, left: 56, right: 74, top: 10, bottom: 42 };
  let index = null, current = -1, sequence = [], playing = null, frameMs = 400;
  const $ = function (id) { return document.getElementById(id); };

  function scaleOf(w, h) { return Math.max(1, Math.floor(MAX_STAGE_PX / Math.max(w, h))); }

  function record(i) { return index.records[i]; }

  function sequenceOf(r) {
    return index.records.filter(function (o) {
      return o.shard === r.shard && o.scenario === r.scenario && o.camera === r.camera && !o.error;
    }).sort(function (a, b) { return a.frame - b.frame; });
  }

  function show(i) {
    if (!(i >= 0 && i < index.records.length)) { DS.showError("no sample #" + i); return; }
    current = i;
    const r = record(i);
    $("prev").disabled = i === 0;
    $("next").disabled = i === index.records.length - 1;
    $("key").textContent = r.key;
    $("where").textContent = r.shard + " \u00b7 sample " + (i + 1) + " of " + index.samples;
    sequence = sequenceOf(r);
    const pos = sequence.findIndex(function (o) { return o.i === i; });
    $("seq-prev").disabled = pos <= 0;
    $("seq-next").disabled = pos < 0 || pos >= sequence.length - 1;
    $("seq-play").disabled = sequence.length < 2;
    $("seq-pos").textContent = sequence.length
      ? "frame " + r.frame + " (" + (pos + 1) + " of " + sequence.length + ") of scenario " +
        r.scenario + ", camera " + r.camera + ", t = " + r.time_s.toFixed(2) + " s"
      : "";
    if (sequence.length > 1) frameMs = Math.max(100, 1000 * (sequence[1].time_s - sequence[0].time_s));
    if (r.error) {
      document.body.dataset.loaded = String(i);
      DS.showError("undecodable sample: " + r.error);
      return;
    }
    DS.loadScript(r.dir + "/sample.js").catch(function (e) { DS.showError(e.message); });
    if (pos >= 0 && pos + 1 < sequence.length) {  // warm the cache for playback
      new Image().src = sequence[pos + 1].dir + "/rgb.png";
    }
  }

  function setLayers() {
    const op = $("opacity").value;
    $("sem").hidden = !$("show-sem").checked;
    $("inst").hidden = !$("show-inst").checked;
    $("sem").style.opacity = op;
    $("inst").style.opacity = op;
    $("box2d").setAttribute("visibility", $("show-box2d").checked ? "visible" : "hidden");
    $("box3d").setAttribute("visibility", $("show-box3d").checked ? "visible" : "hidden");
  }

  function camera(s, dir) {
    const k = scaleOf(s.width, s.height), W = s.width * k, H = s.height * k;
    for (const [id, file] of [["rgb", "rgb.png"], ["sem", "sem.png"], ["inst", "inst.png"]]) {
      const img = $(id);
      img.width = W; img.height = H; img.src = dir + "/" + file;
    }
    $("stage").style.width = W + "px";
    $("stage").style.height = H + "px";
    const svg = $("boxes");
    svg.setAttribute("width", W); svg.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + s.width + " " + s.height);
    const g2 = $("box2d"), g3 = $("box3d");
    g2.replaceChildren(); g3.replaceChildren();
    for (const o of s.objects) {
      const col = DS.rgb(o.box_color);
      if (o.bbox2d) {
        const [x0, y0, x1, y1] = o.bbox2d;
        const rect = DS.el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none",
          stroke: col, "stroke-width": 2, "vector-effect": "non-scaling-stroke",
          "shape-rendering": "crispEdges", "data-instance": o.instance_id });
        rect.append(DS.el("title", {}, o["class"] + " #" + o.instance_id + ", " +
          (o.distance_m || 0).toFixed(1) + " m, " + o.visible_px + " px"));
        g2.append(rect);
      }
      for (const l of o.lines3d) {
        g3.append(DS.el("line", { x1: l[0], y1: l[1], x2: l[2], y2: l[3], stroke: col,
          "stroke-width": 1.5, "vector-effect": "non-scaling-stroke", "data-instance": o.instance_id }));
      }
    }
    const legend = $("legend");
    legend.replaceChildren();
    for (const c of s.classes_present) {
      const item = DS.el("span", { "class": "cls", "data-class": c.name });
      item.append(DS.el("span", { "class": "swatch", style: "background:" + DS.rgb(c.color) }),
                  document.createTextNode(c.name + " (" + c.px + " px)"));
      legend.append(item);
    }
    for (const c of s.instances_present) {
      const o = s.objects.find(function (x) { return x.instance_id === c.id; });
      const item = DS.el("span", { "class": "inst", "data-instance": c.id });
      item.append(DS.el("span", { "class": "swatch", style: "background:" + DS.rgb(c.color) }),
                  document.createTextNode("#" + c.id + (o ? " " + o["class"] : "") + " (" + c.px + " px)"));
      legend.append(item);
    }
    setLayers();
  }

  function depth(s, dir) {
    const k = scaleOf(s.width, s.height), d = s.depth;
    const img = $("depth");
    img.width = s.width * k; img.height = s.height * k; img.src = dir + "/depth.png";
    img.parentNode.style.width = img.width + "px";
    img.parentNode.style.height = img.height + "px";
    const svg = $("depth-scale"), W = Math.min(img.width, 400), left = 10, bar = W - 2 * left;
    svg.replaceChildren();
    svg.setAttribute("width", W); svg.setAttribute("height", 58);
    svg.append(DS.el("image", { href: "viewer/depth_bar.png", x: left, y: 4, width: bar, height: 14,
                                preserveAspectRatio: "none" }));
    const lo = Math.log(d.lo_m), hi = Math.log(d.hi_m);
    const g = DS.el("g", { "class": "axis" });
    for (const t of d.ticks_m) {
      const x = left + bar * (Math.log(t) - lo) / (hi - lo);
      g.append(DS.el("line", { x1: x, x2: x, y1: 18, y2: 23 }),
               DS.el("text", { x: x, y: 34, "text-anchor": "middle" }, String(t)));
    }
    g.append(DS.el("text", { x: left + bar / 2, y: 52, "text-anchor": "middle" },
                   "z-depth (m), log scale"));
    svg.append(g);
    svg.dataset.lo = d.lo_m; svg.dataset.hi = d.hi_m;
    $("depth-note").textContent = d.max_m > 0
      ? "hits from " + d.min_m.toFixed(2) + " m to " + d.max_m.toFixed(1) + " m; black: no hit (" +
        d.no_hit_px + " px)"
      : "no pixel hit anything";
  }

  function spectrogram(s, dir) {
    const sp = s.spectrogram, svg = $("spectrogram");
    const pw = SPEC.w - SPEC.left - SPEC.right, ph = SPEC.h - SPEC.top - SPEC.bottom;
    svg.replaceChildren();
    svg.setAttribute("width", SPEC.w); svg.setAttribute("height", SPEC.h);
    const X = function (t) { return SPEC.left + pw * (t - sp.x0_s) / (sp.x1_s - sp.x0_s); };
    const Y = function (f) { return SPEC.top + ph * (1 - (f - sp.f0_hz) / (sp.f1_hz - sp.f0_hz)); };
    svg.append(DS.el("image", { id: "spec-img", href: dir + "/spec.png", x: SPEC.left, y: SPEC.top,
                                width: pw, height: ph, preserveAspectRatio: "none" }));
    if (sp.scenario_start_s !== null && sp.scenario_start_s !== undefined) {
      const xs = X(sp.scenario_start_s);
      svg.append(DS.el("rect", { x: SPEC.left, y: SPEC.top, width: xs - SPEC.left, height: ph,
                                 fill: "rgba(120,120,140,0.35)" }),
                 DS.el("text", { x: (SPEC.left + xs) / 2, y: SPEC.top + 14, "text-anchor": "middle" },
                       "before the scenario starts"),
                 DS.el("line", { x1: xs, x2: xs, y1: SPEC.top, y2: SPEC.top + ph,
                                 stroke: "#fff", "stroke-dasharray": "3 3" }));
    }
    const g = DS.el("g", { "class": "axis" });
    const step = sp.duration_s > 2.5 ? 0.5 : 0.2;
    for (let t = Math.ceil(sp.t0_s / step - 1e-9) * step; t <= sp.t1_s + 1e-9; t += step) {
      const x = X(t);
      g.append(DS.el("line", { x1: x, x2: x, y1: SPEC.top + ph, y2: SPEC.top + ph + 5 }),
               DS.el("text", { x: x, y: SPEC.top + ph + 17, "text-anchor": "middle" },
                     (Math.abs(t) < 1e-9 ? 0 : t).toFixed(1)));
    }
    g.append(DS.el("text", { x: SPEC.left + pw / 2, y: SPEC.h - 6, "text-anchor": "middle" },
                   "time in the scenario (s)"));
    const nyq = sp.sample_rate / 2;
    const fstep = nyq > 12000 ? 4000 : nyq > 5000 ? 2000 : 1000;
    for (let f = 0; f <= nyq + 1e-9; f += fstep) {
      const y = Y(f);
      g.append(DS.el("line", { x1: SPEC.left - 5, x2: SPEC.left, y1: y, y2: y }),
               DS.el("text", { x: SPEC.left - 8, y: y + 4, "text-anchor": "end" }, String(f / 1000)));
    }
    g.append(DS.el("text", { x: 14, y: SPEC.top + ph / 2, "text-anchor": "middle",
                             transform: "rotate(-90 14 " + (SPEC.top + ph / 2) + ")" }, "frequency (kHz)"));
    const bx = SPEC.w - SPEC.right + 14;
    g.append(DS.el("image", { href: "viewer/db_bar.png", x: bx, y: SPEC.top, width: 12, height: ph,
                              preserveAspectRatio: "none" }));
    for (let db = sp.db_lo; db <= sp.db_hi + 1e-9; db += 20) {
      const y = SPEC.top + ph * (1 - (db - sp.db_lo) / (sp.db_hi - sp.db_lo));
      g.append(DS.el("text", { x: bx + 16, y: y + 4 }, String(db)));
    }
    g.append(DS.el("text", { x: bx + 8, y: SPEC.h - 6, "text-anchor": "middle" }, sp.unit));
    svg.append(g);
    const head = DS.el("line", { id: "playhead", x1: X(sp.t0_s), x2: X(sp.t0_s), y1: SPEC.top,
                                 y2: SPEC.top + ph, stroke: "#6cf", "stroke-width": 2, visibility: "hidden" });
    svg.append(head);
    const audio = $("audio");
    audio.src = dir + "/audio.flac";
    const move = function () {
      const x = X(sp.t0_s + audio.currentTime);
      head.setAttribute("x1", x); head.setAttribute("x2", x);
      head.setAttribute("visibility", audio.currentTime > 0 ? "visible" : "hidden");
      if (!audio.paused) requestAnimationFrame(move);
    };
    audio.onplay = move; audio.ontimeupdate = move;
    $("audio-note").textContent = sp.duration_s.toFixed(2) + " s at " + sp.sample_rate +
      " Hz, ending at t = " + sp.t1_s.toFixed(2) + " s; sounds: " +
      ((s.meta.audio || {}).events || []).join(", ");
  }

  function text(s) {
    const ol = $("captions");
    ol.replaceChildren();
    for (const c of s.captions) {
      const li = DS.el("li");
      li.append(DS.el("span", { "class": "fam" }, c.family || ""), document.createTextNode(c.text));
      ol.append(li);
    }
    const ev = $("events");
    ev.replaceChildren();
    for (const e of s.events) {
      const rest = Object.entries(e).filter(function (kv) { return kv[0] !== "type" && kv[0] !== "time_s"; })
        .map(function (kv) { return kv[0] + " " + JSON.stringify(kv[1]); }).join(", ");
      ev.append(DS.el("li", {}, e.type + " at " + Number(e.time_s).toFixed(2) + " s" + (rest ? ": " + rest : "")));
    }
    if (!s.events.length) ev.append(DS.el("li", { "class": "muted" }, "none in this clip"));
    const t = $("objects");
    t.replaceChildren();
    const head = DS.el("tr");
    for (const h of ["instance", "class", "bbox2d [x0,y0,x1,y1] px", "visible px", "distance m"]) {
      head.append(DS.el("th", {}, h));
    }
    t.append(head);
    for (const o of s.objects) {
      const tr = DS.el("tr");
      const sw = DS.el("td");
      sw.append(DS.el("span", { "class": "swatch", style: "background:" + DS.rgb(o.instance_color) }),
                document.createTextNode("#" + o.instance_id));
      tr.append(sw, DS.el("td", {}, o["class"]), DS.el("td", {}, JSON.stringify(o.bbox2d)),
                DS.el("td", {}, o.visible_px), DS.el("td", {}, (o.distance_m || 0).toFixed(1)));
      t.append(tr);
    }
    const qc = $("qc");
    qc.replaceChildren();
    const r = record(current);
    if (index.qc_report) {
      qc.append(DS.el("h2", {}, "QC findings"));
      const ul = DS.el("ul");
      for (const f of r.qc_detail || []) ul.append(DS.el("li", {}, f.check + " (" + f.source + "): " + f.reason));
      if (!(r.qc_detail || []).length) {
        const unchecked = (r.qc || []).indexOf("unchecked") >= 0;
        ul.append(DS.el("li", { "class": "muted" },
          unchecked ? "not checked (no QC report for this folder)" : "none"));
      }
      qc.append(ul);
    }
    $("json").textContent = JSON.stringify(s.meta, null, 2);
  }

  DS.sample = function (s) {
    const r = record(current);
    if (!r || s.key !== r.key || s.shard !== r.shard) return;  // a stale load
    const t0 = performance.now();
    camera(s, r.dir);
    depth(s, r.dir);
    spectrogram(s, r.dir);
    text(s);
    document.title = s.key + " \u2014 drivesynth";
    DS.sampleRenderMs = performance.now() - t0;
    DS.current = s;
    document.body.dataset.loaded = String(current);
  };

  function go(i) { location.hash = "#" + i; }

  function step(delta) {
    const pos = sequence.findIndex(function (o) { return o.i === current; });
    const next = sequence[pos + delta];
    if (next) go(next.i); else if (playing) togglePlay();
    return !!next;
  }

  function togglePlay() {
    if (playing) {
      clearInterval(playing); playing = null;
      $("seq-play").textContent = "\u25b6 play";
      return;
    }
    const pos = sequence.findIndex(function (o) { return o.i === current; });
    if (pos === sequence.length - 1) go(sequence[0].i);
    $("seq-play").textContent = "\u25a0 stop";
    playing = setInterval(function () { step(1); }, frameMs);
  }

  DS.nav = function (payload) {
    index = payload;
    for (const id of ["show-sem", "show-inst", "show-box2d", "show-box3d", "opacity"]) {
      $(id).addEventListener("input", setLayers);
      $(id).addEventListener("change", setLayers);
    }
    $("prev").onclick = function () { go(current - 1); };
    $("next").onclick = function () { go(current + 1); };
    $("seq-prev").onclick = function () { step(-1); };
    $("seq-next").onclick = function () { step(1); };
    $("seq-play").onclick = togglePlay;
    $("play-audio").onclick = function () {
      const a = $("audio");
      a.currentTime = 0;
      a.play().catch(function (e) { DS.showError("audio: " + e.message); });
    };
    document.addEventListener("keydown", function (e) {
      if (e.target.tagName === "INPUT") return;
      if (e.key === "j") go(Math.min(current + 1, index.records.length - 1));
      if (e.key === "k") go(Math.max(current - 1, 0));
    });
    window.addEventListener("hashchange", function () { show(parseInt(location.hash.slice(1), 10) || 0); });
    show(parseInt(location.hash.slice(1), 10) || 0);
  };
})();
