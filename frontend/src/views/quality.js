// Quality vs sparsity: a metric of each selected run (validation accuracy, loss, ...) against
// whole-model sparsity, from the backend's `metrics` and `quality` routes, with the point where
// the metric first falls below its best by more than a tolerance marked.
import { formatPercent } from "../view_models/format.js";
import { metricAdvice } from "../view_models/runs.js";
import { chooseMetric, defaultToleranceText, firstDropText, formatMetric, mergeMetricLists, parseTolerance, qualityLines, sparsityDomain, toleranceUnit } from "../view_models/quality.js";
import { paddedExtent } from "../view_models/xy_chart.js";
import { el, replaceChildren, swatch } from "./dom.js";
import { XYChart } from "./xy_chart.js";

export class QualityView {
  /**
   * @param {{controls: HTMLElement, body: HTMLElement}} parts
   * @param {{onPick: (step: number, run: string) => void, store: import("../store.js").Store}} options
   */
  constructor({ controls, body }, { onPick = () => {}, store }) {
    this.store = store; // fetches and caches the metrics and quality documents
    this.onPick = onPick;
    this.metric = null;
    this.toleranceText = null; // null: the metric's default
    this.runDatas = [];

    this.metricSelect = el("select", { class: "metric-picker", attrs: { "aria-label": "metric" }, on: { change: (e) => this.setMetric(e.target.value) } });
    this.toleranceInput = el("input", {
      class: "tolerance",
      attrs: { type: "number", min: "0", step: "any", "aria-label": "tolerance", inputmode: "decimal" },
      on: { change: () => this.setTolerance(this.toleranceInput.value) },
    });
    this.toleranceUnit = el("span", { class: "muted small" });
    this.toleranceError = el("span", { class: "filter-error" });
    replaceChildren(
      controls,
      el("label", { class: "control" }, el("span", { text: "Metric " }), this.metricSelect),
      el(
        "label",
        { class: "control", attrs: { title: "the first point worse than the best value so far by more than this is marked" } },
        el("span", { text: "Drop tolerance " }),
        this.toleranceInput,
        this.toleranceUnit,
      ),
      this.toleranceError,
    );
    this.message = el("div", { class: "view-message" });
    this.chartBox = el("div", { class: "chart-box quality-chart" });
    this.legend = el("div", { class: "quality-legend" });
    this.summary = el("div", { class: "quality-summary" });
    this.notes = el("div", { class: "view-notes" });
    replaceChildren(body, this.message, this.chartBox, this.legend, this.summary, this.notes);
    this.chart = new XYChart(this.chartBox, { height: 340, onPick: (step, run) => this.onPick(step, run) });
  }

  currentMetric() {
    return this.options.find((o) => o.id === this.metric) || null;
  }

  setMetric(id) {
    this.metric = id;
    this.toleranceText = null;
    this.update(this.runDatas);
  }

  setTolerance(text) {
    this.toleranceText = text;
    this.update(this.runDatas);
  }

  /** @param {{run, color, label, data, info}[]} runDatas selected runs with their analysis */
  update(runDatas) {
    this.runDatas = runDatas;
    const metricsOf = new Map(runDatas.map((r) => [r.run, this.store.metrics(r.run)]));
    const lists = runDatas.filter((r) => metricsOf.get(r.run).value).map((r) => ({ run: r.run, metrics: metricsOf.get(r.run).value }));
    this.options = mergeMetricLists(lists);
    this.metric = chooseMetric(this.options, this.metric);
    const metric = this.currentMetric();
    const direction = metric ? metric.direction : "higher_is_better";
    if (this.toleranceText === null) this.toleranceText = defaultToleranceText(direction);
    const tolerance = parseTolerance(this.toleranceText, direction);
    this.renderControls(metric, direction, tolerance);

    const entries = [];
    const lacking = [];
    for (const r of runDatas) {
      const m = metricsOf.get(r.run);
      if (m.error) {
        lacking.push({ run: r.run, text: m.error.message, error: true });
        continue;
      }
      if (!m.value) {
        lacking.push({ run: r.run, text: "loading its metrics\u2026" });
        continue;
      }
      if (!m.value.length) {
        lacking.push({ run: r.run, text: `its directory holds no other run with scalars (e.g. validation accuracy): to compare quality, ${metricAdvice([r.info && r.info.framework])}` });
        continue;
      }
      if (!metric) continue;
      if (!m.value.some((x) => x.id === metric.id)) {
        lacking.push({ run: r.run, text: `its directory has no ${metric.label}.` });
        continue;
      }
      if (tolerance.value === null) continue;
      const got = this.store.quality(r.run, metric.id, tolerance.value);
      if (got.error) lacking.push({ run: r.run, text: got.error.message, error: true });
      else if (!got.value) lacking.push({ run: r.run, text: "loading\u2026" });
      else entries.push({ ...r, doc: got.value });
    }
    this.render(metric, entries, lacking, runDatas);
  }

