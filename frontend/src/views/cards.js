// A chart card: a compact header (title, facts, badges), a readout table (per run: measured,
// expected, difference; at the hovered step, or at each run's last logged step at rest; the
// highlighted run first and a bounded number of others, with a button to show all) and the
// chart itself.
import { formatPercent, formatPoints } from "../view_models/format.js";
import { finalValues, hoverValues, pointWithin } from "../view_models/series.js";
import { boundedEntries, READOUT_ROWS } from "../view_models/sweeps.js";
import { SparsityChart } from "./chart.js";
import { el, replaceChildren, swatch } from "./dom.js";

// A card's series are fetched when it comes within two screens of the viewport, as
// TensorBoard's Time Series tab does: a run with hundreds of layers fetches the cards in view
// first and the rest on scroll, ahead of the reader (a series request can take a few hundred
// ms on a busy machine). The card is built and drawn only when it comes within 300 px: on a
// 300-layer x 20-run first screen, drawing the 27 cards within two screens took twice as long
// as drawing the 9 in view.
const NEAR_VIEW = "2000px 0px";
const DRAW_VIEW = "300px 0px";
const observers = new Map(); // margin -> IntersectionObserver
const cardsByRoot = new WeakMap();

function cameNear(records) {
  for (const [card, near] of records) {
    card.near = near;
    if (near) card.onNear();
  }
}

function cameIntoView(records) {
  const shown = [];
  for (const [card, visible] of records) {
    // Cards away from the view are not redrawn while data arrives; drawn again on return.
    if (visible) shown.push(card);
    else card.visible = false;
  }
  // All DOM writes (the owner builds a card left unbuilt), then all width reads, then all
  // draws: no page layout per card.
  for (const card of shown) card.show();
  for (const card of shown) card.measure();
  for (const card of shown) card.drawShown();
}

function watch(card, margin, onRecords) {
  if (!observers.has(margin)) {
    const callback = (records) => onRecords(records.map((r) => [cardsByRoot.get(r.target), r.isIntersecting]).filter(([c]) => c));
    // root: the dashboard's own document. With the implicit root (the top-level viewport) the
    // margin is clipped away by TensorBoard's iframe, and cards would only start drawing once
    // they are already in view.
    observers.set(margin, new IntersectionObserver(callback, { root: document, rootMargin: margin }));
  }
  observers.get(margin).observe(card.root);
}

function watchVisibility(card) {
  if (typeof IntersectionObserver === "undefined") {
    card.near = card.visible = true; // no observer (old browser, tests outside a browser): draw at once
    return;
  }
  cardsByRoot.set(card.root, card);
  watch(card, NEAR_VIEW, cameNear);
  watch(card, DRAW_VIEW, cameIntoView);
}

export class ChartCard {
  /**
   * @param {{id: string, className?: string, height?: number, onPick?: (step: number) => void,
   *          onNear?: () => void, onVisible?: () => void}} options onNear: the card came within
   *          two screens (fetch its data); onVisible: within 300 px (about to draw)
   */
  constructor({ id, className = "", height = 150, onPick = () => {}, onNear = () => {}, onVisible = () => {} }) {
    this.id = id;
    this.root = el("article", { class: `card ${className}`.trim(), dataset: { key: id } });
    this.header = el("header", { class: "card-header" });
    this.readout = el("div", { class: "readout" });
    this.plotBox = el("div", { class: "plot" });
    this.footer = el("div", { class: "card-footer" });
    this.root.append(this.header, this.readout, this.plotBox, this.footer);
    this.entries = [];
    this.hoverStep = null;
    this.chart = new SparsityChart(this.plotBox, { height, onCursor: (step) => this.showStep(step), onPick });
    this.plotBox.classList.add("plot-pending");
    this.plotBox.style.minHeight = `${height}px`; // keeps the layout still until it is drawn
    this.near = false;
    this.visible = false;
    this.onNear = onNear;
    this.onVisible = onVisible;
    this.showAll = false; // the readout lists every run (after a click on "show all")
    this.highlighted = null;
    watchVisibility(this);
  }

  /**
   * @param {{header: Node[], footer?: Node[], highlighted?: string|null, entries: {run, label?, color,
   *          measured, expected, target, band?: {min, max}, finalTarget?, tooltip?, loading?}[]}} props
   * @param {boolean} [draw] false: the caller calls measure() and drawPending() later, after the
   *          other cards' updates (all DOM writes, then all width reads, then all draws)
   */
  update({ header, footer = [], entries, highlighted = null }, zoom = undefined, draw = true) {
    replaceChildren(this.header, header);
    replaceChildren(this.footer, footer);
    this.footer.hidden = footer.length === 0;
    this.entries = entries;
    this.highlighted = highlighted;
    const lines = [];
    for (const e of entries) {
      const color = e.color;
      if (e.band) {
        lines.push({ run: e.run, color, kind: "max", series: e.band.max });
        lines.push({ run: e.run, color, kind: "min", series: e.band.min });
      }
      lines.push({ run: e.run, color, kind: "measured", series: e.measured });
      if (e.expected) lines.push({ run: e.run, color, kind: "expected", series: e.expected });
      if (e.target) lines.push({ run: e.run, color, kind: "target", series: e.target });
    }
    // Readout and chart are built when the card comes near the view: a page of 300 layers
    // x 20 runs spent most of its render time on readouts of cards nobody could see.
    if (this.visible) this.renderReadout();
    else this.readoutStale = true;
    // The chart needs its width: draw once the card is in the document and near the view.
    this.pending = { lines, zoom, highlighted };
    if (draw) this.drawPending();
  }

