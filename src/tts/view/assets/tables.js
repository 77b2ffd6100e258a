/* tts view, tables: the Table-3-style summary, the filters, the problem x setting grid and the sample list. */

const filters = {run: "", method: "", setting: "", verdict: "", text: "", flips: false, meta: {}};
const PAGE = 200;

function runTitle(run) {
  const model = run.model.model || "(server's model)";
  const shard = run.shard ? `, shard ${run.shard}` : "";
  return `grid ${run.grid} on ${run.benchmark} (${run.problems.length} problems), model ${model} (${run.model.engine})${shard}`;
}

function summaryView() {
  const many = RUNS.length > 1;
  const methodCols = [{key: "run", label: "run"}, {key: "method", label: "method"},
    {key: "control", label: "Control", num: true}, {key: "scaling", label: "Scaling", num: true},
    {key: "performance", label: "Performance", num: true}, {key: "settings", label: "settings", num: true}]
    .filter((c) => many || c.key !== "run");
  const methodRows = RUNS.flatMap((run) => run.methods.filter((m) => m.metrics).map((m) => ({
    attrs: {"data-method": m.label, "data-run": run.label},
    values: {run: [run.label, run.label], method: [m.label, m.label],
      control: [m.metrics.control === null ? "-" : m.metrics.text.control + "%", m.metrics.control ?? ""],
      scaling: [m.metrics.text.scaling, m.metrics.scaling ?? ""],
      performance: [m.metrics.text.performance, m.metrics.performance ?? ""],
      settings: [String(m.metrics.settings), m.metrics.settings]},
  })));
  const settingCols = [{key: "run", label: "run"}, {key: "method", label: "method"}, {key: "setting", label: "setting"},
    {key: "accuracy", label: "accuracy (95% CI)", num: true}, {key: "thinking", label: "thinking tokens", num: true},
    {key: "answer", label: "answer tokens", num: true}, {key: "budget", label: "budget", num: true},
    {key: "within", label: "within budget", num: true}, {key: "n", label: "n", num: true},
    {key: "problems", label: "problems", num: true}].filter((c) => many || c.key !== "run");
  const settingRows = [];
  RUNS.forEach((run, r) => run.methods.forEach((m) => m.cells.forEach((cid) => {
    const si = run.settings.findIndex((x) => x.id === cid), x = run.settings[si], v = x.metrics;
    if (!v) return;
    settingRows.push({
      attrs: {"data-setting": cid, "data-method": m.label, "data-run": run.label, title: "show these samples"},
      onclick: () => { Object.assign(filters, {run: String(r), method: m.label, setting: cid}); show("samples"); },
      values: {run: [run.label, run.label], method: [m.label, m.label], setting: [x.label, x.label],
        accuracy: [`${v.text.accuracy} [${v.text.ci_low}, ${v.text.ci_high}]`, v.accuracy],
        thinking: [v.text.avg_thinking_tokens, v.avg_thinking_tokens],
        answer: [v.text.avg_answer_tokens, v.avg_answer_tokens],
        budget: [v.budget === null ? "-" : String(v.budget), v.budget ?? ""],
        within: [v.within_budget === null ? "-" : fmt(100 * v.within_budget, 0) + "%", v.within_budget ?? ""],
        n: [String(v.samples_per_problem), v.samples_per_problem], problems: [String(v.problems), v.problems]},
    });
  })));
  return h("section", {id: "summary"},
    RUNS.map((run) => h("div", {cls: "run"}, h("h2", {text: runTitle(run)}),
      h("p", {cls: "muted", text: `${run.directory} \u00b7 ${run.progress ? run.progress.done + "/" + run.progress.total +
        " problem runs" + (run.progress.complete ? "" : " (incomplete)") : ""} \u00b7 updated ${run.updated} \u00b7 ` +
        Object.entries(run.versions || {}).map(([k, v]) => k + " " + v).join(", ")}))),
    h("h3", {text: "Methods"}), sortableTable("summary-methods", methodCols, methodRows),
    h("p", {cls: "muted", text: "Control: settings whose average thinking stays within the budget. Scaling: mean " +
      "slope of accuracy (points) over log2(thinking tokens), as the paper's Table 3. Performance: best accuracy."}),
    h("h3", {text: "Settings"}), sortableTable("summary-settings", settingCols, settingRows));
}

function plotsView() {
  return h("section", {id: "plots"}, accuracyPlot(), atKPlot());
}

function option(value, text, selected) {
  return h("option", {value, selected: value === selected, text});
}