  renderControls(metric, direction, tolerance) {
    const total = this.runDatas.length;
    const wanted = `${total}\u0001${this.options.map((o) => `${o.id}\u0000${o.runs.length}`).join("\u0001")}`;
    if (this.optionsSignature !== wanted) {
      this.optionsSignature = wanted;
      replaceChildren(
        this.metricSelect,
        this.options.map((o) =>
          el("option", { attrs: { value: o.id, title: o.id }, text: o.runs.length < total ? `${o.label} \u2014 ${o.runs.length} of ${total} runs` : o.label }),
        ),
      );
    }
    this.metricSelect.disabled = this.options.length === 0;
    if (this.metric) this.metricSelect.value = this.metric;
    if (document.activeElement !== this.toleranceInput) this.toleranceInput.value = this.toleranceText;
    this.toleranceUnit.textContent =
      toleranceUnit(direction) === "points" ? " points (1 = 0.01)" : ` (in the metric's unit; ${metric ? "lower is better" : ""})`;
    this.toleranceInput.classList.toggle("invalid", tolerance.value === null);
    this.toleranceError.textContent = tolerance.error || "";
  }

  render(metric, entries, lacking, runDatas) {
    const messages = [];
    if (runDatas.length === 0) messages.push("Select a run on the left to compare its quality against sparsity.");
    else if (!metric && runDatas.every((r) => this.store.metrics(r.run).state !== "loading")) {
      messages.push(`None of the selected runs logs a quality metric next to its sparsity: ${metricAdvice(runDatas.map((r) => r.info && r.info.framework))}`);
    }
    replaceChildren(this.message, messages.map((text) => el("p", { class: "view-message-text", text })));
    const lines = qualityLines(entries);
    const direction = metric ? metric.direction : "higher_is_better";
    this.chartBox.hidden = lines.length === 0;
    this.legend.hidden = lines.length === 0;
    if (lines.length) {
      const ys = lines.flatMap((l) => l.points.map((p) => p.y));
      const accuracyLike = direction !== "lower_is_better" && ys.every((y) => y >= 0 && y <= 1);
      this.chart.update({
        lines,
        xDomain: sparsityDomain(lines),
        yDomain: paddedExtent(ys),
        xFormat: (v) => `${Math.round(v * 100)}%`,
        yFormat: (v) => (accuracyLike ? `${+(v * 100).toFixed(1)}%` : String(+v.toPrecision(3))),
        xLabel: "whole-model sparsity",
        yLabel: metric ? metric.label : "",
        describe: (line, p) =>
          `${line.label} \u00b7 step ${p.step} \u00b7 sparsity ${formatPercent(p.x)}${p.estimated ? " (from the schedule)" : ""} \u00b7 ${formatMetric(p.y, direction)}`,
      });
      replaceChildren(
        this.legend,
        el("span", { class: "legend-item" }, el("span", { class: "dot-key dot-filled" }), "sparsity as logged"),
        el("span", { class: "legend-item" }, el("span", { class: "dot-key dot-hollow" }), "sparsity from the schedule (no record covers that step)"),
        el("span", { class: "legend-item" }, el("span", { class: "dot-key dot-ring" }), "first drop beyond the tolerance"),
        el("span", { class: "legend-item muted" }, "click a point to open the table at its step"),
      );
    }
    const rows = entries.map((e) => {
      const d = e.doc;
      const last = d.points.length ? d.points[d.points.length - 1] : null;
      return el(
        "tr",
        { dataset: { run: e.run } },
        el("td", { class: "col-run" }, el("div", { class: "run-cell" }, swatch(e.color), el("span", { class: "run-label", text: e.label || e.run, attrs: { title: e.run } }))),
        el("td", { class: `first-drop${d.first_drop ? " has-drop" : ""}`, text: firstDropText(d) }),
        el("td", { class: "num", text: last ? `${formatMetric(last[2], d.direction)} at ${formatPercent(last[1])}` : "—" }),
        el("td", { class: "alignment muted small", text: d.alignment && d.alignment.text ? d.alignment.text : "" }),
      );
    });
    const lackingRows = lacking.map((l) =>
      el(
        "tr",
        { class: l.error ? "lacking error" : "lacking", dataset: { run: l.run } },
        el("td", { class: "col-run" }, el("div", { class: "run-cell" }, swatch(this.colorOf(l.run)), el("span", { class: "run-label", text: l.run }))),
        el("td", { attrs: { colspan: "3" }, text: l.text }),
      ),
    );
    if (rows.length || lackingRows.length) {
      replaceChildren(
        this.summary,
        el(
          "table",
          { class: "summary-table" },
          el(
            "thead",
            {},
            el("tr", {}, el("th", { class: "col-run", text: "run" }), el("th", { text: "first drop beyond the tolerance" }), el("th", { text: "last point" }), el("th", { text: "how steps were aligned" })),
          ),
          el("tbody", {}, rows, lackingRows),
        ),
      );
    } else replaceChildren(this.summary);
    const notes = entries.flatMap((e) => (e.doc.notes || []).map((n) => `${e.label || e.run}: ${n}`));
    replaceChildren(this.notes, notes.map((text) => el("p", { class: "muted small", text })));
  }

  colorOf(run) {
    const r = this.runDatas.find((x) => x.run === run);
    return r ? r.color : "#999";
  }

  resize() {
    if (!this.chartBox.hidden) this.chart.resize();
  }
}
