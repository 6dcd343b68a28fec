// The diagnostics panel: every diagnostic of the selected runs, worst first; a click leads to
// the layer's chart (or, for run-level diagnostics, to the run).
import { el, replaceChildren, swatch } from "./dom.js";
import { comparisonHeadline, groupDiagnostics } from "../view_models/diagnostics.js";

const SEVERITY_LABELS = { error: "error", warning: "warning", info: "info" };

/**
 * @param {HTMLElement} container
 * @param {{items: object[], onSelect: (item: object) => void, activeId: string|null,
 *          comparison?: object}} props items from collectDiagnostics; comparison from
 *   comparisonSummary: what was compared, said under the list (or instead of it)
 */
export function renderDiagnostics(container, { items, onSelect, activeId, comparison = null }) {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const item of items) if (item.diagnostic.severity in counts) counts[item.diagnostic.severity] += 1;
  const summary = el(
    "div",
    { class: "diag-summary" },
    el("h2", { text: "Diagnostics" }),
    ["error", "warning", "info"].map((s) =>
      counts[s] ? el("span", { class: `badge badge-${s}`, text: `${counts[s]} ${s}${counts[s] === 1 ? "" : "s"}` }) : null,
    ),
  );
  const compared = comparison ? notCompared(comparison, items.length) : null;
  if (items.length === 0) {
    replaceChildren(container, summary, compared || el("p", { class: "muted small diag-none", text: "No diagnostics for the selected runs." }));
    return;
  }
  const list = el(
    "ol",
    { class: "diag-list" },
    groupDiagnostics(items).map(({ first: item, others, runs }) => {
      const d = item.diagnostic;
      const id = diagnosticId(item);
      const severity = SEVERITY_LABELS[d.severity] ? d.severity : "info";
      const where = item.layer === null ? "whole run" : item.layerName === item.layer ? item.layer : `${item.layerName} (${item.layer})`;
      return el(
        "li",
        {},
        el(
          "button",
          {
            class: `diag-item diag-${severity}${activeId === id ? " active" : ""}`,
            attrs: { type: "button", title: item.layer === null ? "show this run" : "show this layer's chart" },
            dataset: { layer: item.layer ?? "", run: item.run, code: String(d.code ?? "") },
            on: { click: () => onSelect(item) },
          },
          el(
            "div",
            { class: "diag-head" },
            el("span", { class: `badge badge-${severity}`, text: severity }),
            swatch(item.color),
            el("span", { class: "diag-run", text: item.run }),
            el("span", { class: "diag-where", text: where }),
          ),
          el("div", { class: "diag-message", text: String(d.message ?? d.code ?? "") }),
          el("div", { class: "diag-code", text: String(d.code ?? "") }),
        ),
        others.length
          ? el(
              "div",
              { class: "diag-others" },
              el("span", { class: "muted small", text: `Same on ${others.length} more layer${others.length === 1 ? "" : "s"}:` }),
              others.map((other) =>
                el("button", {
                  class: `diag-layer-link${activeId === diagnosticId(other) ? " active" : ""}`,
                  text: other.layerName === other.layer ? other.layer : `${other.layerName} (${other.layer})`,
                  attrs: { type: "button", title: String(other.diagnostic.message ?? "") },
                  dataset: { layer: other.layer ?? "", run: other.run, code: String(other.diagnostic.code ?? "") },
                  on: { click: () => onSelect(other) },
                }),
              ),
            )
          : null,
        runs.length ? sameInRuns(item, runs, activeId, onSelect) : null,
      );
    }),
  );
  replaceChildren(container, summary, list, compared);
}

// Runs a "not compared" reason names before it folds the rest away.
const NAMED_NOT_COMPARED = 6;

/** What was and was not compared: the headline, then per reason the runs and their layers. */
function notCompared(comparison, count) {
  const headline = comparisonHeadline(comparison, count);
  if (!headline) return null;
  const runLine = (r) =>
    el(
      "li",
      { class: "not-compared-run", dataset: { run: r.run }, attrs: { title: `${r.run}: ${r.layers.join(", ")}` } },
      swatch(r.color, "swatch swatch-small"),
      el("span", { class: "diag-run", text: r.run }),
      el("span", { class: "not-compared-layers", text: r.layers.length > 3 ? `${r.layers.length} layers` : r.layers.join(", ") }),
    );
  return el(
    "div",
    { class: "diag-not-compared small", dataset: { layers: String(comparison.layers), compared: String(comparison.compared) } },
    el("p", { class: "muted diag-none", text: headline }),
    comparison.missing.map((m) =>
      el(
        "div",
        { class: "not-compared-reason", dataset: { count: String(m.count) } },
        el("span", { class: "not-compared-why", text: `${m.why[0].toUpperCase()}${m.why.slice(1)}:` }),
        el("ul", { class: "not-compared-runs" }, m.runs.slice(0, NAMED_NOT_COMPARED).map(runLine)),
        m.runs.length > NAMED_NOT_COMPARED
          ? el("details", { class: "diag-more" }, el("summary", { text: `${m.runs.length - NAMED_NOT_COMPARED} more runs` }), el("ul", { class: "not-compared-runs" }, m.runs.slice(NAMED_NOT_COMPARED).map(runLine)))
          : null,
      ),
    ),
  );
}

// Runs a "same in N more runs" line names before it folds the rest away.
const NAMED_RUNS = 8;

/** "Same in 99 more runs:" with a link to each run's finding (the first few, the rest folded). */
function sameInRuns(item, runs, activeId, onSelect) {
  const link = (other) =>
    el("button", {
      class: `diag-run-link${activeId === diagnosticId(other) ? " active" : ""}`,
      attrs: { type: "button", title: String(other.diagnostic.message ?? "") },
      dataset: { layer: other.layer ?? "", run: other.run, code: String(other.diagnostic.code ?? "") },
      on: { click: () => onSelect(other) },
    }, swatch(other.color, "swatch swatch-small"), other.run);
  const rest = runs.slice(NAMED_RUNS);
  return el(
    "div",
    { class: "diag-others diag-runs", dataset: { count: String(runs.length + 1) } },
    el("span", { class: "muted small", text: `Same in ${runs.length} more run${runs.length === 1 ? "" : "s"} (${runs.length + 1} in all):` }),
    runs.slice(0, NAMED_RUNS).map(link),
    rest.length ? el("details", { class: "diag-more" }, el("summary", { text: `${rest.length} more` }), rest.map(link)) : null,
  );
}

export function diagnosticId(item) {
  return `${item.run}\u0000${item.layer ?? ""}\u0000${item.diagnostic.code}`;
}
