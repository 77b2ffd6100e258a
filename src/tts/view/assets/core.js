"use strict";
/* tts view, core: the embedded data and DOM helpers.
   Model output is untrusted: it only ever reaches the page through textContent or text nodes, never through
   innerHTML, so a trace that contains markup or a script shows as text. */

const INDEX = JSON.parse(document.getElementById("tts-index").textContent);
const RUNS = INDEX.runs;
const VERDICTS = INDEX.verdicts;
const VERDICT_TEXT = {right: "right", wrong: "wrong", none: "no answer", timeout: "timed out"};
const VERDICT_MARK = {right: "\u2713", wrong: "\u2717", none: "\u2205", timeout: "T"};
const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

/* h("td", {cls: "x", text: value, onclick: f, "data-k": 1}, ...children): an element, text set as text. */
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  return append(node, children);
}

function s(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, props);
  return append(node, children);
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "cls") node.setAttribute("class", value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function fmt(value, digits) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

/* Trace blobs are parsed on first use only: the page opens without reading any trace. */
const blobs = new Map();
function traceBlob(r, si) {
  const key = r + "-" + si;
  if (!blobs.has(key)) {
    const node = document.getElementById("tts-t-" + key);
    blobs.set(key, node ? JSON.parse(node.textContent) : []);
  }
  return blobs.get(key);
}

/* Per run: where each setting's samples start in the columns, and (setting, problem) -> sample rows. */
function prepareRun(run) {
  const cols = run.samples;
  run.count = cols.s.length;
  run.start = [];
  run.cells = run.settings.map(() => new Map());
  for (let j = 0; j < run.count; j++) {
    const si = cols.s[j];
    if (run.start[si] === undefined) run.start[si] = j;
    const cell = run.cells[si];
    if (!cell.has(cols.p[j])) cell.set(cols.p[j], []);
    cell.get(cols.p[j]).push(j);
  }
  run.problemIndex = new Map(run.problems.map((p, i) => [p.id, i]));
}
RUNS.forEach(prepareRun);

function sampleAt(r, j) {
  const run = RUNS[r], c = run.samples;
  return {r, j, s: c.s[j], p: c.p[j], k: c.k[j], verdict: VERDICTS[c.v[j]], thinking: c.t[j], answer: c.a[j]};
}

function traceRecord(r, j) {
  const si = RUNS[r].samples.s[j];
  return traceBlob(r, si)[j - RUNS[r].start[si]];
}

function settingName(r, si) {
  const setting = RUNS[r].settings[si];
  return (setting.methods.join(" / ") || "(no method)") + " \u00b7 " + setting.label;
}

/* A sortable table: columns [{key, label, num}], rows [{values: {key: [text, sortValue]}, attrs, onclick}]. */
function sortableTable(id, columns, rows) {
  const tbody = h("tbody");
  const fill = (list) => {
    tbody.replaceChildren(...list.map((row) => h("tr", Object.assign({onclick: row.onclick}, row.attrs),
      columns.map((col) => {
        const [text, value] = row.values[col.key] || ["", ""];
        return h("td", {cls: col.num ? "num" : null, "data-col": col.key, "data-value": value, text});
      }))));
  };
  const head = h("tr", null, columns.map((col) => h("th", {
    cls: "sortable" + (col.num ? " num" : ""), "data-col": col.key, title: "sort by " + col.label, text: col.label,
    onclick: (event) => {
      const th = event.currentTarget, up = th.getAttribute("aria-sort") !== "ascending";
      head.querySelectorAll("th").forEach((x) => x.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      const key = (row) => (row.values[col.key] || ["", ""])[1];
      const sorted = rows.slice().sort((a, b) => {
        const x = key(a), y = key(b);
        const d = col.num ? (x === "" ? -Infinity : x) - (y === "" ? -Infinity : y) : String(x).localeCompare(String(y));
        return up ? d : -d;
      });
      fill(sorted);
    },
  })));
  fill(rows);
  return h("table", {id, cls: "data"}, h("thead", null, head), tbody);
}
