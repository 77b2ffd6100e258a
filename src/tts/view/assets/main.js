/* tts view, main: the header, the tabs and the section on show. */

const TABS = [["summary", "Summary"], ["plots", "Plots"], ["grid", "Grid"], ["samples", "Samples"], ["trace", "Trace"]];
let current = "summary";

function section(tab) {
  if (tab === "summary") return summaryView();
  if (tab === "plots") return plotsView();
  if (tab === "grid") return gridView();
  if (tab === "samples") return samplesView(PAGE);
  return traceView();
}

function show(tab) {
  current = tab;
  const app = document.getElementById("app");
  const total = RUNS.reduce((n, run) => n + run.count, 0);
  const refresh = () => show(current);
  app.replaceChildren(...[
    h("header", null, h("h1", {text: "tts view"}),
      h("span", {cls: "muted", text: `${RUNS.length} comparison${RUNS.length > 1 ? "s" : ""}, ${total} samples`})),
    h("nav", null, TABS.map(([id, label]) => h("button", {id: "tab-" + id, cls: id === tab ? "tab on" : "tab",
      onclick: () => show(id), text: label}))),
    (tab === "grid" || tab === "samples") && filterBar(refresh),
    section(tab)].filter(Boolean));
  document.body.setAttribute("data-tab", tab);
}

show("summary");
document.body.setAttribute("data-ready", String(Math.round(performance.now())));
