// The heatmap of one run: layers (rows, model order) × logged steps (columns), colour = measured
// sparsity, or measured − expected. The cells are one ImageData of rows × columns pixels drawn
// scaled onto a single canvas (no DOM per cell), so 300 layers × 1000 steps stay responsive;
// the hover outline is drawn on a second, transparent canvas on top.
import { formatPercent } from "../view_models/format.js";
import { cellAt, deviationScale, HEATMAP_MODES, heatmapCellText, heatmapColor, heatmapMatrix, heatmapPixels } from "../view_models/heatmap.js";
import { niceTicks } from "../view_models/xy_chart.js";
import { canvasStack, clearedContext, el, ellipsize, replaceChildren, showTooltip, sizeCanvases } from "./dom.js";
import { themeColor } from "../theme.js";

const LABEL_WIDTH = 190;
const AXIS_HEIGHT = 30;
const MIN_LABEL_ROW = 11; // below this row height names are not drawn (hover tells them)

export class HeatmapView {
  /**
   * @param {{controls: HTMLElement, body: HTMLElement}} parts
   * @param {{onPick: (step: number) => void}} options
   */
  constructor({ controls, body }, { onPick = () => {} } = {}) {
    this.onPick = onPick;
    this.mode = "measured";
    this.runPickerBox = el("div", { class: "control" });
    this.modeButtons = Object.entries(HEATMAP_MODES).map(([mode, label]) =>
      el("button", { class: "button toggle", attrs: { type: "button", "aria-pressed": "false" }, dataset: { mode }, text: `Colour by ${label}`, on: { click: () => this.setMode(mode) } }),
    );
    replaceChildren(controls, this.runPickerBox, el("div", { class: "control toggles" }, this.modeButtons));
    this.message = el("div", { class: "view-message" });
    Object.assign(this, canvasStack("heatmap"));
    this.scale = el("div", { class: "heatmap-scale small" });
    this.facts = el("p", { class: "muted small heatmap-facts" });
    replaceChildren(body, this.message, this.facts, this.stack, this.scale);
    this.overlay.addEventListener("mousemove", (e) => this.onMove(e));
    this.overlay.addEventListener("mouseleave", () => this.showCell(null));
    this.overlay.addEventListener("click", (e) => {
      const cell = this.cellOf(e);
      if (cell) this.onPick(this.matrix.steps[cell.col]);
    });
    this.data = null;
    this.matrix = null;
    this.hover = null;
  }

  get runPickerContainer() {
    return this.runPickerBox;
  }

  setMode(mode) {
    this.mode = mode;
    this.update(this.data);
  }

  /**
   * @param {object|null} data the full `run` document of the run to draw
   * @param {string|null} note what to say instead while there is none (loading, failed)
   */
  update(data, note = null) {
    this.data = data;
    for (const b of this.modeButtons) {
      const on = b.dataset.mode === this.mode;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const messages = [];
    this.matrix = null;
    if (!data) {
      messages.push(note || "Select a run on the left to draw its heatmap.");
    } else {
      const layers = (data.layers || []).filter((l) => Array.isArray(l.measured));
      let mode = this.mode;
      let matrix = heatmapMatrix(layers, mode);
      if (mode === "deviation" && !matrix.hasExpected) {
        messages.push(`Run ${data.run} has no schedule on record, so there is no expected curve to deviate from: showing measured sparsity. Try the What-if view to draw a schedule over it.`);
        mode = "measured";
        matrix = heatmapMatrix(layers, mode);
      } else if (mode === "deviation" && layers.some((l) => !Array.isArray(l.expected) || !l.expected.length)) {
        messages.push("Grey rows have no expected curve (no usable schedule for that layer).");
      }
      if (!matrix.rows.length || !matrix.steps.length) {
        messages.push(`Run ${data.run} has no measured sparsity to draw.`);
      } else {
        this.matrix = matrix;
        this.layers = layers;
        this.drawnMode = mode;
      }
    }
    replaceChildren(this.message, messages.map((text) => el("p", { class: "view-message-text", text })));
    this.stack.hidden = this.matrix === null;
    this.scale.hidden = this.matrix === null;
    this.facts.hidden = this.matrix === null;
    if (this.matrix) this.draw();
  }

  layout() {
    const rows = this.matrix.rows.length;
    const rowHeight = Math.max(2, Math.min(24, Math.floor(560 / rows)));
    const width = Math.max(420, Math.floor(this.stack.parentElement?.clientWidth || 800));
    const labels = rowHeight >= MIN_LABEL_ROW;
    const left = labels ? LABEL_WIDTH : 8;
    return {
      width,
      height: rows * rowHeight + AXIS_HEIGHT + 4,
      rowHeight,
      labels,
      area: { left, top: 2, width: width - left - 8, height: rows * rowHeight },
    };
  }

  draw() {
    const m = this.matrix;
    const rows = m.rows.length;
    const cols = m.steps.length;
    const lay = this.layout();
    this.lay = lay;
    const ctx = sizeCanvases([this.canvas, this.overlay], lay.width, lay.height);
    // The cells: one pixel per cell, scaled up without smoothing.
    const cells = document.createElement("canvas");
    cells.width = cols;
    cells.height = rows;
    const image = new ImageData(heatmapPixels(m, this.drawnMode), cols, rows);
    cells.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    const a = lay.area;
    ctx.drawImage(cells, a.left, a.top, a.width, a.height);
    ctx.strokeStyle = themeColor("--chart-frame");
    ctx.lineWidth = 1;
    ctx.strokeRect(a.left - 0.5, a.top - 0.5, a.width + 1, a.height + 1);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = themeColor("--chart-label");
    if (lay.labels) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      m.rows.forEach((row, r) => {
        ctx.fillText(ellipsize(ctx, row.name, LABEL_WIDTH - 12), a.left - 6, a.top + (r + 0.5) * lay.rowHeight);
      });
    }
    // Step axis: ticks at columns whose steps are round numbers.
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillStyle = themeColor("--chart-text");
    const colWidth = a.width / cols;
    const wanted = niceTicks(m.steps[0], m.steps[cols - 1], Math.max(2, Math.floor(a.width / 90)));
    let lastX = -Infinity;
    for (const t of wanted) {
      const c = m.steps.findIndex((s) => s >= t);
      if (c < 0) continue;
      const x = a.left + (c + 0.5) * colWidth;
      if (x - lastX < 50) continue;
      lastX = x;
      ctx.fillRect(x, a.top + a.height, 1, 4);
      ctx.fillText(String(m.steps[c]), x, a.top + a.height + 5);
    }
    ctx.fillText("step (one column per logged step)", a.left + a.width / 2, a.top + a.height + 17);
    this.canvas.dataset.run = this.data.run;
    this.canvas.dataset.rows = String(rows);
    this.canvas.dataset.cols = String(cols);
    this.canvas.dataset.mode = this.drawnMode;
    this.facts.textContent = `${this.data.run}: ${rows} layer${rows === 1 ? "" : "s"} in model order (top to bottom) \u00d7 ${cols} logged step${cols === 1 ? "" : "s"}${lay.labels ? "" : "; hover a row for its layer"}. Click a column to open the table at that step.`;
    this.renderScale();
    this.hover = null;
    this.drawOverlay();
  }

