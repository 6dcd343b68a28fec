// The Layers section's view model: layers lined up across runs by key, sorted, filtered, summarised, with their badges.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.
import { formatPercent, severityRank } from "./format.js";
import { byText } from "./runs.js";

/**
 * Lines the layers of several runs up by their `key`.
 * @param {{run: string, color: string, data: object}[]} runDatas selected runs, in display order
 * @returns {{key: string, name: string, names: string[], labels: string[], position: number|null,
 *            params: number[], maxDeviation: number|null,
 *            entries: {run: string, color: string, layer: object}[]}[]}
 */
export function lineUpLayers(runDatas) {
  const rows = new Map();
  for (const { run, color, data } of runDatas) {
    if (!data || !Array.isArray(data.layers)) continue;
    for (const layer of data.layers) {
      if (!layer || typeof layer.key !== "string") continue;
      let row = rows.get(layer.key);
      if (!row) {
        row = { key: layer.key, name: "", names: [], labels: [], position: null, params: [], maxDeviation: null, entries: [] };
        rows.set(layer.key, row);
      }
      const name = typeof layer.name === "string" && layer.name ? layer.name : layer.key;
      if (!row.names.includes(name)) row.names.push(name);
      const label = typeof layer.layer_label === "string" && layer.layer_label ? layer.layer_label : layer.key;
      if (!row.labels.includes(label)) row.labels.push(label);
      if (Number.isFinite(layer.position) && (row.position === null || layer.position < row.position)) {
        row.position = layer.position;
      }
      if (Number.isFinite(layer.params) && !row.params.includes(layer.params)) row.params.push(layer.params);
      if (Number.isFinite(layer.max_abs_deviation)) {
        row.maxDeviation = Math.max(row.maxDeviation ?? 0, layer.max_abs_deviation);
      }
      row.entries.push({ run, color, layer });
    }
  }
  for (const row of rows.values()) row.name = row.names[0];
  return [...rows.values()];
}

export const SORT_MODES = {
  position: "model order",
  name: "name",
  deviation: "largest deviation",
};

/** Sorts lined-up layer rows: "name", "position" (model order) or "deviation" (largest first). */
export function sortLayerRows(rows, mode) {
  const out = rows.slice();
  const byName = (a, b) => byText(a.name, b.name) || byText(a.key, b.key);
  const byPosition = (a, b) => {
    const pa = a.position ?? Infinity;
    const pb = b.position ?? Infinity;
    return pa !== pb ? (pa < pb ? -1 : 1) : byName(a, b);
  };
  if (mode === "name") out.sort(byName);
  else if (mode === "deviation") {
    out.sort((a, b) => {
      const da = a.maxDeviation ?? -1;
      const db = b.maxDeviation ?? -1;
      return da !== db ? db - da : byPosition(a, b);
    });
  } else out.sort(byPosition);
  return out;
}

/** Keeps the rows whose key or any of whose names or labels match `matcher` (from `compileFilter`). */
export function filterLayerRows(rows, matcher) {
  return rows.filter((row) => matcher.test(row.key) || row.names.some((n) => matcher.test(n)) || (row.labels || []).some((l) => matcher.test(l)));
}

/**
 * How a card lines its layers up, for the hover over its key: a key "<position>:<class>" is the
 * layer's position among the model's layers with weights and its kind as Keras names it, so
 * PyTorch's Linear (Keras' Dense) lines up with the Dense of a Keras run built alike; each
 * framework's own name of the layer is its label ("2:Linear").
 * @param {{key: string, labels?: string[]}} row from lineUpLayers
 */
export function lineUpText(row) {
  const m = /^(\d+):([^/]+)/.exec(row.key);
  const labels = (row.labels || []).filter((l) => l !== row.key);
  if (!m) return `Cards line layers up across runs by the key ${row.key}: the layer's name (these logs give no position in the model).`;
  const own = labels.length ? ` Here the frameworks call it ${labels.join(", ")}.` : "";
  return `Cards line layers up across runs and frameworks by the key ${row.key}: the layer's position in the model (${m[1]}, counting from 0) and its kind as Keras names it (${m[2]}), so that PyTorch's Linear (Keras' Dense) and Conv2d (Conv2D) line up with a Keras model built alike.${own}`;
}

/** Short badge text for the diagnostic codes a layer header shows. */
export const BADGE_LABELS = {
  no_pruning_happened: "never pruned",
  invalid_schedule: "invalid schedule",
  frequency_exceeds_window: "frequency trap",
  target_not_reached: "below target",
  deviates_from_schedule: "off schedule",
  unknown_schedule: "unknown schedule",
  records_skipped: "records skipped",
  m_by_n_schedule_ignored: "m:n sparsity",
  no_schedule: "no schedule",
};

/** The diagnostics of one layer of one run, worst first. */
export function layerDiagnostics(data, key) {
  if (!data || !Array.isArray(data.diagnostics)) return [];
  return data.diagnostics
    .filter((d) => d && d.layer === key)
    .slice()
    .sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
}

/** Badges of a layer in a run: one per distinct warning/error code, worst first. */
export function layerBadges(data, key) {
  const seen = new Set();
  const badges = [];
  for (const d of layerDiagnostics(data, key)) {
    if (d.severity !== "error" && d.severity !== "warning") continue;
    if (seen.has(d.code)) continue;
    seen.add(d.code);
    badges.push({ severity: d.severity, code: d.code, label: BADGE_LABELS[d.code] || String(d.code), message: d.message });
  }
  return badges;
}

/** Compact summary of one layer in one run, for the chart header. */
export function layerSummary(layer) {
  const hasSchedule = Array.isArray(layer.expected) && layer.expected.length > 0;
  return {
    measured: Number.isFinite(layer.final_sparsity) ? layer.final_sparsity : null,
    expected: hasSchedule && Number.isFinite(layer.expected_final_sparsity) ? layer.expected_final_sparsity : null,
    target: Number.isFinite(layer.target_sparsity) ? layer.target_sparsity : null,
    step: Number.isFinite(layer.final_step) ? layer.final_step : null,
    deviation: Number.isFinite(layer.max_abs_deviation) ? layer.max_abs_deviation : null,
    hasSchedule,
  };
}

/**
 * A layer's schedule in words (the run document's `schedule_text`, which also names PyTorch's
 * schedules) and, when the writer checked it, its N:M compliance ("2:4 groups ok 87.5%").
 * `short`: the run document's `schedule_short` ("L1Unstructured 20% × 6 calls"), for legends.
 */
export function scheduleLine(layer, short = false) {
  const full = typeof layer.schedule_text === "string" ? layer.schedule_text : "";
  let text = short && typeof layer.schedule_short === "string" && layer.schedule_short ? layer.schedule_short : full;
  // Why there is no expected curve, when it is more than "no schedule" (run document's
  // expected_missing): in full, or as a few words for global pruning in legends.
  const missing = layer.expected_missing && typeof layer.expected_missing.why === "string" ? layer.expected_missing : null;
  if (missing && short && missing.code === "global_pruning" && text === "no schedule") text = "global pruning, no level per layer";
  else if (missing && !short && missing.why !== "no schedule recorded" && missing.why !== text) text = `${text} (${missing.why})`;
  const nm = Array.isArray(layer.nm) && layer.nm.length === 2 && Number.isFinite(layer.final_n_m_compliance)
    ? ` \u00b7 ${layer.nm[0]}:${layer.nm[1]} groups ok ${formatPercent(layer.final_n_m_compliance)}`
    : "";
  return text + nm;
}
