/* tts view, traces: one problem under two settings side by side, every intervention marked in place. */

let traceState = null;  // [{r, j}, {r, j} | null]

const IV_TEXT = {inject: "injected", end_thinking: "end of thinking", fork: "fork", reject: "rejected attempt"};

/* Where each intervention goes in the thinking text. Positions are in tokens; an injected string is found
   in the text (the occurrence nearest the token position's share of the text), anything else is placed at
   that share. Interventions of attempts a later rejection discarded are listed, not placed. */
function placeInterventions(t) {
  const text = t.thinking || "", n = Math.max(t.num_thinking_tokens, 1), all = t.interventions || [];
  const lastReject = all.map((iv) => iv.kind).lastIndexOf("reject");
  const marks = [];
  let cursor = 0;
  all.slice(lastReject + 1).forEach((iv) => {
    if (iv.phase === "answer") return;
    const estimate = Math.min(text.length, Math.round(iv.position / n * text.length));
    if (iv.kind === "end_thinking") { marks.push({at: text.length, end: text.length, iv}); return; }
    if (iv.text && iv.kind === "inject") {
      let best = -1;
      for (let at = text.indexOf(iv.text, cursor); at !== -1; at = text.indexOf(iv.text, at + 1)) {
        if (best === -1 || Math.abs(at - estimate) < Math.abs(best - estimate)) best = at;
        if (at > estimate) break;
      }
      if (best >= 0) { marks.push({at: best, end: best + iv.text.length, iv}); cursor = best + iv.text.length; return; }
    }
    marks.push({at: Math.max(cursor, estimate), end: Math.max(cursor, estimate), iv});
  });
  return {marks: marks.sort((a, b) => a.at - b.at), rejected: all.slice(0, lastReject + 1)};
}

function ivTitle(iv) {
  return `${IV_TEXT[iv.kind] || iv.kind} at token ${iv.position}: ${iv.reason}` +
    (iv.strategy ? ` (${iv.strategy})` : "") + (iv.num_tokens ? `, ${iv.num_tokens} tokens` : "");
}

function ivClass(iv) {
  if (iv.kind === "end_thinking") return /reached|budget|max_/.test(iv.reason) ? "iv iv-cut" : "iv iv-end";
  return "iv iv-" + iv.kind;
}

function ivLabel(iv) {
  if (iv.kind === "end_thinking") {
    return (ivClass(iv).includes("cut") ? "\u2702 budget cut: " : "\u25a0 end of thinking: ") + iv.reason;
  }
  if (iv.kind === "fork") return "\u2442 fork: " + iv.reason;
  return "\u25c6 " + (IV_TEXT[iv.kind] || iv.kind) + ": " + iv.reason;
}

function thinkingNode(t) {
  const {marks} = placeInterventions(t), text = t.thinking || "", pre = h("pre", {cls: "thinking"});
  let at = 0;
  for (const m of marks) {
    if (m.at < at) continue;
    pre.appendChild(document.createTextNode(text.slice(at, m.at)));
    if (m.end > m.at) pre.appendChild(h("mark", {cls: ivClass(m.iv), title: ivTitle(m.iv), text: text.slice(m.at, m.end)}));
    else pre.appendChild(h("span", {cls: ivClass(m.iv) + " point", title: ivTitle(m.iv), text: ivLabel(m.iv)}));
    at = m.end;
  }
  pre.appendChild(document.createTextNode(text.slice(at)));
  return pre;
}

/* The answer, with text the end of thinking forced into it (e.g. "Final Answer:") marked. */
function answerNode(t) {
  const answer = t.answer || "", pre = h("pre", {cls: "answer"});
  const end = (t.interventions || []).filter((iv) => iv.kind === "end_thinking").pop();
  const forced = end && end.text ? end.text.slice(end.text.lastIndexOf("\n") + 1) : "";
  if (forced && answer.startsWith(forced) && end.text.includes("\n")) {
    pre.appendChild(h("mark", {cls: "iv iv-forced", title: `forced by ${end.strategy} (${end.reason})`, text: forced}));
    pre.appendChild(document.createTextNode(answer.slice(forced.length)));
  } else {
    pre.textContent = answer;
  }
  return pre;
}

function fact(label, value, cls) {
  return [h("dt", {text: label}), h("dd", {cls, text: value === null || value === undefined ? "-" : String(value)})];
}

