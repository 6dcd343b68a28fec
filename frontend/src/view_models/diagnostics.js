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
