// The Quality vs sparsity view's view model: metric lists, tolerances, lines and the first drop's text.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.
import { formatPercent, formatPoints } from "./format.js";

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

/** The sparsity axis: from 0 to the next 10 % above the largest x (at most 100 %). */
export function sparsityDomain(lines) {
  let max = 0;
  for (const l of lines) for (const p of l.points) if (Number.isFinite(p.x)) max = Math.max(max, p.x);
  return [0, Math.min(1, Math.ceil((max + 0.02) * 10) / 10)];
}
