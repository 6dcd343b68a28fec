// The Blocks view: transformers read from checkpoints, by block and module type. A grid of one
// run at one step (rows = blocks, columns = module types, colour = measured sparsity, its
// deviation from what the recipe declared, or N:M compliance), drawn on one canvas with the
// values in the cells when they fit, and the same grid as a table for screen readers; under
// it, per-block profiles of every selected run (x = block, one line per run) to compare
// pruning methods block by block. The values come from the `table` route at the step.
import { BLOCK_MODES, blockCellText, blockColor, blockGrid, blockProfiles, cellLabel, coveredLines, gridFacts, hasBlocks, moduleTypes, profileDomain, profileText, scaleStops } from "../view_models/blocks.js";
import { formatPercent, formatPoints } from "../view_models/format.js";
import { cellAt } from "../view_models/heatmap.js";
import { canvasStack, clearedContext, el, ellipsize, replaceChildren, showTooltip, sizeCanvases, swatch } from "./dom.js";
import { runPicker } from "./sections.js";
import { XYChart } from "./xy_chart.js";
import { themeColor } from "../theme.js";

const ALL_TYPES = "";
const HEADER_HEIGHT = 26;
const MIN_TEXT_CELL = { width: 44, height: 16 }; // smaller cells show their value on hover only

export class BlocksView {
  /**
   * @param {{controls: HTMLElement, body: HTMLElement}} parts
   * @param {{store: import("../store.js").Store, onStep: (step: number|null) => void,
   *          onRun: (run: string) => void}} options
   */
  constructor({ controls, body }, { store, onStep = () => {}, onRun = () => {} }) {
    this.store = store;
    this.onRun = onRun;
    this.mode = "measured";
    this.column = ALL_TYPES;
    this.runPickerBox = el("div", { class: "control" });
    this.stepInput = el("input", {
      class: "blocks-step", // not the table's .step-input: each view has its own
      attrs: { type: "number", min: "0", step: "1", "aria-label": "step", placeholder: "last" },
      on: { change: () => onStep(this.stepInput.value.trim() === "" ? null : Math.max(0, Math.floor(Number(this.stepInput.value)))) },
    });
    this.lastButton = el("button", { class: "button", attrs: { type: "button", title: "each run's last checkpoint" }, text: "Last step", on: { click: () => onStep(null) } });
    this.modeButtons = Object.entries(BLOCK_MODES).map(([mode, label]) =>
      el("button", { class: "button toggle", attrs: { type: "button", "aria-pressed": "false" }, dataset: { mode }, text: `Colour by ${label}`, on: { click: () => this.setMode(mode) } }),
    );
    replaceChildren(
      controls,
      this.runPickerBox,
      el("label", { class: "control" }, el("span", { text: "Step " }), this.stepInput),
      this.lastButton,
      el("div", { class: "control toggles" }, this.modeButtons),
    );
    this.message = el("div", { class: "view-message" });
    this.facts = el("p", { class: "muted small blocks-facts" });
    Object.assign(this, canvasStack("blocks"));
    this.scale = el("div", { class: "blocks-scale small" });
    this.table = el("table", { class: "visually-hidden blocks-table" });
    this.moduleSelect = el("select", { class: "module-picker", attrs: { "aria-label": "module type" }, on: { change: (e) => this.setColumn(e.target.value) } });
    this.profileHead = el(
      "div",
      { class: "blocks-profile-head" },
      el("h3", { text: "Block by block" }),
      el("label", { class: "control" }, el("span", { text: "Module type " }), this.moduleSelect),
    );
    this.profileIntro = el("p", { class: "muted small" });
    this.chartBox = el("div", { class: "chart-box blocks-profile" });
    this.legend = el("div", { class: "blocks-legend" });
    this.gridBox = el("div", { class: "blocks-grid" }, this.facts, this.stack, this.scale, this.table);
    this.profileBox = el("div", { class: "blocks-profiles" }, this.profileHead, this.profileIntro, this.chartBox, this.legend);
    replaceChildren(body, this.message, this.gridBox, this.profileBox);
    this.chart = new XYChart(this.chartBox, { height: 300 });
    this.overlay.addEventListener("mousemove", (e) => this.showCell(this.cellOf(e)));
    this.overlay.addEventListener("mouseleave", () => this.showCell(null));
    this.props = null;
    this.grid = null;
    this.hover = null;
  }

