// Pure view-model helpers of the Quality, Heatmap, Table and What-if views: no DOM, no fetch,
// no schedule math (the backend's `quality`, `table` and `schedule` routes compute; this module
// lines their JSON up for drawing). Unit-tested with `node --test`.
import { formatPercent, formatPoints, MODEL_KEY, pointAt } from "./model.js";

/** The sections of the page; "layers" (the per-layer charts) is the default. */
export const TABS = [
  { id: "layers", label: "Layers" },
  { id: "quality", label: "Quality vs sparsity" },
  { id: "heatmap", label: "Heatmap" },
  { id: "table", label: "Table" },
  { id: "whatif", label: "What-if schedule" },
];

// ---- quality vs sparsity ----------------------------------------------------------------------

/**
 * The metric picker's options: the union of the `metrics` route's lists of several runs, by id,
 * in the order the backend ranked them (first list first), each with the runs that have it.
 * @param {{run: string, metrics: object[]}[]} lists
 */
export function mergeMetricLists(lists) {
  const byId = new Map();
  for (const { run, metrics } of lists) {
    for (const m of Array.isArray(metrics) ? metrics : []) {
      if (!m || typeof m.id !== "string") continue;
      if (!byId.has(m.id)) byId.set(m.id, { ...m, runs: [] });
      byId.get(m.id).runs.push(run);
    }
  }
  return [...byId.values()];
}

/** Keeps the user's metric while it exists, else the backend's first (likely) choice. */
export function chooseMetric(options, current) {
  if (current && options.some((o) => o.id === current)) return current;
  return options.length ? options[0].id : null;
}

/** Accuracy-like metrics (higher is better, values in [0, 1]) take the tolerance in points. */
export function toleranceUnit(direction) {
  return direction === "lower_is_better" ? "value" : "points";
}

export function defaultToleranceText(direction) {
  return toleranceUnit(direction) === "points" ? "1" : "0.01";
}

/**
 * The `tolerance` parameter from the text of the tolerance box: points (1 → 0.01) for
 * higher-is-better metrics, the metric's own unit for lower-is-better ones.
 * @returns {{value: number|null, error: string|null}}
 */
export function parseTolerance(text, direction) {
  const source = String(text ?? "").trim();
  const number = Number(source);
  if (source === "" || !Number.isFinite(number) || number < 0) {
    return { value: null, error: "tolerance: a number ≥ 0" };
  }
  return { value: toleranceUnit(direction) === "points" ? number / 100 : number, error: null };
}

/** A metric value for people: accuracy-like values in [0, 1] as percent, others as numbers. */
export function formatMetric(value, direction) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (direction !== "lower_is_better" && value >= 0 && value <= 1) return formatPercent(value, 1);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(3);
  return String(+value.toPrecision(4));
}

/** The drop of the first-drop point, in the metric's terms: "−1.9 pt" or "+0.04". */
export function formatDrop(drop, direction) {
  if (!drop) return "";
  const diff = drop.value - drop.best_value;
  if (direction !== "lower_is_better" && Math.abs(drop.best_value) <= 1) return formatPoints(diff);
  return `${diff < 0 ? "\u2212" : "+"}${formatMetric(Math.abs(diff), "lower_is_better")}`;
}

/**
 * One line of the quality chart per run: points in step order with x = sparsity, y = value.
 * @param {{run: string, color: string, label?: string, doc: object}[]} entries quality documents
 */
export function qualityLines(entries) {
  return entries
    .filter((e) => e.doc && Array.isArray(e.doc.points) && e.doc.points.length)
    .map((e) => {
      const from = Array.isArray(e.doc.sparsity_from) ? e.doc.sparsity_from : [];
      const drop = e.doc.first_drop;
      return {
        id: e.run,
        label: e.label || e.run,
        color: e.color,
        points: e.doc.points.map(([step, x, y], i) => ({ step, x, y, estimated: from[i] !== undefined && from[i] !== "measured" })),
        marker: drop ? { x: drop.sparsity, y: drop.value, step: drop.step } : null,
      };
    });
}

/** The sentence a run's row says about its first drop. */
export function firstDropText(doc) {
  if (!doc || !Array.isArray(doc.points) || doc.points.length === 0) return "no points";
  const drop = doc.first_drop;
  const tolerance =
    toleranceUnit(doc.direction) === "points" ? `${+(doc.tolerance * 100).toFixed(3)} pt` : formatMetric(doc.tolerance, "lower_is_better");
  if (!drop) return `never ${doc.direction === "lower_is_better" ? "rose above" : "fell below"} its best by more than ${tolerance}`;
  return `at ${formatPercent(drop.sparsity)} sparsity (step ${drop.step}): ${formatMetric(drop.value, doc.direction)}, best so far ${formatMetric(drop.best_value, doc.direction)} at step ${drop.best_step} (${formatDrop(drop, doc.direction)})`;
}

