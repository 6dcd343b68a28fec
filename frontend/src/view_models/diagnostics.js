// The Diagnostics box's view model: every run's diagnostics collected, the same one in several runs grouped.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.
import { severityRank } from "./format.js";
import { byText } from "./runs.js";

/**
 * All diagnostics of the given runs, worst first (error > warning > info), then by run (in the
 * given order), then run-level before layer-level, then by layer key.
 * @param {{run: string, color: string, data: object}[]} runDatas
 * @returns {{run: string, color: string, diagnostic: object, layerName: string|null}[]}
 */
export function collectDiagnostics(runDatas) {
  const items = [];
  runDatas.forEach(({ run, color, data }, runIndex) => {
    if (!data || !Array.isArray(data.diagnostics)) return;
    const names = new Map((data.layers || []).map((l) => [l.key, l.name || l.key]));
    data.diagnostics.forEach((diagnostic, index) => {
      if (!diagnostic || typeof diagnostic !== "object") return;
      const layer = typeof diagnostic.layer === "string" ? diagnostic.layer : null;
      items.push({
        run,
        color,
        diagnostic,
        layer,
        layerName: layer === null ? null : names.get(layer) ?? layer,
        runIndex,
        index,
      });
    });
  });
  items.sort(
    (a, b) =>
      severityRank(a.diagnostic.severity) - severityRank(b.diagnostic.severity) ||
      a.runIndex - b.runIndex ||
      (a.layer === null ? 0 : 1) - (b.layer === null ? 0 : 1) ||
      byText(a.layer ?? "", b.layer ?? "") ||
      a.index - b.index,
  );
  return items.map(({ runIndex, index, ...rest }) => rest);
}

/**
 * Diagnostics of one kind in one run, one entry for all the layers they concern, so a schedule
 * shared by every layer reads as one finding, not one per layer; and the same finding in several
 * runs is one entry too (a sweep's 100 runs without a schedule: one entry, 99 more runs). Keeps
 * the order of `items` (worst first). The first item is shown in full; `others` are the links
 * to its other layers, `runs` the first item of each other run with that finding.
 * @param {ReturnType<typeof collectDiagnostics>} items
 * @returns {{first: object, others: object[], runs: object[]}[]}
 */
export function groupDiagnostics(items) {
  const groups = new Map();
  for (const item of items) {
    const key = `${item.run}\u0000${item.diagnostic.severity}\u0000${item.diagnostic.code}\u0000${item.layer === null}`;
    const group = groups.get(key);
    if (group) group.others.push(item);
    else groups.set(key, { first: item, others: [], runs: [] });
  }
  const merged = new Map();
  for (const group of groups.values()) {
    const d = group.first.diagnostic;
    const key = `${d.severity}\u0000${d.code}\u0000${group.first.layer === null}`;
    const into = merged.get(key);
    if (into) into.runs.push(group.first);
    else merged.set(key, group);
  }
  return [...merged.values()];
}

/** Whether a layer of a run document has an expected curve (the backend says why not). */
function comparedLayer(layer) {
  if (layer.expected_missing !== undefined) return !layer.expected_missing;
  return Array.isArray(layer.expected) ? layer.expected.length > 0 : layer.expected_final_sparsity !== null && layer.expected_final_sparsity !== undefined;
}

/**
 * What the diagnostics rest on: the layers of the given runs, how many were compared with an
 * expected curve, and the others by reason (the run document's `expected_missing.why`: no
 * schedule recorded, global pruning, a method without a schedule, ...), runs in the given order.
 * @param {{run: string, color: string, data: object}[]} runDatas
 * @returns {{layers: number, compared: number,
 *            missing: {why: string, count: number, runs: {run: string, color: string, layers: string[]}[]}[]}}
 */
export function comparisonSummary(runDatas) {
  let layers = 0;
  let compared = 0;
  const byWhy = new Map();
  for (const { run, color, data } of runDatas) {
    for (const layer of (data && data.layers) || []) {
      if (!layer || typeof layer.key !== "string") continue;
      layers += 1;
      if (comparedLayer(layer)) {
        compared += 1;
        continue;
      }
      const why = (layer.expected_missing && layer.expected_missing.why) || "no schedule recorded";
      if (!byWhy.has(why)) byWhy.set(why, new Map());
      const runs = byWhy.get(why);
      if (!runs.has(run)) runs.set(run, { run, color, layers: [] });
      runs.get(run).layers.push(layer.name || layer.key);
    }
  }
  const missing = [...byWhy.entries()].map(([why, runs]) => {
    const list = [...runs.values()];
    return { why, count: list.reduce((n, r) => n + r.layers.length, 0), runs: list };
  });
  missing.sort((a, b) => b.count - a.count || byText(a.why, b.why));
  return { layers, compared, missing };
}

const layersWord = (n) => `${n} layer${n === 1 ? "" : "s"}`;

/**
 * The Diagnostics box's sentence for what was compared. It says that every layer follows its
 * schedule only when there are no diagnostics and every layer has an expected curve.
 * @param {ReturnType<typeof comparisonSummary>} summary
 * @param {number} diagnostics how many diagnostics the runs have
 * @returns {string}
 */
export function comparisonHeadline({ layers, compared }, diagnostics) {
  const left = layers - compared;
  if (diagnostics > 0) return left ? `Not compared: ${layersWord(left)} of ${layers} ha${left === 1 ? "s" : "ve"} no expected curve.` : "";
  if (layers === 0) return "No diagnostics: the selected runs log no pruned layer.";
  if (left === 0) return `No diagnostics for the selected runs: ${layers === 1 ? "the layer has" : `all ${layers} layers have`} an expected curve, and ${layers === 1 ? "it follows its" : "each follows its"} schedule.`;
  if (compared === 0) return `No diagnostics, but nothing was compared: none of the ${layersWord(layers)} of the selected runs has an expected curve.`;
  return `No diagnostics for the ${layersWord(compared)} compared with their expected curves; ${layersWord(left)} of ${layers} ${left === 1 ? "has" : "have"} none:`;
}
