/* drivesynth viewer: helpers shared by index.html and sample.html (no server, no fetch:
   data files are scripts that call DS.index(...) / DS.sample(...)). */
"use strict";
window.DS = window.DS || {};

DS.el = function (tag, attrs, text) {
  const svg = ["svg", "g", "rect", "line", "text", "image", "path", "defs", "pattern",
               "title"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag)
                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

DS.rgb = function (c) { return "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")"; };

DS.showError = function (message) {
  const box = document.getElementById("errors");
  if (!box) return;
  box.hidden = false;
  box.textContent += message + "\n";
};

DS.loadScript = function (src) {
  return new Promise(function (resolve, reject) {
    const s = document.createElement("script");
    s.src = src;
    s.onload = function () { s.remove(); resolve(); };
    s.onerror = function () { s.remove(); reject(new Error("cannot load " + src)); };
    document.head.appendChild(s);
  });
};

/* "#a=1&b=x" <-> {a: "1", b: "x"} */
DS.readHash = function () {
  const out = {};
  const text = location.hash.replace(/^#/, "");
  if (!text) return out;
  for (const part of text.split("&")) {
    const [k, v] = part.split("=");
    if (k) out[decodeURIComponent(k)] = decodeURIComponent(v || "");
  }
  return out;
};
DS.writeHash = function (obj) {
  const parts = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v !== "" && v !== undefined && v !== null) {
      parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    }
  }
  const text = parts.length ? "#" + parts.join("&") : "";
  if (location.hash !== text) history.replaceState(null, "", location.pathname + location.search + text);
};