/** Tick values between min and max: 1, 2 or 5 × a power of ten, about `count` of them. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const out = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** [min, max] of `values` with `pad` (fraction of the span) on both sides; a flat series gets room. */
export function paddedExtent(values, pad = 0.08) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (min === max) {
    const d = Math.abs(min) * 0.05 || 0.05;
    return [min - d, max + d];
  }
  const d = (max - min) * pad;
  return [min - d, max + d];
}

/** The sparsity axis: from 0 to the next 10 % above the largest x (at most 100 %). */
export function sparsityDomain(lines) {
  let max = 0;
  for (const l of lines) for (const p of l.points) if (Number.isFinite(p.x)) max = Math.max(max, p.x);
  return [0, Math.min(1, Math.ceil((max + 0.02) * 10) / 10)];
}

/**
 * The point nearest to (px, py) in pixels, within `radius`, or null.
 * @param {{points: {x: number, y: number}[]}[]} lines
 * @param {(p: object) => [number, number]} toPixels
 */
export function nearestPoint(lines, px, py, toPixels, radius = 24) {
  let best = null;
  lines.forEach((line, li) => {
    line.points.forEach((p, pi) => {
      const [x, y] = toPixels(p);
      const d = Math.hypot(x - px, y - py);
      if (d <= radius && (best === null || d < best.distance)) best = { line: li, point: pi, distance: d };
    });
  });
  return best;
}

// ---- heatmap ------------------------------------------------------------------------------------

export const HEATMAP_MODES = { measured: "measured sparsity", deviation: "deviation from expected" };

/**
 * The layers × steps matrix of one run. Columns are the steps with a measured record (any
 * layer); a cell holds the layer's last record at or before the column's step (NaN before its
 * first). In "deviation" mode a cell is measured − expected, both held at that step (NaN where
 * the layer has no expected curve).
 * @param {object[]} layers the `layers` of a `run` document, in model order
 * @returns {{rows: {key: string, name: string}[], steps: number[], values: Float64Array,
 *            maxAbs: number, hasExpected: boolean}}
 */
export function heatmapMatrix(layers, mode = "measured") {
  const list = Array.isArray(layers) ? layers.filter((l) => l && Array.isArray(l.measured)) : [];
  const stepSet = new Set();
  for (const l of list) for (const p of l.measured) if (Number.isFinite(p[0])) stepSet.add(p[0]);
  const steps = [...stepSet].sort((a, b) => a - b);
  const cols = steps.length;
  const values = new Float64Array(list.length * cols).fill(NaN);
  let maxAbs = 0;
  const hasExpected = list.some((l) => Array.isArray(l.expected) && l.expected.length);
  list.forEach((layer, r) => {
    const measured = layer.measured;
    const expected = Array.isArray(layer.expected) ? layer.expected : null;
    let m = -1;
    let e = -1;
    for (let c = 0; c < cols; c++) {
      const step = steps[c];
      while (m + 1 < measured.length && measured[m + 1][0] <= step) m++;
      if (m < 0) continue;
      let v = measured[m][1];
      if (mode === "deviation") {
        if (!expected) continue;
        while (e + 1 < expected.length && expected[e + 1][0] <= step) e++;
        if (e < 0) continue;
        v -= expected[e][1];
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      values[r * cols + c] = v;
    }
  });
  return { rows: list.map((l) => ({ key: l.key, name: l.name || l.key })), steps, values, maxAbs, hasExpected };
}

const SEQUENTIAL = [
  [0, [255, 255, 217]],
  [0.25, [199, 233, 180]],
  [0.5, [65, 182, 196]],
  [0.75, [34, 94, 168]],
  [1, [8, 29, 88]],
];
const DIVERGING = [
  [0, [178, 24, 43]], // below expected: under-pruned
  [0.5, [247, 247, 247]],
  [1, [33, 102, 172]], // above expected
];
export const MISSING_COLOR = [232, 234, 237];

function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, t));
  for (let i = 1; i < stops.length; i++) {
    if (x <= stops[i][0]) {
      const [t0, c0] = stops[i - 1];
      const [t1, c1] = stops[i];
      const f = (x - t0) / (t1 - t0);
      return c0.map((v, k) => Math.round(v + (c1[k] - v) * f));
    }
  }
  return stops[stops.length - 1][1].slice();
}

/** Deviation colour scale half-width: the largest |deviation|, at least half a point. */
export function deviationScale(maxAbs) {
  return Math.max(0.005, Number.isFinite(maxAbs) ? maxAbs : 0);
}