function filterBar(onchange) {
  const change = (key) => (event) => { filters[key] = event.target.value; onchange(); };
  const methods = [...new Set(RUNS.flatMap((run) => run.methods.map((m) => m.label)))];
  const settings = [...new Map(RUNS.flatMap((run) => run.settings.map((x) => [x.id, x.label]))).entries()];
  const facets = {};
  RUNS.forEach((run) => Object.entries(run.facets).forEach(([k, vals]) => {
    facets[k] = [...new Set([...(facets[k] || []), ...vals.map(String)])];
  }));
  return h("div", {id: "filters", cls: "filters"},
    RUNS.length > 1 && h("label", null, "run ", h("select", {id: "f-run", onchange: change("run")},
      option("", "all", filters.run), RUNS.map((run, r) => option(String(r), run.label, filters.run)))),
    h("label", null, "method ", h("select", {id: "f-method", onchange: change("method")},
      option("", "all", filters.method), methods.map((m) => option(m, m, filters.method)))),
    h("label", null, "setting ", h("select", {id: "f-setting", onchange: change("setting")},
      option("", "all", filters.setting), settings.map(([id, label]) => option(id, label, filters.setting)))),
    h("label", null, "verdict ", h("select", {id: "f-verdict", onchange: change("verdict")},
      option("", "all", filters.verdict), VERDICTS.map((v) => option(v, VERDICT_TEXT[v], filters.verdict)))),
    Object.entries(facets).map(([key, vals]) => h("label", null, key + " ", h("select", {id: "f-meta-" + key,
      onchange: (event) => { filters.meta[key] = event.target.value; onchange(); }},
    option("", "all", filters.meta[key] || ""), vals.map((v) => option(v, v, filters.meta[key] || ""))))),
    h("label", null, "search ", h("input", {id: "f-text", type: "search", value: filters.text,
      placeholder: "question, thinking, answer", onchange: change("text")})),
    h("label", null, h("input", {id: "f-flips", type: "checkbox", checked: filters.flips,
      onchange: (event) => { filters.flips = event.target.checked; onchange(); }}), " only problems that flip"));
}

function settingVisible(r, si) {
  const x = RUNS[r].settings[si];
  return (filters.run === "" || filters.run === String(r)) && (!filters.setting || filters.setting === x.id) &&
    (!filters.method || x.methods.includes(filters.method));
}

function problemVisible(run, pi) {
  const p = run.problems[pi];
  for (const [key, value] of Object.entries(filters.meta)) {
    if (value && String(p.meta[key]) !== value) return false;
  }
  return true;
}

function textMatch(r, j) {
  const needle = filters.text.toLowerCase();
  if (!needle) return true;
  const run = RUNS[r], p = run.problems[run.samples.p[j]];
  if ((p.id + "\n" + (p.question || "")).toLowerCase().includes(needle)) return true;
  const t = traceRecord(r, j);
  return (t.thinking + "\n" + t.answer).toLowerCase().includes(needle);
}

/* The columns of the grid: the visible settings, by method in sweep order (a shared setting under each). */
function gridColumns() {
  const cols = [];
  RUNS.forEach((run, r) => run.methods.forEach((m) => m.cells.forEach((cid) => {
    const si = run.settings.findIndex((x) => x.id === cid);
    if (si >= 0 && settingVisible(r, si) && (!filters.method || m.label === filters.method)) cols.push({r, si, method: m.label});
  })));
  return cols;
}

function gridCell(col, pi) {
  const run = RUNS[col.r], rows = run.cells[col.si].get(pi) || [];
  const found = rows.filter((j) => textMatch(col.r, j));
  if (!rows.length) return {node: h("td", {cls: "cell empty", title: "not run yet"}), verdicts: []};
  const verdicts = found.map((j) => VERDICTS[run.samples.v[j]]);
  const right = verdicts.filter((v) => v === "right").length;
  const main = rows.length === 1 ? verdicts[0] || VERDICTS[run.samples.v[rows[0]]]
    : right * 2 >= rows.length ? "right" : (verdicts.find((v) => v !== "right") || "wrong");
  const dim = !found.length || (filters.verdict && !verdicts.includes(filters.verdict));
  const text = rows.length === 1 ? VERDICT_MARK[main] : `${right}/${rows.length}`;
  const first = found.find((j) => !filters.verdict || VERDICTS[run.samples.v[j]] === filters.verdict) ?? rows[0];
  const node = h("td", {cls: `cell v-${main}` + (dim ? " dim" : ""), "data-problem": run.problems[pi].id,
    "data-setting": run.settings[col.si].id, "data-verdict": main, text,
    title: `${run.problems[pi].id} \u00b7 ${col.method} \u00b7 ${run.settings[col.si].label}: ` +
      (rows.length === 1 ? VERDICT_TEXT[main] : `${right} of ${rows.length} samples right`),
    onclick: () => openTrace({r: col.r, j: first})});
  return {node, verdicts: dim ? [] : [rows.length === 1 ? main : right * 2 >= rows.length ? "right" : "wrong"]};
}

