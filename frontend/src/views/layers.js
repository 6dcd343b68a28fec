// The Layers section: the whole-model card and one card per layer (lined up across the selected
// runs). Cards fetch nothing themselves: a card coming near the view asks the store for its
// layer's series of every selected run (the store batches those asks into one request) and is
// redrawn when they arrive. Many runs stay readable: a group can be drawn as its mean with a
// min–max band, readouts are bounded, a card's schedules and badges are counted, not repeated.
import { formatCompactCount, formatCount, formatPercent } from "../view_models/format.js";
import { filterLayerRows, layerBadges, lineUpLayers, lineUpText, scheduleLine, sortLayerRows } from "../view_models/layers.js";
import { compileFilter } from "../view_models/runs.js";
import { FIRST_SCREEN_LAYERS, LOADING } from "../store.js";
import { countTexts, meanBand, runCount } from "../view_models/sweeps.js";
import { badge, ChartCard } from "./cards.js";
import { el, replaceChildren, swatch } from "./dom.js";

// Card widths of the width control (the grid's minimum column width, px), as Time Series offers.
export const CARD_WIDTHS = { small: 280, medium: 360, large: 520 };
const DEFAULT_WIDTH = "medium";

// Distinct schedule texts a card's footer lists before it says "and N more".
const FOOTER_LINES = 3;
const MODEL = "\u0000model";

function weightingLabel(model) {
  // The run document's words (words.py), the same as the CLI's and the CSV's.
  return String(model.weighting_label ?? model.weighting);
}

export class LayersView {
  /**
   * @param {{store: import("../store.js").Store, onPick: (step: number, from: string) => void}} options
   */
  constructor({ store, onPick, onLayout = () => {} }) {
    this.store = store;
    this.onPick = onPick;
    this.onLayout = onLayout; // pins, the wide card or the card width changed (the URL keeps them)
    this.pins = []; // pinned layer keys, in the order they were pinned: drawn first
    this.wide = null; // the layer key of the card opened full width, or null
    this.width = DEFAULT_WIDTH;
    this.cards = new Map(); // layer key -> ChartCard
    this.inputs = new Map(); // layer key -> what the card was last drawn from (skip unchanged)
    this.deferred = new Map(); // layer key -> row of a card away from the view, to build when near
    this.zooms = new Map(); // layer key -> zoom of a card that was taken down
    this.modelCard = null;
    this.modelBox = el("div", { class: "model-box" });
    this.heading = el("div", { class: "layers-heading" });
    this.grid = el("div", { class: "layer-grid" });
    this.root = el("section", { class: "layers" }, this.heading, this.grid);
    this.props = null;
  }

  /**
   * @param {{runs: {run, color, label, doc}[], groups: {group, label, color, runs: string[]}[],
   *          mean: boolean, highlighted: string|null, activeLayer: string|null,
   *          filter: string, sort: string, loadingRuns?: string[]}} props runs: the selected
   *          runs with a document; loadingRuns: the selected runs whose document is on its way
   * @returns {{filterError: string|null}}
   */
  update(props) {
    this.props = props;
    // Every card's DOM first, then every chart's width, then every chart: a width read
    // between two draws forced a layout of the whole page per chart (360 ms of the 300-layer
    // first screen).
    this.renderModel(props);
    const result = this.renderLayers(props);
    this.drawAll();
    return result;
  }

  /** Pins, the full-width card and the card width, as the URL keeps them. */
  layout() {
    return { pins: this.pins.slice(), wide: this.wide, width: this.width === DEFAULT_WIDTH ? null : this.width };
  }

  setLayout({ pins = [], wide = null, width = null }) {
    this.pins = Array.isArray(pins) ? pins.slice() : [];
    this.wide = wide;
    this.width = width in CARD_WIDTHS ? width : DEFAULT_WIDTH;
    this.grid.style.setProperty("--card-min", `${CARD_WIDTHS[this.width]}px`);
  }

  togglePin(key) {
    this.pins = this.pins.includes(key) ? this.pins.filter((k) => k !== key) : [...this.pins, key];
    this.onLayout();
  }