/** [r, g, b] of a cell: sparsity 0 → light, 1 → dark; deviation −scale → red, 0 → white, +scale → blue. */
export function heatmapColor(value, mode = "measured", scale = 1) {
  if (!Number.isFinite(value)) return MISSING_COLOR.slice();
  if (mode === "deviation") return ramp(DIVERGING, 0.5 + value / (2 * scale));
  return ramp(SEQUENTIAL, value);
}

/** RGBA bytes of the whole matrix (one pixel per cell), for ImageData. */
export function heatmapPixels(matrix, mode = "measured") {
  const scale = deviationScale(matrix.maxAbs);
  const n = matrix.values.length;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = heatmapColor(matrix.values[i], mode, scale);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** The cell under (x, y) of a plot area `{left, top, width, height}` of `rows` × `cols`, or null. */
export function cellAt(x, y, area, rows, cols) {
  if (!rows || !cols) return null;
  const fx = (x - area.left) / area.width;
  const fy = (y - area.top) / area.height;
  if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
  return { row: Math.floor(fy * rows), col: Math.floor(fx * cols) };
}

/** What the heatmap's hover says about a cell. */
export function heatmapCellText(matrix, layers, row, col) {
  const layer = layers[row];
  const step = matrix.steps[col];
  const held = pointAt(layer.measured, step);
  const expected = pointAt(layer.expected, step);
  const parts = [`${layer.name || layer.key} (${layer.key})`, `step ${step}`];
  if (!held) parts.push("no record yet");
  else {
    parts.push(`measured ${formatPercent(held.value)}${held.step !== step ? ` (logged at ${held.step})` : ""}`);
    if (expected) parts.push(`expected ${formatPercent(expected.value)}`, `\u0394 ${formatPoints(held.value - expected.value)}`);
    else parts.push("no expected curve");
  }
  return parts.join(" \u00b7 ");
}

// ---- table ---------------------------------------------------------------------------------------

export const TABLE_COLUMNS = [
  { id: "name", label: "layer", kind: "text" },
  { id: "params", label: "weights", kind: "count" },
  { id: "measured", label: "measured", kind: "percent" },
  { id: "expected", label: "expected", kind: "percent" },
  { id: "target", label: "target", kind: "percent" },
  { id: "deviation", label: "deviation", kind: "points" },
  { id: "threshold", label: "threshold", kind: "number" },
];

/** The table's columns: N:M compliance only when a row logs it (PyTorch's SparsityWriter). */
export function tableColumns(rows) {
  const nm = rows.some((r) => Number.isFinite(r.n_m_compliance));
  return nm ? [...TABLE_COLUMNS, { id: "n_m_compliance", label: "N:M groups ok", kind: "percent" }] : TABLE_COLUMNS;
}

/**
 * Sorts the `table` route's rows by a column; the whole-model row stays on top, missing values
 * sort last whatever the direction; ties keep model order.
 */
export function sortTableRows(rows, column = null, descending = false) {
  const model = rows.filter((r) => r.key === MODEL_KEY);
  const layers = rows.filter((r) => r.key !== MODEL_KEY).map((r, i) => ({ r, i }));
  if (column) {
    layers.sort((a, b) => {
      const va = a.r[column];
      const vb = b.r[column];
      const na = va === null || va === undefined;
      const nb = vb === null || vb === undefined;
      if (na || nb) return na === nb ? a.i - b.i : na ? 1 : -1;
      let c;
      if (typeof va === "string" || typeof vb === "string") c = String(va).localeCompare(String(vb));
      else c = va - vb;
      if (c === 0) return a.i - b.i;
      return descending ? -c : c;
    });
  }
  return [...model, ...layers.map((x) => x.r)];
}

/** The text of a table cell. */
export function formatCell(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "percent") return formatPercent(value, 2);
  if (kind === "points") return formatPoints(value, 2);
  if (kind === "count") return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "—";
  if (kind === "number") return Number.isFinite(value) ? String(+value.toPrecision(4)) : "—";
  return String(value);
}

// ---- what-if schedule --------------------------------------------------------------------------

