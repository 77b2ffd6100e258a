/* tts view, plots: inline SVG line charts with a log2 x axis, drawn from results.json's numbers. */

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22"];

/* series: [{name, color, dashed, points: [{x, y, label}]}]; x > 0 on a log2 axis, y in % from 0. */
function linePlot(id, title, xlabel, series) {
  const W = 680, H = 400, L = 58, R = 16, T = 30, B = 50;
  const points = series.flatMap((line) => line.points);
  const lx = points.map((p) => Math.log2(Math.max(p.x, 1)));
  let x0 = Math.floor(Math.min(...lx)), x1 = Math.ceil(Math.max(...lx));
  if (x1 <= x0) { x0 -= 1; x1 += 1; }
  const top = Math.min(100, Math.max(10, Math.max(...points.map((p) => p.y)) * 1.15));
  const X = (x) => L + (Math.log2(Math.max(x, 1)) - x0) / (x1 - x0) * (W - L - R);
  const Y = (y) => H - B - y / top * (H - T - B);
  const tip = h("div", {cls: "tip", role: "status"});
  const plot = s("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": title});
  plot.appendChild(s("text", {x: W / 2, y: 18, "text-anchor": "middle", cls: "title", text: title}));
  const step = Math.max(1, Math.ceil((x1 - x0) / 10));
  for (let e = x0; e <= x1; e += step) {
    plot.appendChild(s("line", {x1: X(2 ** e), x2: X(2 ** e), y1: T, y2: H - B, cls: "gridline"}));
    plot.appendChild(s("text", {x: X(2 ** e), y: H - B + 16, "text-anchor": "middle", text: String(2 ** e)}));
  }
  for (let i = 0; i <= 5; i++) {
    const y = top * i / 5;
    plot.appendChild(s("line", {x1: L, x2: W - R, y1: Y(y), y2: Y(y), cls: "gridline"}));
    plot.appendChild(s("text", {x: L - 6, y: Y(y) + 4, "text-anchor": "end", text: y.toFixed(0)}));
  }
  plot.appendChild(s("text", {x: (L + W - R) / 2, y: H - 10, "text-anchor": "middle", text: xlabel}));
  plot.appendChild(s("text", {x: 14, y: (T + H - B) / 2, "text-anchor": "middle",
    transform: `rotate(-90 14 ${(T + H - B) / 2})`, text: "accuracy (%)"}));
  series.forEach((line, li) => {
    const color = line.color || PALETTE[li % PALETTE.length];
    const d = line.points.map((p, i) => (i ? "L" : "M") + X(p.x).toFixed(1) + " " + Y(p.y).toFixed(1)).join(" ");
    plot.appendChild(s("path", {d, stroke: color, fill: "none", "stroke-width": 2,
      "stroke-dasharray": line.dashed ? "6 4" : null, cls: "series", "data-series": line.name}));
    for (const p of line.points) {
      const label = `${line.name} \u2014 ${p.label}: ${p.y.toFixed(1)}% at ${p.x.toFixed(1)}`;
      const dot = s("circle", {cx: X(p.x), cy: Y(p.y), r: 5, fill: color, cls: "pt", "data-label": label},
        s("title", {text: label}));
      dot.addEventListener("mouseenter", () => {
        tip.textContent = label;
        tip.style.left = (X(p.x) + 10) + "px";
        tip.style.top = (Y(p.y) - 10) + "px";
        tip.classList.add("on");
      });
      dot.addEventListener("mouseleave", () => tip.classList.remove("on"));
      plot.appendChild(dot);
    }
  });
  const legend = h("ul", {cls: "legend"}, series.map((line, li) => h("li", null,
    h("span", {cls: "swatch" + (line.dashed ? " dashed" : ""), "data-color": li % PALETTE.length}), line.name)));
  legend.querySelectorAll(".swatch").forEach((sw, li) => {
    sw.style.borderColor = series[li].color || PALETTE[li % PALETTE.length];
  });
  return h("figure", {id, cls: "plot"}, h("div", {cls: "plotbox"}, plot, tip), legend);
}

function accuracyPlot() {
  const series = [];
  RUNS.forEach((run) => run.methods.forEach((method) => {
    const points = method.cells.map((cid) => run.settings.find((x) => x.id === cid))
      .filter((x) => x && x.metrics)
      .map((x) => ({x: Math.max(x.metrics.avg_thinking_tokens, 1), y: x.metrics.accuracy, label: x.label}));
    if (points.length) series.push({name: (RUNS.length > 1 ? run.label + ": " : "") + method.label, points});
  }));
  if (!series.length) return h("p", {text: "No setting has finished yet."});
  return linePlot("plot-accuracy", "accuracy vs thinking", "average thinking tokens (log2)", series);
}

function atKPlot() {
  const series = [];
  let color = 0;
  RUNS.forEach((run) => run.settings.forEach((x) => {
    const m = x.metrics;
    if (!m || !m.maj_at_k) return;
    const name = (RUNS.length > 1 ? run.label + ": " : "") + settingName(RUNS.indexOf(run), run.settings.indexOf(x));
    const pts = (table) => Object.entries(table).map(([k, y]) => ({x: Number(k), y, label: "k=" + k}));
    const c = PALETTE[color++ % PALETTE.length];
    series.push({name: "maj@k " + name, color: c, points: pts(m.maj_at_k)});
    series.push({name: "pass@k " + name, color: c, dashed: true, points: pts(m.pass_at_k)});
  }));
  if (!series.length) return null;
  return linePlot("plot-at-k", "parallel scaling: maj@k (solid) and pass@k (dashed)", "k samples (log2)", series);
}
