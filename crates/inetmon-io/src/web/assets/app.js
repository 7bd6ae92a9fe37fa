// inetmon web view: reads the daemon's view stream (server-sent events at
// /events, with this page's query string as the filter) and draws it. No
// library, no build step. Every text from the daemon goes into the page
// as text (textContent), never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#d9480f", "#1971c2", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5c940d"];
const W = 720, H = 220, LEFT = 40, RIGHT = 10, TOP = 10, BOTTOM = 24;

// The last view, for tests and the curious (window.inetmon.view).
window.inetmon = { view: null, views: 0 };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function rows(tbody, items, cells) {
  tbody.replaceChildren();
  if (items.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = 6;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const it of items) {
    const tr = el("tr");
    for (const [text, cls] of cells(it)) tr.append(el("td", text, cls));
    tbody.append(tr);
  }
}

function drawChart(drops) {
  const chart = document.getElementById("chart");
  const legend = document.getElementById("legend");
  chart.replaceChildren();
  legend.replaceChildren();
  const reasons = Object.keys(drops.series).sort();
  let max = 1;
  for (const r of reasons) for (const n of drops.series[r]) if (n > max) max = n;
  const n = 60;
  const x = (i) => LEFT + (i * (W - LEFT - RIGHT)) / (n - 1);
  const y = (v) => H - BOTTOM - (v * (H - TOP - BOTTOM)) / max;
  chart.append(svg("line", { class: "axis", x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM }));
  chart.append(svg("line", { class: "axis", x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM }));
  const top = svg("text", { x: LEFT - 4, y: TOP + 8, "text-anchor": "end" });
  top.textContent = String(max);
  chart.append(top);
  const zero = svg("text", { x: LEFT - 4, y: H - BOTTOM, "text-anchor": "end" });
  zero.textContent = "0";
  chart.append(zero);
  const past = svg("text", { x: LEFT, y: H - 6 });
  past.textContent = "-60 s";
  chart.append(past);
  const nowLabel = svg("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" });
  nowLabel.textContent = "now";
  chart.append(nowLabel);
  reasons.forEach((reason, k) => {
    const color = COLORS[k % COLORS.length];
    const counts = drops.series[reason];
    const pts = counts.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 1.5 }));
    let total = 0;
    counts.forEach((v, i) => {
      total += v;
      if (v === 0) return;
      const c = svg("circle", {
        class: "point", cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, fill: color,
        "data-reason": reason, "data-t": drops.start + i, "data-count": v,
      });
      const title = svg("title", {});
      title.textContent = `${reason}: ${v}/s`;
      c.append(title);
      chart.append(c);
    });
    const li = el("li");
    const sw = el("span", null, "swatch");
    sw.style.background = color;
    li.append(sw, el("span", `${reason} (${total} in 60 s)`));
    li.dataset.reason = reason;
    legend.append(li);
  });
  if (reasons.length === 0) legend.append(el("li", "no drops in the last 60 s", "empty"));
  document.getElementById("drops-note").textContent =
    drops.not_kept > 0 ? `(${drops.not_kept} drops in groups not kept for filtering)` : "";
}

function render(v) {
  window.inetmon.view = v;
  window.inetmon.views += 1;
  document.getElementById("filter").textContent = v.filter;
  drawChart(v.drops);
  rows(document.querySelector("#processes tbody"), v.processes, (p) => [
    [p.comm], [p.pid, "num"], [p.uid, "num"], [p.open, "num"],
  ]);
  rows(document.querySelector("#listening tbody"), v.listening, (l) => [
    [l.proto], [l.addr], [l.port, "num"], [l.comm], [l.pid, "num"],
  ]);
  const audit = document.querySelector("#audit pre");
  audit.textContent = v.audit.length ? v.audit.join("\n") : "none";
  audit.classList.toggle("empty", v.audit.length === 0);
  const total = v.losses.total.reduce((s, t) => s + t.count, 0);
  document.getElementById("loss-total").textContent = total === 0
    ? "0 events lost"
    : `${total} events lost: ` + v.losses.total.map((t) => `${t.source} ${t.stage} ${t.count}`).join(", ");
  rows(document.querySelector("#losses tbody"), v.losses.recent, (l) => [
    [l.time], [l.source], [l.stage], [l.count, "num"], [l.breakdown],
  ]);
  if (v.untracked > 0) {
    document.getElementById("status").textContent = `live (${v.untracked} sockets not tracked)`;
  }
}

function status(text, cls) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = "status " + cls;
}

async function start() {
  const q = window.location.search;
  const check = await fetch("/api/filter" + q);
  if (!check.ok) {
    status((await check.text()).trim(), "error");
    return;
  }
  document.getElementById("filter").textContent = (await check.json()).filter;
  const es = new EventSource("/events" + q);
  es.addEventListener("open", () => status("live", "live"));
  es.addEventListener("error", () => status("reconnecting", "error"));
  es.addEventListener("view", (e) => {
    status("live", "live");
    render(JSON.parse(e.data));
  });
}

start();