  toggleWide(key) {
    this.wide = this.wide === key ? null : key;
    this.onLayout();
    this.resizeSoon();
  }

  setWidth(width) {
    this.setLayout({ ...this.layout(), width });
    this.onLayout();
    this.resizeSoon();
  }

  /** Charts take their new width once the grid has laid the cards out again. */
  resizeSoon() {
    requestAnimationFrame(() => this.resize());
  }

  /** The lines of a card: one entry per run, or per group (mean and band) in mean mode. */
  entriesFor(props, pick) {
    const perRun = props.runs.map((r) => ({ ...r, ...pick(r) })).filter((e) => e.present);
    if (!props.mean) return perRun;
    const out = [];
    for (const g of props.groups) {
      const members = perRun.filter((e) => g.runs.includes(e.run));
      if (members.length < 2) {
        out.push(...members);
        continue;
      }
      const band = meanBand(members.map((e) => e.measured));
      out.push({
        run: `group:${g.group}`,
        label: `${g.label} (mean of ${members.length})`,
        color: g.color,
        measured: band ? band.mean : null,
        band: band ? { min: band.min, max: band.max } : null,
        expected: null,
        target: null,
        finalTarget: null,
        tooltip: `${g.label}: mean of ${members.length} runs, the band from their minimum to their maximum`,
      });
    }
    return out;
  }

  renderModel(props) {
    if (!props.runs.length) return this.takeDown(MODEL);
    let fresh = false;
    if (!this.modelCard) {
      this.modelCard = new ChartCard({ id: MODEL, className: "model-card", height: 190, onPick: (step) => this.onPick(step, "the whole-model chart") });
      this.modelCard.root.id = "model-card";
      fresh = true;
    }
    const weighting = countTexts(props.runs.filter((r) => r.doc.model && r.doc.model.weighting).map((r) => ({ run: r.run, text: weightingLabel(r.doc.model) })));
    const weightingText = weighting.length === 1 ? weighting[0].text : weighting.map((w) => `${w.text} (${runCount(w.runs.length)})`).join("; ");
    const entries = this.entriesFor(props, (r) => {
      const m = r.doc.model || null;
      return { present: true, measured: m ? m.measured : null, expected: m ? m.expected : null, target: null, finalTarget: m ? m.target_sparsity : null, tooltip: r.run };
    });
    this.modelCard.update(
      {
        header: [
          el(
            "div",
            { class: "card-title" },
            el("h2", { text: "Whole model" }),
            weightingText ? el("span", { class: "weighting", text: `sparsity of all pruned weights, ${weightingText}` }) : null,
          ),
        ],
        entries,
        highlighted: props.highlighted,
      },
      fresh ? this.zooms.get(MODEL) ?? null : undefined,
      false,
    );
    if (!this.modelCard.root.isConnected) this.modelBox.appendChild(this.modelCard.root);
  }