  /** The card came into view (its owner's onVisible may update it before it draws). */
  show() {
    this.visible = true;
    this.onVisible();
  }

  drawShown() {
    if (this.readoutStale) {
      this.readoutStale = false;
      this.renderReadout();
    }
    this.drawPending();
  }

  /** Reads the chart's width if the next drawPending() will draw (see SparsityChart.measure). */
  measure() {
    if (this.pending && this.visible && this.root.isConnected) this.chart.measure();
  }

  drawPending() {
    if (!this.pending || !this.visible || !this.root.isConnected) return;
    const { lines, zoom, highlighted } = this.pending;
    this.pending = null;
    this.chart.update(lines, zoom, highlighted);
    this.plotBox.classList.remove("plot-pending");
  }

  /** A header of the title only, for a card not built yet. */
  setTitle(title) {
    replaceChildren(this.header, [el("div", { class: "card-title" }, title)]);
  }

  showStep(step) {
    if (step === this.hoverStep) return;
    this.hoverStep = step;
    this.renderReadout();
  }

  renderReadout() {
    const atRest = this.hoverStep === null;
    const { shown, hidden } = boundedEntries(this.entries, { highlighted: this.highlighted, all: this.showAll });
    const values = atRest ? finalValues(shown) : hoverValues(shown, this.hoverStep);
    const anyExpected = this.entries.some((e) => e.expected);
    const anyTarget = this.entries.some((e) => e.target || Number.isFinite(e.finalTarget));
    const head = el(
      "tr",
      {},
      el("th", { class: "col-run", text: atRest ? "last logged" : `step ${this.hoverStep}` }),
      el("th", { class: "col-measured", text: "measured" }),
      el("th", { class: "col-expected", text: "expected", attrs: { title: "what the run's schedule makes its framework apply at this step" } }),
      el("th", { class: "col-diff", text: "\u0394", attrs: { title: "measured minus expected, at the measured point's step" } }),
      anyTarget
        ? el("th", {
            class: "col-target",
            text: "target",
            attrs: { title: atRest ? "the sparsity the schedule ends at" : "the schedule's continuous target at this step" },
          })
        : null,
    );
    const rows = values.map((v, i) => {
      const entry = shown[i];
      const stepNote =
        v.measuredStep !== null && (atRest || v.measuredStep !== this.hoverStep) ? ` @${v.measuredStep}` : "";
      const diffClass =
        v.difference === null ? "" : Math.abs(v.difference) >= 0.005 ? (v.difference < 0 ? " diff-neg" : " diff-pos") : " diff-ok";
      return el(
        "tr",
        {
          class: `${v.ended ? "ended" : ""}${v.run === this.highlighted ? " highlight" : ""}`.trim(),
          dataset: { run: v.run },
          attrs: { title: v.ended ? `${entry.tooltip || v.run} (the run ends before this step)` : entry.tooltip || null },
        },
        el("td", { class: "col-run" }, el("div", { class: "run-cell" }, swatch(v.color), el("span", { class: "run-label", text: entry.label || v.run }))),
        el("td", { class: "num measured" }, formatPercent(v.measured), el("span", { class: "step-note", text: stepNote })),
        el("td", {
          class: "num expected",
          // (not "none" while the series are on their way; "none", not "no schedule": a card
          // a third of the row wide has room for the one word)
          text: entry.expected ? (v.ended ? "ended" : formatPercent(v.expected)) : entry.loading ? "loading\u2026" : "none",
          attrs: entry.expected || entry.loading ? {} : { title: `nothing to expect: ${entry.why || "no schedule on record for this run"}` },
        }),
        el("td", { class: `num diff${diffClass}`, text: entry.expected ? formatPoints(v.difference) : "" }),
        anyTarget ? el("td", { class: "num target", text: formatPercent(atRest ? entry.finalTarget : targetAt(entry, this.hoverStep)) }) : null,
      );
    });
    if (!anyExpected) head.children[3].textContent = "";
    const toggle =
      hidden > 0 || (this.showAll && this.entries.length > READOUT_ROWS + 1)
        ? el("button", {
            class: "readout-more",
            attrs: { type: "button" },
            text: hidden > 0 ? `+ ${hidden} more run${hidden === 1 ? "" : "s"}: show all` : "show fewer",
            on: {
              click: () => {
                this.showAll = hidden > 0;
                this.renderReadout();
              },
            },
          })
        : null;
    replaceChildren(this.readout, el("table", { class: "readout-table" }, el("thead", {}, head), el("tbody", {}, rows)), toggle);
  }

  resize() {
    this.chart.resize();
  }

  repaint() {
    this.chart.repaint();
  }

  destroy() {
    this.chart.destroy();
    this.root.remove();
  }
}

function targetAt(entry, step) {
  const p = pointWithin(entry.target, step);
  return p ? p.value : null;
}

/** Badge element for a diagnostic of a layer in a run. */
export function badge({ severity, label, message, color }) {
  const node = el("span", { class: `badge badge-${severity}`, attrs: { title: message || label } });
  if (color) node.append(swatch(color, "swatch swatch-small"));
  node.append(document.createTextNode(label));
  return node;
}