  setMode(mode) {
    this.mode = mode;
    if (this.props) this.update(this.props);
  }

  setColumn(column) {
    this.column = column;
    if (this.props) this.update(this.props);
  }

  /**
   * @param {{runs: {run, color, label, data}[], chosenRun: string|null, step: number|null,
   *          colors: Map<string,string>}} props the selected runs with their run documents
   *          (series=none: the layout), the run the user chose, the picked step (null: last)
   */
  update(props) {
    this.props = props;
    for (const b of this.modeButtons) {
      const on = b.dataset.mode === this.mode;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    if (document.activeElement !== this.stepInput) this.stepInput.value = props.step === null ? "" : String(props.step);
    const runs = props.runs.filter((r) => r.data && hasBlocks(r.data.layers));
    const messages = [];
    this.grid = null;
    if (!runs.length) {
      messages.push(
        props.runs.length
          ? "None of the selected runs has transformer blocks. This view groups the tensors of a transformer read from checkpoints (model.layers.3.self_attn.q_proj: block 3, q_proj): write them as a run with tb-sparsity inspect DIR --logdir LOGDIR --run NAME."
          : "Select a run on the left to draw its blocks.",
      );
      replaceChildren(this.runPickerBox);
    } else {
      const focus = runs.some((r) => r.run === props.chosenRun) ? props.chosenRun : runs[0].run;
      runPicker(this.runPickerBox, { runs: runs.map((r) => r.run), current: focus, colors: props.colors, onChange: (run) => this.onRun(run) });
      this.drawGrid(runs.find((r) => r.run === focus), props.step, messages);
      this.drawProfiles(runs, props.step);
    }
    replaceChildren(this.message, messages.map((text) => el("p", { class: "view-message-text", text })));
    this.gridBox.hidden = this.grid === null;
    this.profileBox.hidden = !runs.length;
  }

  drawGrid(entry, step, messages) {
    const got = this.store.table(entry.run, step);
    if (got.error) {
      messages.push(got.error.message);
      return;
    }
    if (!got.value) {
      messages.push(`Loading run ${entry.run}\u2026`);
      return;
    }
    let mode = this.mode;
    let grid = blockGrid(entry.data.layers, got.value.rows, mode);
    if (mode === "deviation" && !grid.hasExpected) {
      messages.push(`Run ${entry.run} has no declared sparsity (no recipe next to its checkpoints): showing measured sparsity.`);
      mode = "measured";
    } else if (mode === "nm" && !grid.hasNm) {
      messages.push(`Run ${entry.run} has no N:M compliance on record: showing measured sparsity.`);
      mode = "measured";
    }
    if (mode !== this.mode) grid = blockGrid(entry.data.layers, got.value.rows, mode);
    this.grid = grid;
    this.drawnMode = mode;
    this.step = got.value.step;
    this.run = entry.run;
    this.draw();
    this.facts.textContent = `${gridFacts(entry.run, grid, this.step)} Hover a cell for its tensor.`;
    this.renderScale();
    this.renderTable();
  }

  layout() {
    const g = this.grid;
    const width = Math.max(420, Math.floor(this.stack.parentElement?.clientWidth || 800));
    const ctx = this.canvas.getContext("2d");
    ctx.font = "11px sans-serif";
    const left = Math.ceil(Math.max(...g.blocks.map((b) => ctx.measureText(`block ${b}`).width), 40)) + 12;
    const colWidth = Math.max(24, Math.min(120, Math.floor((width - left - 8) / g.columns.length)));
    const rowHeight = Math.max(4, Math.min(28, Math.floor(560 / g.blocks.length)));
    const header = HEADER_HEIGHT;
    return {
      width: Math.min(width, left + colWidth * g.columns.length + 8),
      height: header + rowHeight * g.blocks.length + 4,
      rowHeight,
      colWidth,
      area: { left, top: header, width: colWidth * g.columns.length, height: rowHeight * g.blocks.length },
    };
  }

  draw() {
    const g = this.grid;
    const lay = this.layout();
    this.lay = lay;
    const ctx = sizeCanvases([this.canvas, this.overlay], lay.width, lay.height);
    const a = lay.area;
    const cols = g.columns.length;
    const text = lay.colWidth >= MIN_TEXT_CELL.width && lay.rowHeight >= MIN_TEXT_CELL.height;
    ctx.font = "11px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    g.cells.forEach((cell, i) => {
      const r = Math.floor(i / cols);
      const c = i % cols;
      const x = a.left + c * lay.colWidth;
      const y = a.top + r * lay.rowHeight;
      const [red, green, blue] = blockColor(g.values[i], this.drawnMode, g.scale);
      ctx.fillStyle = cell ? `rgb(${red}, ${green}, ${blue})` : themeColor("--chart-grid");
      ctx.fillRect(x, y, lay.colWidth - 1, lay.rowHeight - 1);
      if (text && cell && Number.isFinite(g.values[i])) {
        // dark text on light cells, light on dark (relative luminance)
        const light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140;
        ctx.fillStyle = light ? "#1b1b1b" : "#ffffff";
        ctx.fillText(cellLabel(g.values[i], this.drawnMode), x + lay.colWidth / 2, y + lay.rowHeight / 2);
      }
    });
    ctx.fillStyle = themeColor("--chart-text");
    ctx.textBaseline = "bottom";
    g.columns.forEach((column, c) => {
      ctx.fillText(ellipsize(ctx, column.label, lay.colWidth - 4), a.left + (c + 0.5) * lay.colWidth, a.top - 6);
    });
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const every = Math.ceil(14 / lay.rowHeight); // a label every n rows when rows are thin
    g.blocks.forEach((block, r) => {
      if (r % every === 0) ctx.fillText(`block ${block}`, a.left - 6, a.top + (r + 0.5) * lay.rowHeight);
    });
    // What is drawn and where (tests and tools read it; the cells' values are in the table)
    Object.assign(this.canvas.dataset, {
      run: this.run,
      step: String(this.step),
      mode: this.drawnMode,
      blocks: g.blocks.join(" "),
      columns: g.columns.map((c) => c.id).join(" "),
      cells: [a.left, a.top, lay.colWidth, lay.rowHeight].join(" "),
    });
    this.hover = null;
    this.drawOverlay();
  }

  renderScale() {
    const g = this.grid;
    const mode = this.drawnMode;
    const swatches = scaleStops(mode, g.scale).map(([v, label]) => {
      const [r, gr, b] = blockColor(v, mode, g.scale);
      const box = el("span", { class: "scale-swatch" });
      box.style.backgroundColor = `rgb(${r}, ${gr}, ${b})`;
      return el("span", { class: "scale-stop" }, box, label);
    });
    const title = {
      measured: "measured sparsity ",
      deviation: "measured \u2212 declared: red = fewer zeros than declared, blue = more ",
      nm: "groups that comply with the N:M pattern: white = all of them ",
    }[mode];
    const missing = el("span", { class: "scale-swatch" });
    const [r, gr, b] = blockColor(NaN, mode, g.scale);
    missing.style.backgroundColor = `rgb(${r}, ${gr}, ${b})`;
    replaceChildren(this.scale, el("span", { class: "muted", text: title }), swatches, el("span", { class: "scale-stop" }, missing, mode === "deviation" ? "nothing declared" : "no record"));
  }

  renderTable() {
    const g = this.grid;
    const cols = g.columns.length;
    const value = (v) => (v === null ? "" : String(v));
    replaceChildren(
      this.table,
      el("caption", { text: `${BLOCK_MODES[this.drawnMode]} of each block and module type of ${this.run} at step ${this.step}` }),
      el("thead", {}, el("tr", {}, el("th", { text: "block" }), g.columns.map((c) => el("th", { attrs: { scope: "col" }, text: c.label })))),
      el(
        "tbody",
        {},
        g.blocks.map((block, r) =>
          el(
            "tr",
            {},
            el("th", { attrs: { scope: "row" }, text: `block ${block}` }),
            g.columns.map((column, c) => {
              const cell = g.cells[r * cols + c];
              if (!cell) return el("td", { text: "\u2014", dataset: { block, column: column.id } });
              return el("td", {
                text: cellLabel(g.values[r * cols + c], this.drawnMode) || "\u2014",
                attrs: { title: blockCellText(cell, this.step) },
                dataset: { block, column: column.id, tensor: cell.name, measured: value(cell.measured), expected: value(cell.expected), nm: value(cell.nm) },
              });
            }),
          ),
        ),
      ),
    );
  }

  cellOf(e) {
    if (!this.grid || !this.lay) return null;
    const rect = this.overlay.getBoundingClientRect();
    const cell = cellAt(e.clientX - rect.left, e.clientY - rect.top, this.lay.area, this.grid.blocks.length, this.grid.columns.length);
    return cell && this.grid.cells[cell.row * this.grid.columns.length + cell.col] ? cell : null;
  }

  showCell(cell) {
    if ((cell && this.hover && cell.row === this.hover.row && cell.col === this.hover.col) || (!cell && !this.hover)) return;
    this.hover = cell;
    this.drawOverlay();
    if (!cell) {
      this.tooltip.hidden = true;
      return;
    }
    const g = this.grid;
    const a = this.lay.area;
    showTooltip(this.tooltip, blockCellText(g.cells[cell.row * g.columns.length + cell.col], this.step),
      a.left + (cell.col + 1) * this.lay.colWidth, a.top + cell.row * this.lay.rowHeight, this.lay.width - 340);
  }

  drawOverlay() {
    if (!this.lay) return;
    const ctx = clearedContext(this.overlay, this.lay.width, this.lay.height);
    if (!this.hover) return;
    const a = this.lay.area;
    ctx.strokeStyle = themeColor("--accent");
    ctx.lineWidth = 2;
    ctx.strokeRect(a.left + this.hover.col * this.lay.colWidth, a.top + this.hover.row * this.lay.rowHeight, this.lay.colWidth - 1, this.lay.rowHeight - 1);
  }

  drawProfiles(runs, step) {
    const types = moduleTypes(runs.map((r) => r.data.layers));
    if (this.column !== ALL_TYPES && !types.includes(this.column)) this.column = ALL_TYPES;
    const wanted = [ALL_TYPES, ...types].join("\u0000");
    if (this.typesShown !== wanted) {
      this.typesShown = wanted;
      replaceChildren(this.moduleSelect, el("option", { attrs: { value: ALL_TYPES }, text: "all (weighted by weight count)" }), types.map((t) => el("option", { attrs: { value: t }, text: t })));
    }
    this.moduleSelect.value = this.column;
    const mode = this.drawnMode || "measured";
    const entries = [];
    const waiting = [];
    for (const r of runs) {
      const got = this.store.table(r.run, step);
      if (got.value) entries.push({ run: r.run, label: r.label, color: r.color, layers: r.data.layers, rows: got.value.rows, step: got.value.step });
      else waiting.push(r.run);
    }
    const lines = blockProfiles(entries, this.column === ALL_TYPES ? null : this.column, mode).filter((l) => l.points.length);
    const what = this.column === ALL_TYPES ? "all module types, weighted by weight count" : this.column;
    this.profileIntro.textContent = `${BLOCK_MODES[mode]} of each block (${what}) in every selected run, at ${step === null ? "each run's last checkpoint" : `step ${step}`}: one line per run.${waiting.length ? ` Loading ${waiting.join(", ")}\u2026` : ""}`;
    this.chartBox.hidden = !lines.length;
    if (!lines.length) {
      replaceChildren(this.legend);
      return;
    }
    const xs = lines.flatMap((l) => l.points.map((p) => p.x));
    const ys = lines.flatMap((l) => l.points.map((p) => p.y));
    const yDomain = profileDomain(ys, mode);
    const covered = coveredLines(lines, (yDomain[1] - yDomain[0]) * 0.01); // about 3 pixels
    const percent = (v) => (mode === "deviation" ? formatPoints(v) : formatPercent(v));
    const fine = (v) => (mode === "deviation" ? formatPoints(v, 2) : formatPercent(v, 2));
    this.chart.update({
      lines,
      xDomain: [Math.min(...xs) - 0.5, Math.max(...xs) + 0.5],
      yDomain,
      xFormat: (v) => (Number.isInteger(v) ? String(v) : ""),
      yFormat: percent,
      xLabel: "block",
      yLabel: BLOCK_MODES[mode],
      describe: (line, p) => profileText(lines, line.id, p.x, what, fine),
    });
    replaceChildren(
      this.legend,
      lines.map((l) =>
        el("span", { class: "legend-item", dataset: { run: l.id } }, swatch(l.color), l.label, covered.has(l.id) ? el("span", { class: "muted", text: ` (under ${covered.get(l.id)})` }) : null),
      ),
    );
  }

  resize() {
    if (this.grid) this.draw();
    if (!this.chartBox.hidden) this.chart.resize();
  }
}