function gridView() {
  const cols = gridColumns();
  const head1 = h("tr", null, h("th", {text: "problem"}), cols.map((c) => h("th", {cls: "method", text: c.method})));
  const head2 = h("tr", null, h("th"), cols.map((c) => h("th", {cls: "setting",
    title: RUNS[c.r].settings[c.si].id}, h("span", {text: RUNS[c.r].settings[c.si].label}))));
  const body = [];
  const base = RUNS[filters.run === "" ? 0 : Number(filters.run)];
  base.problems.forEach((p, pi) => {
    if (!problemVisible(base, pi)) return;
    const cells = cols.map((c) => {
      const run = RUNS[c.r], own = run.problemIndex.get(p.id);
      return own === undefined ? {node: h("td", {cls: "cell empty"}), verdicts: []} : gridCell(c, own);
    });
    const shown = cells.flatMap((c) => c.verdicts);
    if (!shown.length && (filters.text || filters.verdict)) return;
    const flips = shown.includes("right") && shown.some((v) => v !== "right");
    if (filters.flips && !flips) return;
    body.push(h("tr", {"data-problem": p.id, cls: flips ? "flips" : null},
      h("th", {cls: "problem", title: p.question || "", text: p.id + (flips ? " \u21c4" : "")}), cells.map((c) => c.node)));
  });
  return h("section", {id: "grid"}, h("p", {cls: "muted legend-line"},
    VERDICTS.map((v) => h("span", {cls: "cell v-" + v, text: `${VERDICT_MARK[v]} ${VERDICT_TEXT[v]}`})),
    " \u00b7 k/n: samples right \u00b7 \u21c4 the verdict changes across these settings \u00b7 click a cell for its trace"),
  h("div", {cls: "scroll"}, h("table", {cls: "grid"}, h("thead", null, head1, head2), h("tbody", null, body))),
  h("p", {cls: "muted", id: "grid-count", text: `${body.length} problems`}));
}

function filteredSamples() {
  const out = [];
  RUNS.forEach((run, r) => {
    for (let j = 0; j < run.count; j++) {
      const si = run.samples.s[j];
      if (!settingVisible(r, si) || !problemVisible(run, run.samples.p[j])) continue;
      if (filters.verdict && VERDICTS[run.samples.v[j]] !== filters.verdict) continue;
      if (!textMatch(r, j)) continue;
      out.push([r, j]);
    }
  });
  return out;
}

function samplesView(limit) {
  const found = filteredSamples(), many = RUNS.length > 1;
  const rows = found.slice(0, limit).map(([r, j]) => {
    const x = sampleAt(r, j), run = RUNS[r], setting = run.settings[x.s];
    return h("tr", {cls: "clickable", "data-setting": setting.id, "data-problem": run.problems[x.p].id,
      "data-sample": x.k, "data-verdict": x.verdict, onclick: () => openTrace({r, j})},
    many && h("td", {text: run.label}), h("td", {text: setting.methods.join(" / ")}), h("td", {text: setting.label}),
    h("td", {text: run.problems[x.p].id}), h("td", {cls: "num", text: x.k}),
    h("td", {cls: "v-" + x.verdict, text: VERDICT_TEXT[x.verdict]}), h("td", {cls: "num", text: x.thinking}),
    h("td", {cls: "num", text: x.answer}));
  });
  const head = ["method", "setting", "problem", "sample", "verdict", "thinking tokens", "answer tokens"];
  const section = h("section", {id: "samples"}, h("p", {id: "samples-count", cls: "muted",
    text: `${found.length} samples` + (found.length > limit ? `, showing the first ${limit}` : "")}),
  h("table", {cls: "data"}, h("thead", null, h("tr", null, many && h("th", {text: "run"}),
    head.map((t) => h("th", {text: t})))), h("tbody", null, rows)),
  found.length > limit && h("button", {id: "more", text: "show more",
    onclick: () => section.replaceWith(samplesView(limit + PAGE))}));
  return section;
}
