// Sparsity charts drawn with uPlot (vendored, see frontend/scripts/vendor.mjs).
// A chart shows, per run: measured (solid steps), expected (dashed steps) and, for layers,
// the schedule's continuous target (faint). Y is sparsity in percent, fixed to 0-100 % so charts
// compare at a glance. Dragging zooms the steps; a double click zooms back out. The zoom is kept
// across data refreshes.
import uPlot from "../vendor/uPlot.esm.js";
import { alignSeries, dataRange } from "../view_models/series.js";
import { themeColor } from "../theme.js";

const CURSOR_SYNC_KEY = "tb-sparsity-steps";
// Read at each draw (uPlot calls these), so repaint() after a theme switch recolours the axes.
const AXIS_COLORS = {
  stroke: () => themeColor("--chart-text"),
  grid: { stroke: () => themeColor("--chart-grid") },
  ticks: { stroke: () => themeColor("--chart-grid") },
};

function withAlpha(hex, alpha) {
  const m = /^#([0-9a-f]{6})$/i.exec(hex || "");
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;

function drawColumn(stroke, x, lo, hi, last) {
  if (lo !== hi) {
    stroke.lineTo(x, lo);
    stroke.lineTo(x, hi);
  }
  stroke.lineTo(x, last);
}

/**
 * uPlot's stepped path ("hold until the next point"), with the points that fall in one
 * device-pixel column drawn as one vertical stroke from their lowest to their highest value
 * and on to the last: the same pixels, at most four segments per column. uPlot's own builder
 * draws two segments per point: the large benchmark's whole-model expected curves (20 runs x
 * ~12 600 change points on ~1 300 columns) spent ~250 ms of the first draw there. (No band
 * fill: the band edges keep uPlot's builder.)
 */
function compactStepped(u, seriesIdx, idx0, idx1) {
  const xs = u.data[0];
  const ys = u.data[seriesIdx];
  const stroke = new Path2D();
  // Both scales are linear (chart options below): uPlot's valToPos, inlined (a call per point
  // was a third of this function's time).
  const { left, top, width, height } = u.bbox;
  const sx = u.scales.x;
  const sy = u.scales.y;
  const kx = width / (sx.max - sx.min || 1);
  const ky = height / (sy.max - sy.min || 1);
  let started = false;
  let column = 0; // the current column's x
  let lo = 0; // lowest and highest y drawn in it, the y its last point holds
  let hi = 0;
  let held = 0;
  for (let i = idx0; i <= idx1; i++) {
    const value = ys[i];
    if (value === null || value === undefined) continue;
    const x = Math.round(left + (xs[i] - sx.min) * kx);
    const y = Math.round(top + height - (value - sy.min) * ky);
    if (!started) {
      stroke.moveTo(x, y);
      started = true;
      column = x;
      lo = hi = held = y;
      continue;
    }
    if (x !== column) {
      drawColumn(stroke, column, lo, hi, held);
      stroke.lineTo(x, held); // the held value, across to the next point
      column = x;
      lo = hi = held;
    }
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
    held = y;
  }
  if (started) drawColumn(stroke, column, lo, hi, held);
  return { stroke, fill: null, clip: null, band: null, gaps: null, flags: 0 };
}

function seriesOptions(line) {
  const base = { label: `${line.run} ${line.kind}`, spanGaps: true, scale: "y" };
  if (line.kind === "measured") {
    return {
      ...base,
      stroke: line.color,
      width: 2,
      paths: compactStepped,
      points: {
        // Logged points as dots while they are few enough to tell apart.
        show: (u, si) => u.data[si].reduce((n, v) => (v === null ? n : n + 1), 0) <= 60,
        size: 5,
        fill: line.color,
        stroke: line.color,
      },
    };
  }
  if (line.kind === "min" || line.kind === "max") {
    // The edges of a group's min–max band: not drawn themselves, the band fills between them.
    return { ...base, stroke: withAlpha(line.color, 0.3), width: 0.5, paths: stepped, points: { show: false } };
  }
  if (line.kind === "expected") {
    return { ...base, stroke: line.color, width: 1.5, dash: [6, 4], paths: compactStepped, points: { show: false } };
  }
  // target: the continuous schedule, faint.
  return { ...base, stroke: withAlpha(line.color, 0.35), width: 1, points: { show: false } };
}

function percentTicks(u, values) {
  return values.map((v) => `${Math.round(v * 100)}%`);
}

/**
 * lines: [{run, color, kind: "measured"|"expected"|"target", series: [[step, value]]|null}]
 */
export function chartData(lines) {
  return alignSeries(
    lines.map((l) => l.series),
    lines.map((l) => (l.kind === "expected" ? "hold" : "none")),
  );
}

/** uPlot bands between each "max" line and the "min" line after it (indices count the x series). */
function bandsOf(lines) {
  const bands = [];
  lines.forEach((line, i) => {
    if (line.kind === "max" && lines[i + 1] && lines[i + 1].kind === "min") {
      bands.push({ series: [i + 1, i + 2], fill: withAlpha(line.color, 0.18) });
    }
  });
  return bands;
}

function signature(lines) {
  return lines.map((l) => `${l.run}\u0000${l.kind}\u0000${l.color}`).join("\u0001");
}

/**
 * A chart bound to a container. `onCursor(step|null)` is called on hover (step of the data
 * point under the cursor, in any chart of the page: cursors are synchronised) and on leave.
 */
export class SparsityChart {
  constructor(container, { height = 170, onCursor = () => {}, onPick = () => {} } = {}) {
    this.container = container;
    this.height = height;
    this.onCursor = onCursor;
    this.onPick = onPick; // a click (not a drag) picks the step under the cursor
    this.plot = null;
    this.signature = null;
    this.zoom = null; // [min, max] of x while the user has zoomed in
    this.range = null;
    this.applying = false;
  }

  width() {
    if (this.knownWidth) return this.knownWidth;
    return Math.max(200, Math.floor(this.container.clientWidth || 320));
  }

  /**
   * Reads the container's width now, for the next draw: reading it between two cards' draws
   * forced a layout of the whole page per card (100 ms of a 10-card first screen), reading
   * every card's first costs one.
   */
  measure() {
    this.knownWidth = null;
    this.knownWidth = this.width();
  }

  /**
   * Draws `lines`; keeps the user's zoom (or `zoom` passed in, when the chart is new). The
   * measured line of the `highlighted` run stays opaque, the others fade (uPlot's series focus:
   * a redraw, not a new chart).
   */
  update(lines, zoom = undefined, highlighted = null) {
    if (zoom !== undefined) this.zoom = zoom;
    const data = chartData(lines);
    this.range = dataRange(data);
    this.container.dataset.seriesCount = String(lines.length);
    this.container.dataset.runs = [...new Set(lines.map((l) => l.run))].length;
    const sig = signature(lines);
    if (this.plot && sig === this.signature) {
      this.applying = true;
      this.plot.setData(data, true);
      this.applying = false;
    } else {
      if (this.plot) this.plot.destroy();
      this.signature = sig;
      this.plot = this.create(lines, data);
    }
    this.knownWidth = null; // a measurement serves the one draw it was made for
    const focus = highlighted === null ? -1 : lines.findIndex((l) => l.run === highlighted && l.kind === "measured");
    this.plot.setSeries(focus >= 0 ? focus + 1 : null, { focus: true });
    this.container.dataset.highlighted = focus >= 0 ? highlighted : "";
    this.restoreZoom();
  }

  restoreZoom() {
    if (!this.plot || !this.zoom || !this.range) return;
    const [min, max] = this.zoom;
    if (max <= this.range[0] || min >= this.range[1]) {
      this.zoom = null; // zoomed into a range the data no longer has
      return;
    }
    this.applying = true;
    this.plot.setScale("x", { min, max });
    this.applying = false;
  }

  create(lines, data) {
    const self = this;
    const options = {
      width: this.width(),
      height: this.height,
      legend: { show: false },
      focus: { alpha: 0.1 }, // many runs overlap: faded lines must stay faint together
      padding: [8, 10, 0, 0],
      cursor: {
        sync: { key: CURSOR_SYNC_KEY, setSeries: false },
        drag: { x: true, y: false, setScale: true },
        points: { size: 6 },
      },
      scales: {
        x: { time: false, range: (u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
        y: { range: [0, 1] },
      },
      axes: [
        { label: "step", labelSize: 16, size: 32, font: "11px sans-serif", labelFont: "11px sans-serif", ...AXIS_COLORS },
        { values: percentTicks, size: 44, font: "11px sans-serif", splits: [0, 0.25, 0.5, 0.75, 1], ...AXIS_COLORS },
      ],
      series: [{ label: "step" }, ...lines.map(seriesOptions)],
      bands: bandsOf(lines),
      hooks: {
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            self.onCursor(idx === null || idx === undefined || u.cursor.left < 0 ? null : u.data[0][idx]);
          },
        ],
        setScale: [
          (u, key) => {
            if (key !== "x" || self.applying || !self.range) return;
            const { min, max } = u.scales.x;
            const full = min <= self.range[0] && max >= self.range[1];
            self.zoom = full ? null : [min, max];
            self.container.dataset.zoom = self.zoom ? `${Math.round(min)}-${Math.round(max)}` : "";
          },
        ],
      },
    };
    const plot = new uPlot(options, data, this.container);
    let down = null;
    plot.over.addEventListener("mousedown", (e) => {
      down = [e.clientX, e.clientY];
    });
    plot.over.addEventListener("click", (e) => {
      if (!down || Math.abs(e.clientX - down[0]) > 3 || Math.abs(e.clientY - down[1]) > 3) return;
      const idx = plot.cursor.idx;
      if (idx !== null && idx !== undefined && plot.data[0][idx] !== undefined) self.onPick(plot.data[0][idx]);
    });
    return plot;
  }

  /** Draws again with the current theme's colours. */
  repaint() {
    if (this.plot) this.plot.redraw(false, true);
  }

  resize() {
    this.knownWidth = null;
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}