  renderLayers(props) {
    const matcher = compileFilter(props.filter);
    const all = lineUpLayers(props.runs.map((r) => ({ run: r.run, color: r.color, data: r.doc })));
    const sorted = sortLayerRows(filterLayerRows(all, matcher), props.sort);
    // Pinned cards first, in the order they were pinned (as Time Series does).
    const pinned = this.pins.map((key) => sorted.find((r) => r.key === key)).filter(Boolean);
    const rows = [...pinned, ...sorted.filter((r) => !this.pins.includes(r.key))];
    this.rows = rows;
    const keep = new Set(rows.map((r) => r.key));
    for (const key of [...this.cards.keys()]) if (!keep.has(key)) this.takeDown(key);
    replaceChildren(
      this.heading,
      el("h2", { text: rows.length === all.length ? `Layers (${all.length})` : `Layers (${rows.length} of ${all.length} shown)` }),
      el(
        "span",
        { class: "legend-inline small" },
        el("span", { class: "key-line key-measured" }),
        props.mean ? "measured (group mean, band: min–max) " : "measured ",
        el("span", { class: "key-line key-expected" }),
        "expected ",
        el("span", { class: "key-line key-target" }),
        "target",
      ),
      el(
        "label",
        { class: "card-width small" },
        el("span", { text: "Card width " }),
        el(
          "select",
          { attrs: { "aria-label": "card width" }, on: { change: (e) => this.setWidth(e.target.value) } },
          Object.keys(CARD_WIDTHS).map((w) => el("option", { attrs: { value: w, selected: w === this.width }, text: w })),
        ),
      ),
    );
    if (rows.length === 0) {
      replaceChildren(this.grid, el("p", { class: "muted", text: all.length ? "No layer matches the layer filter." : "The selected runs log no pruned layer." }));
      return { filterError: matcher.error };
    }
    const empty = this.grid.querySelector(":scope > p");
    if (empty) empty.remove();
    // Until the first cards are seen, the series of the first screen's cards are asked for
    // before the cards are built: building a hundred cards takes longer than the request.
    if (![...this.cards.values()].some((card) => card.near)) {
      this.store.wantSeries(this.wantedRuns(), rows.slice(0, FIRST_SCREEN_LAYERS).map((r) => r.key));
      this.store.flushSeries();
    }
    rows.forEach((row, index) => {
      let card = this.cards.get(row.key);
      const fresh = !card;
      if (fresh) {
        card = new ChartCard({
          id: row.key,
          className: "layer-card",
          onPick: (step) => this.onPick(step, `the chart of ${row.key}`),
          onNear: () => this.fetchSeries(row.key),
          onVisible: () => this.buildDeferred(row.key),
        });
        this.cards.set(row.key, card);
      }
      card.root.classList.toggle("highlight", props.activeLayer === row.key);
      card.root.classList.toggle("pinned", this.pins.includes(row.key));
      card.root.classList.toggle("wide", this.wide === row.key);
      if (card.near) this.fetchSeries(row.key);
      this.drawCard(card, row, props);
      const at = this.grid.children[index];
      if (at !== card.root) this.grid.insertBefore(card.root, at || null);
    });
    return { filterError: matcher.error };
  }

  /** Redraws the cards of `keys` (their series arrived) from the last props, nothing else. */
  redraw(keys) {
    if (!this.props || !this.rows) return;
    const wanted = new Set(keys);
    const rows = this.rows.filter((row) => wanted.has(row.key) && this.cards.has(row.key));
    for (const row of rows) this.drawCard(this.cards.get(row.key), row, this.props);
    this.drawAll();
  }

  /** Draws every card whose drawing waits (see render): all width reads, then all draws. */
  drawAll() {
    const cards = [this.modelCard, ...this.cards.values()].filter(Boolean);
    for (const card of cards) card.measure();
    for (const card of cards) card.drawPending();
  }

  /** Asks the store for this layer's series of every selected run that lacks them. */
  fetchSeries(key) {
    if (this.props) this.store.wantSeries(this.wantedRuns(), [key]);
  }

  /** The card came into view: builds it if it was left unbuilt while away (see drawCard). */
  buildDeferred(key) {
    const row = this.deferred.get(key);
    if (row && this.props) this.drawCard(this.cards.get(key), row, this.props);
  }

  /** The selected runs: those drawn and those whose document is on its way (their series
   * come in the same batch as the others'; a 20-run first screen made two rounds). */
  wantedRuns() {
    return [...this.props.runs.map((r) => r.run), ...(this.props.loadingRuns || [])];
  }

