// The Blocks view's view model: the hundreds of tensors of a transformer read from checkpoints,
// grouped by block and module type (the run document's `block` and `module_type`, e.g.
// `model.layers.3.self_attn.q_proj` is block 3, module `q_proj`): a blocks × module types grid
// of one run at one step, and per-block profiles that compare runs block by block.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the values); unit-tested with
// `node --test`.
import { formatPercent, formatPoints } from "./format.js";
import { deviationScale, heatmapColor } from "./heatmap.js";
import { paddedExtent } from "./xy_chart.js";

export const BLOCK_MODES = {
  measured: "measured sparsity",
  deviation: "deviation from declared",
  nm: "N:M compliance",
};

// Module types of the common transformer families in the order a block runs them (attention,
// then the MLP); others follow in the order the run lists them.
const KNOWN_ORDER = [
  "q_proj", "k_proj", "v_proj", "qkv_proj", "query_key_value", "c_attn", "query", "key", "value",
  "o_proj", "out_proj", "dense", "c_proj", "gate_proj", "up_proj", "gate_up_proj", "w1", "w3",
  "fc1", "c_fc", "dense_h_to_4h", "down_proj", "w2", "fc2", "dense_4h_to_h",
];
const BLOCK_PARENTS = new Set(["layers", "h", "blocks", "block", "layer"]);

/** Whether a run document's layers carry blocks (a transformer read from checkpoints). */
export function hasBlocks(layers) {
  return Array.isArray(layers) && layers.some((l) => l && Number.isInteger(l.block));
}

/** "self_attn.q_proj" of "model.layers.3.self_attn.q_proj" in block 3: the module's path
 *  inside its block (what tells apart two modules of one type, e.g. BERT's `dense`s). */
export function pathInBlock(name, block, moduleType) {
  const parts = String(name || "").split(/[./]/);
  for (let i = 1; i < parts.length - 1; i++) {
    if (parts[i] === String(block) && BLOCK_PARENTS.has(parts[i - 1])) return parts.slice(i + 1).join(".");
  }
  return moduleType || String(name || "");
}

/**
 * The grid's rows (blocks, ascending) and columns (module types) of a run's layers. A module
 * type that two layers of one block share (BERT's `attention.output.dense`, `output.dense`)
 * gets one column per path inside the block instead.
 * @param {object[]} layers the run document's layers (`key`, `name`, `block`, `module_type`)
 * @returns {{blocks: number[], columns: {id: string, label: string}[],
 *            place: Map<string, {block: number, column: string}>, outside: object[]}}
 */
export function blockLayout(layers) {
  const inBlocks = (Array.isArray(layers) ? layers : []).filter((l) => l && Number.isInteger(l.block));
  const outside = (Array.isArray(layers) ? layers : []).filter((l) => l && !Number.isInteger(l.block));
  const seen = new Map(); // "block\0type" -> count
  for (const l of inBlocks) {
    const id = `${l.block}\u0000${l.module_type}`;
    seen.set(id, (seen.get(id) || 0) + 1);
  }
  const shared = new Set([...seen].filter(([, n]) => n > 1).map(([id]) => id.split("\u0000")[1]));
  const place = new Map();
  const order = [];
  for (const l of inBlocks) {
    const type = typeof l.module_type === "string" && l.module_type ? l.module_type : "?";
    const column = shared.has(type) ? pathInBlock(l.name, l.block, type) : type;
    if (!order.includes(column)) order.push(column);
    place.set(l.key, { block: l.block, column });
  }
  const rank = (column) => {
    const known = KNOWN_ORDER.indexOf(column.split(".").pop());
    return known < 0 ? KNOWN_ORDER.length : known;
  };
  const columns = order
    .map((id, i) => ({ id, i }))
    .sort((a, b) => rank(a.id) - rank(b.id) || a.i - b.i)
    .map(({ id }) => ({ id, label: id }));
  const blocks = [...new Set(inBlocks.map((l) => l.block))].sort((a, b) => a - b);
  return { blocks, columns, place, outside };
}

