// A chart card: a compact header (title, facts, badges), a readout table (per run: measured,
// expected, difference; at the hovered step, or at each run's last logged step at rest) and
// the chart itself.
import { finalValues, formatPercent, formatPoints, hoverValues } from "../model.js";
import { SparsityChart } from "./chart.js";
import { el, replaceChildren, swatch } from "./dom.js";

export class ChartCard {
  /**
   * @param {{id: string, className?: string, height?: number}} options
   */
  constructor({ id, className = "", height = 150 }) {
    this.id = id;
    this.root = el("article", { class: `card ${className}`.trim(), dataset: { key: id } });
    this.header = el("header", { class: "card-header" });
    this.readout = el("div", { class: "readout" });
    this.plotBox = el("div", { class: "plot" });
    this.footer = el("div", { class: "card-footer" });
    this.root.append(this.header, this.readout, this.plotBox, this.footer);
    this.entries = [];
    this.hoverStep = null;
    this.chart = new SparsityChart(this.plotBox, { height, onCursor: (step) => this.showStep(step) });
  }

  /**
   * @param {{header: Node[], footer?: Node[], entries: {run, color, measured, expected, target,
   *          note?, tooltip?}[]}} props
   */
  update({ header, footer = [], entries }, zoom = undefined) {
    replaceChildren(this.header, header);
    replaceChildren(this.footer, footer);
    this.footer.hidden = footer.length === 0;
    this.entries = entries;
    const lines = [];
    for (const e of entries) {
      lines.push({ run: e.run, color: e.color, kind: "measured", series: e.measured });
      if (e.expected) lines.push({ run: e.run, color: e.color, kind: "expected", series: e.expected });
      if (e.target) lines.push({ run: e.run, color: e.color, kind: "target", series: e.target });
    }
    this.renderReadout();
    // The chart needs its width: draw once the card is in the document.
    if (this.root.isConnected) this.chart.update(lines, zoom);
    else this.pending = { lines, zoom };
  }

  /** Call after the card was inserted into the document. */
  attached() {
    if (this.pending) {
      const { lines, zoom } = this.pending;
      this.pending = null;
      this.chart.update(lines, zoom);
    }
  }

  showStep(step) {
    if (step === this.hoverStep) return;
    this.hoverStep = step;
    this.renderReadout();
  }

  renderReadout() {
    const atRest = this.hoverStep === null;
    const values = atRest ? finalValues(this.entries) : hoverValues(this.entries, this.hoverStep);
    const anyExpected = this.entries.some((e) => e.expected);
    const head = el(
      "tr",
      {},
      el("th", { class: "col-run", text: atRest ? "last logged" : `step ${this.hoverStep}` }),
      el("th", { text: "measured" }),
      el("th", { text: "expected" }),
      el("th", { text: "\u0394", attrs: { title: "measured minus expected, at the measured point's step" } }),
    );
    const rows = values.map((v, i) => {
      const entry = this.entries[i];
      const stepNote =
        v.measuredStep !== null && (atRest || v.measuredStep !== this.hoverStep) ? ` @${v.measuredStep}` : "";
      const diffClass =
        v.difference === null ? "" : Math.abs(v.difference) >= 0.005 ? (v.difference < 0 ? " diff-neg" : " diff-pos") : " diff-ok";
      return el(
        "tr",
        { dataset: { run: v.run }, attrs: { title: entry.tooltip || null } },
        el("td", { class: "col-run" }, swatch(v.color), el("span", { class: "run-label", text: v.run })),
        el("td", { class: "num measured" }, formatPercent(v.measured), el("span", { class: "step-note", text: stepNote })),
        el("td", {
          class: "num expected",
          text: entry.expected ? formatPercent(v.expected) : "no schedule",
        }),
        el("td", { class: `num diff${diffClass}`, text: entry.expected ? formatPoints(v.difference) : "" }),
      );
    });
    if (!anyExpected) head.lastChild.textContent = "";
    replaceChildren(this.readout, el("table", { class: "readout-table" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  resize() {
    this.chart.resize();
  }

  destroy() {
    this.chart.destroy();
    this.root.remove();
  }
}

/** Badge element for a diagnostic of a layer in a run. */
export function badge({ severity, label, message, color }) {
  const node = el("span", { class: `badge badge-${severity}`, attrs: { title: message || label } });
  if (color) node.append(swatch(color, "swatch swatch-small"));
  node.append(document.createTextNode(label));
  return node;
}