  drawCard(card, row, props) {
    // A card away from the view shows its name only, and is built when it comes into view
    // (buildDeferred): rebuilding every header as each run arrived was most of the 300-layer
    // x 20-run first screen's render time.
    this.deferred.delete(row.key);
    if (!card.visible) {
      this.deferred.set(row.key, row);
      if (!this.inputs.has(row.key)) card.setTitle(this.titleOf(row));
      return;
    }
    const fresh = !this.inputs.has(row.key);
    // The series of each run's layer, as far as they have arrived.
    const onTheirWay = new Set(); // runs whose series of this layer are asked for, not here yet
    const series = row.entries.map((entry) => {
      const got = this.store.seriesOf(entry.run, row.key);
      if (got ? got.state === LOADING && !got.value : !entry.layer.measured) onTheirWay.add(entry.run);
      return got && got.value ? got.value : entry.layer.measured ? entry.layer : null;
    });
    // Says "loading" over the chart (style.css): an empty chart read as a run without data.
    card.root.dataset.waiting = String(onTheirWay.size > 0);
    // Redraw only when something the card shows changed (a batch of series for other cards, a
    // run loading elsewhere: this card stays as it is).
    const pinned = this.pins.includes(row.key);
    const wide = this.wide === row.key;
    const inputs = [pinned, wide, props.mean, props.highlighted, props.activeLayer, ...row.entries.flatMap((e, i) => [e.run, e.color, e.layer, series[i], onTheirWay.has(e.run)])];
    const before = this.inputs.get(row.key);
    if (!fresh && before && before.length === inputs.length && before.every((v, i) => v === inputs[i])) return;
    this.inputs.set(row.key, inputs);

    const multi = props.runs.length > 1;
    const docOf = new Map(props.runs.map((r) => [r.run, r.doc]));
    const labelOf = new Map(props.runs.map((r) => [r.run, r.label]));
    // Badges: one per finding, with the number of runs it concerns.
    const found = new Map();
    for (const entry of row.entries) {
      for (const b of layerBadges(docOf.get(entry.run), row.key)) {
        const k = `${b.severity}\u0000${b.label}`;
        if (!found.has(k)) found.set(k, { ...b, runs: [] });
        found.get(k).runs.push(entry);
      }
    }
    const badges = [...found.values()].map((b) =>
      b.runs.length === 1
        ? badge({ ...b, message: `${b.runs[0].run}: ${b.message}`, color: multi ? b.runs[0].color : null })
        : badge({ ...b, label: `${b.label} \u00d7${b.runs.length}`, message: `${runCount(b.runs.length)}: ${b.runs.map((e) => e.run).join(", ")}. ${b.message}` }),
    );
    const params = row.params.length ? `${row.params.map(formatCompactCount).join(" / ")} weights` : "weight count not logged";
    const single = row.names.length === 1;
    // Each framework's own name of the layer ("2:Linear"), and the neutral key that lines the
    // runs up ("2:Dense"), whose hover says how.
    const labels = row.labels && row.labels.length ? row.labels : [row.key];
    const keyTitle = lineUpText({ ...row, labels });
    const facts = [];
    if (!single) facts.push(row.names.join(", "));
    else {
      const own = labels.filter((l) => l !== row.names[0] && l !== row.key);
      if (own.length) facts.push(el("span", { class: "layer-label", text: own.join(" / ") }));
    }
    if (labels.some((l) => l !== row.key)) facts.push(el("span", { class: "layer-key", text: `key ${row.key}`, attrs: { title: keyTitle } }));
    else if (single && row.key !== row.names[0]) facts.push(el("span", { class: "layer-key", text: row.key, attrs: { title: keyTitle } }));
    facts.push(params);
    const header = [
      el(
        "div",
        { class: "card-title" },
        this.titleOf(row),
        el(
          "span",
          { class: "layer-facts", attrs: { title: `${row.names.join(", ")}: ${row.params.map(formatCount).join(" / ") || "?"} weights` } },
          facts.flatMap((f, i) => (i ? [" \u00b7 ", f] : [f])),
        ),
      ),
      badges.length ? el("div", { class: "badges" }, badges) : null,
      el(
        "div",
        { class: "card-tools" },
        el("button", {
          class: `card-tool pin${pinned ? " active" : ""}`,
          attrs: { type: "button", "aria-pressed": String(pinned), "aria-label": `${pinned ? "unpin" : "pin"} ${row.key}`, title: pinned ? "Unpin: back to its place" : "Pin: show this card first (kept in the link)" },
          text: pinned ? "\u2605" : "\u2606",
          on: { click: () => this.togglePin(row.key) },
        }),
        el("button", {
          class: `card-tool widen${wide ? " active" : ""}`,
          attrs: { type: "button", "aria-pressed": String(wide), "aria-label": `${wide ? "back to the grid:" : "full width:"} ${row.key}`, title: wide ? "Back to the grid" : "Open full width" },
          text: wide ? "\u2922" : "\u2194",
          on: { click: () => this.toggleWide(row.key) },
        }),
      ),
    ];
    // Legends say a schedule in short ("L1Unstructured 20% × 6 calls"); the hover and the
    // table view say it in full.
    const schedules = countTexts(row.entries.map((e) => ({ run: e.run, text: scheduleLine(e.layer, true) })));
    const fullOf = new Map(row.entries.map((e) => [e.run, scheduleLine(e.layer)]));
    const colorOf = new Map(row.entries.map((e) => [e.run, e.color]));
    const footer = schedules.slice(0, FOOTER_LINES).map((s) => {
      const full = [...new Set(s.runs.map((r) => fullOf.get(r)))].join("; ");
      return el(
        "div",
        { class: "schedule-line", attrs: { title: s.runs.length > 1 ? `${full} (${s.runs.join(", ")})` : full } },
        multi && s.runs.length === 1 ? swatch(colorOf.get(s.runs[0]), "swatch swatch-small") : null,
        el("span", { class: "schedule-text", text: multi && s.runs.length > 1 ? `${s.text} (${runCount(s.runs.length)})` : s.text }),
      );
    });
    if (schedules.length > FOOTER_LINES) {
      footer.push(el("div", { class: "schedule-line muted", text: `and ${schedules.length - FOOTER_LINES} other schedules (the table view lists each run's)` }));
    }
    const index = new Map(row.entries.map((e, i) => [e.run, i]));
    const entries = this.entriesFor(props, (r) => {
      const i = index.get(r.run);
      if (i === undefined) return { present: false };
      const layer = row.entries[i].layer;
      const s = series[i] || {};
      return {
        present: true,
        label: labelOf.get(r.run),
        measured: s.measured || null,
        expected: s.expected || null,
        target: s.target || null,
        loading: onTheirWay.has(r.run),
        why: layer.expected_missing && layer.expected_missing.why ? layer.expected_missing.why : null,
        finalTarget: layer.target_sparsity,
        tooltip: `${r.run}: ${scheduleLine(layer)}${Number.isFinite(layer.target_sparsity) ? `; final target ${formatPercent(layer.target_sparsity)}` : ""}`,
      };
    });
    const waiting = row.entries.filter((e, i) => !series[i]).length;
    card.root.dataset.loaded = String(waiting === 0);
    card.update({ header, footer, entries, highlighted: props.highlighted }, fresh ? this.zooms.get(row.key) ?? null : undefined, false);
  }