function finite(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A cell's value in a mode: measured, measured − expected (declared), or N:M compliance. */
export function cellValue(cell, mode) {
  if (mode === "deviation") return cell.measured !== null && cell.expected !== null ? cell.measured - cell.expected : null;
  if (mode === "nm") return cell.nm;
  return cell.measured;
}

/**
 * The blocks × module types grid of one run at one step.
 * @param {object[]} layers the run document's layers (layout, `params`, `nm`, `declared`)
 * @param {object[]} rows the `table` route's rows at the step (`key`, `measured`,
 *   `expected`, `n_m_compliance`: each series' last record at or before it)
 * @param {string} mode a key of BLOCK_MODES
 * @returns {{blocks, columns, cells: object[], values: Float64Array, scale: number,
 *            outside: object[], hasExpected: boolean, hasNm: boolean}}
 *   cells[r * columns.length + c] is null where a block has no such module
 */
export function blockGrid(layers, rows, mode = "measured") {
  const layout = blockLayout(layers);
  const at = new Map((Array.isArray(rows) ? rows : []).map((r) => [r.key, r]));
  const colIndex = new Map(layout.columns.map((c, i) => [c.id, i]));
  const rowIndex = new Map(layout.blocks.map((b, i) => [b, i]));
  const cols = layout.columns.length;
  const cells = new Array(layout.blocks.length * cols).fill(null);
  for (const layer of layers || []) {
    const where = layout.place.get(layer && layer.key);
    if (!where) continue;
    const row = at.get(layer.key) || {};
    const cell = {
      key: layer.key,
      name: layer.name || layer.key,
      block: where.block,
      column: where.column,
      moduleType: layer.module_type || null,
      params: finite(layer.params),
      measured: finite(row.measured),
      expected: finite(row.expected),
      nm: finite(row.n_m_compliance),
      nmPattern: Array.isArray(layer.nm) && layer.nm.length === 2 ? `${layer.nm[0]}:${layer.nm[1]}` : null,
      declared: layer.declared && typeof layer.declared === "object" ? layer.declared : null,
    };
    cells[rowIndex.get(where.block) * cols + colIndex.get(where.column)] = cell;
  }
  const values = new Float64Array(cells.length).fill(NaN);
  let maxAbs = 0;
  let minNm = 1;
  cells.forEach((cell, i) => {
    if (!cell) return;
    const v = cellValue(cell, mode);
    if (v === null) return;
    values[i] = v;
    if (mode === "deviation") maxAbs = Math.max(maxAbs, Math.abs(v));
    if (mode === "nm") minNm = Math.min(minNm, v);
  });
  const present = cells.filter(Boolean);
  return {
    blocks: layout.blocks,
    columns: layout.columns,
    cells,
    values,
    scale: mode === "nm" ? deviationScale(1 - minNm) : deviationScale(maxAbs),
    outside: layout.outside,
    hasExpected: present.some((c) => c.expected !== null),
    hasNm: present.some((c) => c.nm !== null),
  };
}

/** [r, g, b] of a value: sparsity light → dark; deviation red (below declared) → white →
 *  blue (above); N:M compliance white (every group complies) → red (the least compliant). */
export function blockColor(value, mode, scale = 1) {
  if (mode === "nm") return heatmapColor(Number.isFinite(value) ? value - 1 : NaN, "deviation", scale);
  return heatmapColor(value, mode === "deviation" ? "deviation" : "measured", scale);
}

/** The scale's stops (value, label) of a mode. */
export function scaleStops(mode, scale) {
  if (mode === "measured") return [0, 0.25, 0.5, 0.75, 1].map((v) => [v, formatPercent(v, 0)]);
  if (mode === "nm") return [1 - scale, 1 - scale / 2, 1].map((v) => [v, formatPercent(v, scale < 0.02 ? 2 : 1)]);
  return [-scale, -scale / 2, 0, scale / 2, scale].map((v) => [v, formatPoints(v, scale < 0.02 ? 2 : 1)]);
}

/** What was declared for a cell's tensor, in words. */
export function declaredText(declared) {
  if (!declared) return "nothing declared";
  const by = [declared.modifier, declared.source].filter((s) => typeof s === "string" && s).join(", ");
  if (declared.ignored) return `ignored by the recipe${by ? ` (${by})` : ""}`;
  const structure = Array.isArray(declared.structure) && declared.structure.length === 2 ? `${declared.structure[0]}:${declared.structure[1]}` : null;
  const level = finite(declared.sparsity);
  const what = [level === null ? null : formatPercent(level, 1), structure].filter(Boolean).join(" ");
  return `${what ? `declared ${what}` : "nothing declared"}${by ? ` (${by})` : ""}`;
}

/** What the grid's hover (and its table's cell title) says of a cell. */
export function blockCellText(cell, step) {
  const parts = [cell.name, `block ${cell.block}, ${cell.column}`];
  if (step !== null && step !== undefined) parts.push(`step ${step}`);
  parts.push(cell.measured === null ? "no record yet" : `measured ${formatPercent(cell.measured, 2)}`);
  parts.push(declaredText(cell.declared));
  if (cell.measured !== null && cell.expected !== null) parts.push(`\u0394 ${formatPoints(cell.measured - cell.expected, 2)}`);
  if (cell.nm !== null) parts.push(`${cell.nmPattern || "N:M"} groups ok ${formatPercent(cell.nm, 2)}`);
  return parts.join(" \u00b7 ");
}

/** A cell's short text, drawn inside it when it is large enough. */
export function cellLabel(value, mode) {
  if (!Number.isFinite(value)) return "";
  if (mode === "deviation") return formatPoints(value, Math.abs(value) < 0.001 && value !== 0 ? 2 : 1).replace(" pt", "");
  return formatPercent(value, mode === "nm" && value < 1 && value > 0.99 ? 2 : 1);
}

/** The module types of several runs' layers, for the profiles' picker, in grid order. */
export function moduleTypes(layerLists) {
  const all = [];
  for (const layers of layerLists) {
    for (const c of blockLayout(layers).columns) if (!all.includes(c.id)) all.push(c.id);
  }
  return all;
}

/**
 * Per-block profiles: one line per run, x = block, y = the mode's value of the block's
 * tensors of `column` (null: all of them, weighted by weight count) at each run's step.
 * @param {{run, label, color, layers: object[], rows: object[], step: number|null}[]} entries
 * @returns {{id, label, color, points: {x, y, step, count}[]}[]}
 */
export function blockProfiles(entries, column, mode = "measured") {
  return entries.map((e) => {
    const grid = blockGrid(e.layers, e.rows, mode);
    const cols = grid.columns.length;
    const points = [];
    grid.blocks.forEach((block, r) => {
      let sum = 0;
      let weight = 0;
      let count = 0;
      for (let c = 0; c < cols; c++) {
        const cell = grid.cells[r * cols + c];
        if (!cell || (column !== null && cell.column !== column)) continue;
        const v = cellValue(cell, mode);
        if (v === null) continue;
        const w = cell.params || 1;
        sum += v * w;
        weight += w;
        count += 1;
      }
      if (count) points.push({ x: block, y: sum / weight, step: e.step, count });
    });
    return { id: e.run, label: e.label || e.run, color: e.color, points };
  });
}

/** The profiles' y range: the values' padded extent, at least 5 points of sparsity (1 point
 *  of deviation) wide so that runs a hair apart do not look far apart, within [0, 1]. */
export function profileDomain(ys, mode) {
  let [lo, hi] = paddedExtent(ys);
  const span = mode === "deviation" ? 0.01 : 0.05;
  if (hi - lo < span) {
    const mid = (lo + hi) / 2;
    [lo, hi] = [mid - span / 2, mid + span / 2];
  }
  if (mode !== "deviation") {
    if (hi > 1) [lo, hi] = [Math.max(0, lo - (hi - 1)), 1];
    if (lo < 0) [lo, hi] = [0, Math.min(1, hi - lo)];
    // room for the dots of 0% and 100%, without a tick beyond them
    const room = (hi - lo) * 0.03;
    [lo, hi] = [lo <= 0 ? -room : lo, hi >= 1 ? 1 + room : hi];
  }
  return [lo, hi];
}

/** {run: the label of the line drawn over it} for each profile a later line covers at every
 *  block (within `tolerance`): the legend says where it went. */
export function coveredLines(lines, tolerance) {
  const out = new Map();
  lines.forEach((line, i) => {
    const over = lines.slice(i + 1).reverse().find((other) => line.points.every((p) => {
      const q = other.points.find((o) => o.x === p.x);
      return q && Math.abs(q.y - p.y) <= tolerance;
    }));
    if (over && line.points.length) out.set(line.id, over.label);
  });
  return out;
}

/** What the profiles' hover says at a block: the hovered run first, then every other run
 *  at that block (lines that coincide hide each other; the hover names them all). */
export function profileText(lines, hovered, x, what, format) {
  const at = lines
    .map((l) => ({ line: l, point: l.points.find((p) => p.x === x) }))
    .filter((e) => e.point)
    .sort((a, b) => (a.line.id === hovered ? -1 : b.line.id === hovered ? 1 : b.point.y - a.point.y));
  const runs = at.map(({ line, point }) => `${line.label} ${format(point.y)}${point.step !== null && point.step !== undefined ? ` (step ${point.step})` : ""}`);
  return [`block ${x}`, what, ...runs].join(" \u00b7 ");
}

/** The facts line under the grid: what it shows, and which tensors are not in blocks. */
export function gridFacts(run, grid, step) {
  const n = grid.cells.filter(Boolean).length;
  const out = grid.outside.map((l) => l.name || l.key);
  const outside = out.length
    ? ` ${out.length} tensor${out.length === 1 ? "" : "s"} outside the blocks (${out.slice(0, 4).join(", ")}${out.length > 4 ? ", \u2026" : ""}) ${out.length === 1 ? "is" : "are"} in the Layers view.`
    : "";
  return `${run} at step ${step}: ${grid.blocks.length} block${grid.blocks.length === 1 ? "" : "s"} \u00d7 ${grid.columns.length} module type${grid.columns.length === 1 ? "" : "s"}, ${n} tensor${n === 1 ? "" : "s"}.${outside}`;
}