/** The form of each schedule class: tfmot's config keys, with tfmot's defaults where it has them. */
export const SCHEDULE_FIELDS = {
  PolynomialDecay: [
    { key: "initial_sparsity", label: "initial sparsity", kind: "fraction", value: 0 },
    { key: "final_sparsity", label: "final sparsity", kind: "fraction", value: 0.8 },
    { key: "begin_step", label: "begin step", kind: "step", value: 0 },
    { key: "end_step", label: "end step", kind: "step", value: null },
    { key: "power", label: "power", kind: "number", value: 3 },
    { key: "frequency", label: "frequency", kind: "step", value: 100 },
  ],
  ConstantSparsity: [
    { key: "target_sparsity", label: "target sparsity", kind: "fraction", value: 0.5 },
    { key: "begin_step", label: "begin step", kind: "step", value: 0 },
    { key: "end_step", label: "end step (−1: never)", kind: "step", value: -1 },
    { key: "frequency", label: "frequency", kind: "step", value: 100 },
  ],
  // torch.ao: steps are scheduler.step() calls, the loop is sparsifier.step(); scheduler.step()
  CubicSL: [
    { key: "sparsity_level", label: "sparsity level", kind: "fraction", value: 0.8 },
    { key: "init_sl", label: "init_sl", kind: "fraction", value: 0 },
    { key: "init_t", label: "init_t", kind: "step", value: 0 },
    { key: "delta_t", label: "delta_t", kind: "step", value: 10 },
    { key: "total_t", label: "total_t", kind: "step", value: 100 },
  ],
};

/** A recorded schedule's class and config: tfmot's as logged, PyTorch's from its source
 * (CubicSL's group level `base_sl` is the form's `sparsity_level`). */
function scheduleConfig(schedule) {
  if (!schedule || typeof schedule !== "object") return null;
  if (SCHEDULE_FIELDS[schedule.class_name]) return { className: schedule.class_name, config: schedule.config || {} };
  const source = schedule.source && typeof schedule.source === "object" ? schedule.source : {};
  if (source.class_name !== "CubicSL") return null;
  const config = { ...(source.config || {}) };
  if (Number.isFinite(config.base_sl)) config.sparsity_level = config.base_sl;
  return { className: "CubicSL", config };
}

/**
 * Starting values of the what-if form for a run: its first layer's recorded schedule when it has
 * one, else tfmot's defaults over the run's length.
 * @returns {{className: string, values: Object<string, number>, maxStep: number, from: string}}
 */
export function prefillSchedule(runData) {
  const last = runData ? Math.max(runData.last_step || 0, runData.training_last_step || 0) : 0;
  const maxStep = last > 0 ? last : 1000;
  const layer = runData && Array.isArray(runData.layers) ? runData.layers.find((l) => scheduleConfig(l.schedule)) : null;
  if (layer) {
    const { className, config } = scheduleConfig(layer.schedule);
    const values = {};
    for (const f of SCHEDULE_FIELDS[className]) {
      const v = config[f.key];
      values[f.key] = Number.isFinite(v) ? v : f.value;
    }
    return { className, values, maxStep, from: `the schedule of ${layer.name || layer.key}` };
  }
  const className = "PolynomialDecay";
  const values = {};
  for (const f of SCHEDULE_FIELDS[className]) values[f.key] = f.value;
  values.end_step = maxStep;
  return { className, values, maxStep, from: "tfmot's defaults (no schedule on record)" };
}

/**
 * The `schedule` route's parameters from the form's texts, or the errors to show.
 * @returns {{params: Object<string, string|number>|null, errors: string[]}}
 */
export function scheduleParams(className, texts, maxStepText, paramsText = "") {
  const fields = SCHEDULE_FIELDS[className];
  const errors = [];
  if (!fields) return { params: null, errors: [`unknown schedule class ${className}`] };
  const params = { class_name: className };
  for (const f of fields) {
    const text = String(texts[f.key] ?? "").trim();
    if (text === "") continue; // the backend uses tfmot's default
    const n = Number(text);
    if (!Number.isFinite(n)) errors.push(`${f.label}: not a number`);
    else if (f.kind === "fraction" && !(n >= 0 && n < 1)) errors.push(`${f.label}: a fraction in [0, 1), e.g. 0.8`);
    else if (f.kind === "step" && !Number.isInteger(n)) errors.push(`${f.label}: a whole number of steps`);
    else params[f.key] = n;
  }
  const maxStep = Number(String(maxStepText ?? "").trim());
  if (!Number.isInteger(maxStep) || maxStep < 1) errors.push("training length: a whole number of steps ≥ 1");
  else params.max_step = maxStep;
  const p = String(paramsText ?? "").trim();
  if (p !== "") {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1) errors.push("weights: a whole number ≥ 1, or empty");
    else params.params = n;
  }
  return errors.length ? { params: null, errors } : { params, errors };
}

/** A short summary of the pruning steps the `schedule` route lists. */
export function pruningStepsText(steps) {
  if (!Array.isArray(steps) || steps.length === 0) return "no pruning step inside the training run";
  if (steps.length <= 6) return `pruning at step${steps.length === 1 ? "" : "s"} ${steps.join(", ")}`;
  return `pruning at ${steps.length}${steps.length >= 1000 ? "+" : ""} steps (${steps.slice(0, 3).join(", ")}, …, ${steps[steps.length - 1]})`;
}