  /** A layer card's name: the layer's name, or each framework's label of it when runs name
   * it differently ("7:Dense / 7:Linear"). */
  titleOf(row) {
    const text = row.names.length === 1 ? row.names[0] : (row.labels && row.labels.length ? row.labels : [row.key]).join(" / ");
    return el("h3", { class: "layer-name", text, attrs: { title: `${row.names.join(", ")} (key ${row.key}). ${lineUpText(row)}` } });
  }

  takeDown(key) {
    const card = key === MODEL ? this.modelCard : this.cards.get(key);
    if (!card) return;
    this.zooms.set(key, card.chart.zoom);
    card.destroy();
    if (key === MODEL) this.modelCard = null;
    else this.cards.delete(key);
    this.inputs.delete(key);
    this.deferred.delete(key);
  }

  clear() {
    for (const key of [...this.cards.keys()]) this.takeDown(key);
    this.takeDown(MODEL);
  }

  resize() {
    if (this.modelCard) this.modelCard.resize();
    for (const card of this.cards.values()) card.resize();
  }

  /** The theme changed: the charts draw their axes again. */
  repaint() {
    if (this.modelCard) this.modelCard.repaint();
    for (const card of this.cards.values()) card.repaint();
  }

  cardOf(key) {
    return key === null ? this.modelCard : this.cards.get(key);
  }
}