  renderScale() {
    const deviation = this.drawnMode === "deviation";
    const scale = deviationScale(this.matrix.maxAbs);
    const stops = deviation ? [-scale, -scale / 2, 0, scale / 2, scale] : [0, 0.25, 0.5, 0.75, 1];
    const swatches = stops.map((v) => {
      const [r, g, b] = heatmapColor(v, this.drawnMode, scale);
      const box = el("span", { class: "scale-swatch" });
      box.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
      const label = deviation ? `${v > 0 ? "+" : v < 0 ? "\u2212" : "\u00b1"}${Math.abs(v * 100).toFixed(1)} pt` : formatPercent(v, 0);
      return el("span", { class: "scale-stop" }, box, label);
    });
    const missing = el("span", { class: "scale-swatch" });
    const [r, g, b] = heatmapColor(NaN);
    missing.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
    replaceChildren(
      this.scale,
      el("span", { class: "muted", text: deviation ? "measured \u2212 expected: red = pruned less than the schedule, blue = more " : "measured sparsity " }),
      swatches,
      el("span", { class: "scale-stop" }, missing, deviation ? "no record / no schedule" : "no record yet"),
    );
  }

  cellOf(e) {
    if (!this.matrix || !this.lay) return null;
    const rect = this.overlay.getBoundingClientRect();
    return cellAt(e.clientX - rect.left, e.clientY - rect.top, this.lay.area, this.matrix.rows.length, this.matrix.steps.length);
  }

  onMove(e) {
    this.showCell(this.cellOf(e), e);
  }

  showCell(cell) {
    const same = cell && this.hover && cell.row === this.hover.row && cell.col === this.hover.col;
    if (same) return;
    this.hover = cell;
    this.drawOverlay();
    if (!cell) {
      this.tooltip.hidden = true;
      return;
    }
    const a = this.lay.area;
    showTooltip(this.tooltip, heatmapCellText(this.matrix, this.layers, cell.row, cell.col),
      a.left + ((cell.col + 1) * a.width) / this.matrix.steps.length, a.top + cell.row * this.lay.rowHeight, this.lay.width - 330);
  }

  drawOverlay() {
    if (!this.lay) return;
    const ctx = clearedContext(this.overlay, this.lay.width, this.lay.height);
    if (!this.hover) return;
    const a = this.lay.area;
    const colWidth = a.width / this.matrix.steps.length;
    ctx.strokeStyle = themeColor("--chart-hover");
    ctx.lineWidth = 1;
    ctx.strokeRect(a.left + 0.5, a.top + this.hover.row * this.lay.rowHeight - 0.5, a.width - 1, this.lay.rowHeight + 1);
    ctx.strokeStyle = themeColor("--accent");
    ctx.lineWidth = 2;
    ctx.strokeRect(a.left + this.hover.col * colWidth, a.top + this.hover.row * this.lay.rowHeight, Math.max(2, colWidth), Math.max(2, this.lay.rowHeight));
  }

  resize() {
    if (this.matrix) this.draw();
  }
}