function paneView(which, sel) {
  const run = RUNS[sel.r], x = sampleAt(sel.r, sel.j), t = traceRecord(sel.r, sel.j), setting = run.settings[x.s];
  const budget = setting.metrics ? setting.metrics.budget : null;
  const choices = [];
  RUNS.forEach((other, r) => {
    const pi = other.problemIndex.get(run.problems[x.p].id);
    if (pi === undefined) return;
    other.settings.forEach((_, si) => (other.cells[si].get(pi) || []).forEach((j) => choices.push({r, j})));
  });
  const label = (c) => {
    const y = sampleAt(c.r, c.j);
    return (RUNS.length > 1 ? RUNS[c.r].label + " \u00b7 " : "") + settingName(c.r, y.s) +
      (RUNS[c.r].settings[y.s].metrics && RUNS[c.r].settings[y.s].metrics.samples_per_problem > 1 ? ` \u00b7 sample ${y.k}` : "") +
      ` (${VERDICT_TEXT[y.verdict]})`;
  };
  const select = h("select", {cls: "pick", "data-pane": which, onchange: (event) => {
    traceState[which] = choices[Number(event.target.value)];
    showTrace();
  }}, choices.map((c, i) => h("option", {value: i, selected: c.r === sel.r && c.j === sel.j, text: label(c)})));
  const {rejected} = placeInterventions(t);
  return h("div", {cls: "pane", "data-setting": setting.id, "data-sample": x.k, "data-verdict": x.verdict}, select,
    h("h3", null, h("span", {cls: "badge v-" + x.verdict, text: VERDICT_TEXT[x.verdict]}), " ", settingName(sel.r, x.s)),
    h("dl", {cls: "facts"},
      fact("thinking tokens", x.thinking + (budget !== null ? ` of budget ${budget}` : "") +
        ` (${t.thinking_finish_reason || "-"})`),
      fact("answer tokens", `${x.answer} (${t.answer_finish_reason || "-"})`),
      fact("sample", `${x.k + 1} of ${t.num_samples}` + (t.branch ? `, branch ${t.branch}` : "")),
      fact("attempts", `${t.attempts}` + (t.accepted === false ? " (none accepted)" : ""))),
    rejected.length > 0 && h("div", {cls: "rejected"}, h("h4", {text: "Rejected attempts"}),
      h("ul", null, rejected.map((iv) => h("li", {cls: ivClass(iv), text: ivTitle(iv)})))),
    h("h4", {text: "Thinking"}), thinkingNode(t),
    h("h4", {text: "Answer"}), answerNode(t),
    h("dl", {cls: "facts verdict"},
      fact("extracted", t.extracted, "extracted"), fact("reference", t.reference, "reference"),
      fact("verdict", `${VERDICT_TEXT[x.verdict]}, decided by ${t.grade_method}` +
        (t.grade_failure ? ` (${t.grade_failure})` : ""), "v-" + x.verdict),
      t.num_samples > 1 && fact("aggregated answer", t.aggregate_answer)),
    h("h4", {text: "Interventions"}),
    h("ol", {cls: "interventions"}, (t.interventions || []).map((iv) => h("li", {cls: ivClass(iv)},
      h("b", {text: IV_TEXT[iv.kind] || iv.kind}), ` at token ${iv.position} (${iv.phase}): `,
      h("code", {text: iv.text}), ` \u2014 ${iv.reason}` + (iv.strategy ? `, ${iv.strategy}` : "")))));
}

/* The second pane shows the same problem under the next setting of the same method (or the next setting). */
function partner(sel) {
  const run = RUNS[sel.r], x = sampleAt(sel.r, sel.j), setting = run.settings[x.s];
  const method = run.methods.find((m) => setting.methods.includes(m.label));
  const order = method ? method.cells.map((cid) => run.settings.findIndex((y) => y.id === cid)) : [];
  const rest = run.settings.map((_, si) => si).filter((si) => si !== x.s);
  const pos = order.indexOf(x.s);
  const candidates = [...order.slice(pos + 1), ...order.slice(0, Math.max(pos, 0)).reverse(), ...rest];
  for (const si of candidates) {
    const rows = run.cells[si].get(x.p);
    if (si !== x.s && rows && rows.length) return {r: sel.r, j: rows[Math.min(x.k, rows.length - 1)]};
  }
  return null;
}

function openTrace(sel) {
  traceState = [sel, partner(sel)];
  show("trace");
}

function traceView() {
  if (!traceState) return h("section", {id: "trace"}, h("p", {text: "Pick a sample in Samples or a cell in Grid."}));
  const run = RUNS[traceState[0].r], problem = run.problems[sampleAt(traceState[0].r, traceState[0].j).p];
  return h("section", {id: "trace"},
    h("h2", {text: "Problem " + problem.id}),
    Object.keys(problem.meta).length > 0 && h("p", {cls: "muted",
      text: Object.entries(problem.meta).map(([k, v]) => `${k}: ${v}`).join(" \u00b7 ")}),
    h("pre", {cls: "question", text: problem.question === null || problem.question === undefined
      ? "(the samples file does not hold the question)" : problem.question}),
    h("p", null, "reference answer: ", h("code", {text: problem.target})),
    h("div", {cls: "panes"}, traceState.map((sel, which) => sel ? paneView(which, sel) : h("div", {cls: "pane",
      text: "This problem ran under one setting only."}))));
}

function showTrace() {
  const node = document.getElementById("trace");
  node.replaceWith(traceView());
}
