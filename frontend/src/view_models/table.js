// The Table's view model: columns, sorting and cell formats.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.
import { MODEL_KEY, formatPercent, formatPoints } from "./format.js";

export const TABLE_COLUMNS = [
  { id: "name", label: "layer", kind: "text" },
  { id: "params", label: "weights", kind: "count" },
  { id: "measured", label: "measured", kind: "percent" },
  { id: "expected", label: "expected", kind: "percent" },
  { id: "target", label: "target", kind: "percent" },
  { id: "deviation", label: "deviation", kind: "points" },
  { id: "threshold", label: "threshold", kind: "number" },
];

/**
 * The table's columns: the schedule (in full) when the rows have one (withSchedules), N:M
 * compliance only when a row logs it (PyTorch's SparsityWriter).
 */
export function tableColumns(rows) {
  const nm = rows.some((r) => Number.isFinite(r.n_m_compliance));
  const schedule = rows.some((r) => typeof r.schedule === "string" && r.schedule);
  const columns = schedule ? [TABLE_COLUMNS[0], { id: "schedule", label: "schedule", kind: "text" }, ...TABLE_COLUMNS.slice(1)] : TABLE_COLUMNS;
  return nm ? [...columns, { id: "n_m_compliance", label: "N:M groups ok", kind: "percent" }] : columns;
}

/**
 * The `table` route's rows with each layer's schedule in full and its framework's label (from
 * the run document's layers: `schedule_text`, `layer_label`); the whole model's row gets none.
 * @param {object[]} rows
 * @param {object[]|null} layers the run document's layers
 */
export function withSchedules(rows, layers) {
  if (!Array.isArray(layers) || !layers.length) return rows;
  const byKey = new Map(layers.filter((l) => l && typeof l.key === "string").map((l) => [l.key, l]));
  return rows.map((r) => {
    const layer = byKey.get(r.key);
    if (!layer) return r;
    return { ...r, schedule: typeof layer.schedule_text === "string" ? layer.schedule_text : null, label: layer.layer_label || r.key };
  });
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
