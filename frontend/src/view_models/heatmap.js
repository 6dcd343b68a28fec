// The Heatmap's view model: the layers x steps matrix, its colours and a cell's text.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.
import { formatPercent, formatPoints } from "./format.js";
import { pointAt } from "./series.js";

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
