// LunaRoute UI: small SVG and HTML charts drawn with DOM calls only (every label is set as text, never HTML).
"use strict";
(() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.append(node);
    return node;
  }

  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const int = new Intl.NumberFormat("en-US");
  const fmt = {
    int: (n) => (n === null || n === undefined ? "—" : int.format(Math.round(n))),
    compact(n) {
      if (n === null || n === undefined) return "—";
      const a = Math.abs(n);
      const short = (v, digits, unit) => v.toFixed(digits).replace(/\.0$/, "") + unit;
      if (a >= 1e9) return short(n / 1e9, a >= 1e10 ? 0 : 1, "B");
      if (a >= 1e6) return short(n / 1e6, a >= 1e7 ? 0 : 1, "M");
      if (a >= 1e4) return short(n / 1e3, a >= 1e5 ? 0 : 1, "k");
      return int.format(Math.round(n));
    },
    cost(v) {
      if (v === null || v === undefined) return "—";
      if (v === 0) return "$0.00";
      if (Math.abs(v) < 0.0001) return (v < 0 ? "-" : "") + "<$0.0001";
      if (Math.abs(v) < 0.01) return "$" + v.toFixed(4);
      if (Math.abs(v) < 1000) return "$" + v.toFixed(2);
      return "$" + int.format(Math.round(v));
    },
    ms(v) {
      if (v === null || v === undefined) return "—";
      if (v < 1000) return Math.round(v) + " ms";
      if (v < 60000) return (v / 1000).toFixed(1) + " s";
      return Math.floor(v / 60000) + " min " + Math.round((v % 60000) / 1000) + " s";
    },
    pct: (v) => (v === null || v === undefined ? "—" : (Math.round(v * 10) / 10).toString() + "%"),
  };

  // The step of four axis ticks covering v: 1, 2 or 5 times a power of ten (whole numbers when `whole`).
  function tickStep(v, whole) {
    const raw = v > 0 ? v / 4 : 0.25;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = 10 * p;
    for (const m of [1, 2, 5]) if (m * p >= raw) { step = m * p; break; }
    return whole ? Math.max(1, Math.round(step)) : step;
  }

  // Vertical bars: points = [{label, value, title}]; format renders axis values (`whole`: counts).
  function bars(container, points, format, whole) {
    container.textContent = "";
    const W = Math.max(container.clientWidth, 320), H = 220, left = 56, bottom = 24, top = 8;
    const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" }, container);
    const max = 4 * tickStep(Math.max(0, ...points.map((p) => p.value)), whole);
    for (let i = 0; i <= 4; i++) {
      const y = top + ((H - top - bottom) * i) / 4;
      svg("line", { class: "grid-line", x1: left, x2: W, y1: y, y2: y }, root);
      const t = svg("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, root);
      t.textContent = format(max - (max * i) / 4);
    }
    const n = Math.max(points.length, 1), slot = (W - left) / n, bw = Math.max(1, slot * 0.72);
    // Points with an empty label get none; of the others, as many as fit without overlapping (about 80 px each).
    const labelled = points.filter((p) => p.label).length;
    const fits = Math.max(2, Math.floor((W - left) / 80));
    const every = Math.max(1, Math.ceil(labelled / Math.min(8, fits)));
    let seen = 0;
    points.forEach((p, i) => {
      const hgt = ((H - top - bottom) * p.value) / max;
      const x = left + i * slot + (slot - bw) / 2;
      const r = svg("rect", { class: "bar", x, y: H - bottom - hgt, width: bw, height: Math.max(hgt, p.value > 0 ? 1 : 0) }, root);
      svg("title", {}, r).textContent = p.title;
      if (p.label && seen++ % every === 0) {
        const t = svg("text", { x: left + i * slot + slot / 2, y: H - 6, "text-anchor": "middle" }, root);
        t.textContent = p.label;
      }
    });
    return root;
  }

  // Horizontal bars with a name and a value text: items = [{name, value, text, href}].
  function hbars(container, items, empty) {
    container.textContent = "";
    if (!items.length) {
      container.append(h("p", "muted", empty || "Nothing in this window."));
      return;
    }
    const max = Math.max(...items.map((i) => i.value), 1);
    const list = h("ul", "hbars");
    for (const item of items) {
      const li = h("li");
      const name = h(item.href ? "a" : "span", "name", item.name);
      if (item.href) name.href = item.href;
      name.title = item.name;
      const fill = h("div", "fill");
      fill.style.width = ((100 * item.value) / max).toFixed(1) + "%";
      const track = h("div", "track");
      track.append(fill);
      li.append(name, h("span", "val", item.text), track);
      list.append(li);
    }
    container.append(list);
  }

  const KINDS = [
    ["input", "Input"], ["output", "Output"], ["thinking", "Thinking"], ["reasoning", "Reasoning"],
    ["cache_read", "Cache read"], ["cache_creation", "Cache write"], ["audio_input", "Audio in"], ["audio_output", "Audio out"],
  ];

  // A stacked bar of token kinds with its legend (the same classes as the server-rendered one).
  function tokenBar(container, tokens) {
    container.textContent = "";
    const total = KINDS.reduce((s, [k]) => s + (tokens[k] || 0), 0);
    if (!total) {
      container.append(h("p", "muted", "No tokens in this window."));
      return;
    }
    const wrap = h("div", "tokens");
    const bar = svg("svg", { class: "tokbar", viewBox: "0 0 1000 10", preserveAspectRatio: "none", role: "img" }, wrap);
    const legend = h("ul", "legend");
    let x = 0;
    for (const [k, label] of KINDS) {
      const v = tokens[k] || 0;
      if (!v) continue;
      const w = (1000 * v) / total;
      svg("title", {}, svg("rect", { x, y: 0, width: w, height: 10, class: "k-" + k }, bar)).textContent = `${label}: ${fmt.int(v)}`;
      x += w;
      const li = h("li");
      li.dataset.kind = k;
      li.append(h("span", "swatch k-" + k), label + " ", h("strong", null, fmt.int(v)));
      legend.append(li);
    }
    wrap.append(legend);
    container.append(wrap);
  }

  window.LunaCharts = { svg, h, fmt, bars, hbars, tokenBar };
})();
