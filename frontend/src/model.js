// Pure view-model helpers: no DOM, no fetch. Everything the views draw is shaped here, so it
// can be unit-tested with `node --test`. No schedule math: the backend's JSON already holds the
// measured, expected and target curves; this module only lines them up for drawing.

/** Run colours: distinct on white, colour-blind friendly first (Okabe-Ito + Tableau extras). */
export const PALETTE = [
  "#0072b2", // blue
  "#d55e00", // vermillion
  "#009e73", // green
  "#cc79a7", // purple-pink
  "#e69f00", // orange
  "#56b4e9", // sky blue
  "#7f3c8d", // violet
  "#8c564b", // brown
  "#4d4d4d", // dark grey
  "#b8a200", // olive
];

/**
 * A colour per run that never changes while the page lives: runs keep the colour they had in
 * `previous`; new runs (in the given order) take the first palette colour not in use.
 * @param {string[]} runNames
 * @param {Map<string,string>} [previous]
 * @returns {Map<string,string>}
 */
export function assignColors(runNames, previous = new Map()) {
  const colors = new Map();
  for (const name of runNames) {
    if (previous.has(name)) colors.set(name, previous.get(name));
  }
  let cursor = 0;
  for (const name of runNames) {
    if (colors.has(name)) continue;
    const used = new Set(colors.values());
    let color = PALETTE.find((c) => !used.has(c));
    if (color === undefined) {
      color = PALETTE[cursor % PALETTE.length];
      cursor += 1;
    }
    colors.set(name, color);
  }
  return colors;
}

/**
 * Compiles the text of a filter box into a matcher. Empty text matches everything; the text is
 * a case-insensitive regular expression; an invalid one matches everything and says why, so the
 * list does not vanish while the user is typing `conv(`.
 * @returns {{valid: boolean, error: string|null, test: (s: string) => boolean}}
 */
export function compileFilter(text) {
  const source = (text || "").trim();
  if (!source) return { valid: true, error: null, test: () => true };
  try {
    const re = new RegExp(source, "i");
    return { valid: true, error: null, test: (s) => re.test(String(s)) };
  } catch (err) {
    const reason = err && err.message ? err.message : String(err);
    return { valid: false, error: `invalid regular expression: ${reason}`, test: () => true };
  }
}

const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// Natural order, so "s0.9" < "s0.95" and "seed2" < "seed10".
const natural = new Intl.Collator("en", { numeric: true }).compare;

/**
 * Groups runs by their `group` (the experiment directory), or by `groupOf(run)` when given.
 * Groups sorted by name with the top level ("") first, runs sorted by name inside a group, both
 * in natural order.
 * @returns {{group: string, label: string, runs: object[]}[]}
 */
export function groupRuns(runs, groupOf = (run) => (typeof run.group === "string" ? run.group : "")) {
  const groups = new Map();
  for (const run of runs) {
    const group = groupOf(run);
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(run);
  }
  return [...groups.keys()]
    .sort(natural)
    .map((group) => ({
      group,
      label: group === "" ? "(top level)" : group,
      runs: groups.get(group).slice().sort((a, b) => natural(a.run, b.run)),
    }));
}

/**
 * Lines the layers of several runs up by their `key`.
 * @param {{run: string, color: string, data: object}[]} runDatas selected runs, in display order
 * @returns {{key: string, name: string, names: string[], position: number|null,
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
        row = { key: layer.key, name: "", names: [], position: null, params: [], maxDeviation: null, entries: [] };
        rows.set(layer.key, row);
      }
      const name = typeof layer.name === "string" && layer.name ? layer.name : layer.key;
      if (!row.names.includes(name)) row.names.push(name);
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

/** Keeps the rows whose key or any of whose names match `matcher` (from `compileFilter`). */
export function filterLayerRows(rows, matcher) {
  return rows.filter((row) => matcher.test(row.key) || row.names.some((n) => matcher.test(n)));
}

/** The whole model's row key in the `table` route's rows (words.MODEL_KEY on the backend). */
export const MODEL_KEY = "(model)";

export const SEVERITY_RANK = { error: 0, warning: 1, info: 2 };

export function severityRank(severity) {
  return SEVERITY_RANK[severity] ?? 3;
}

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

// Series already checked by isSeries: they come parsed from JSON and are never changed, and
// a chart's redraw or a hover checked every point of every series again.
const checkedSeries = new WeakSet();

function isSeries(series) {
  if (!Array.isArray(series)) return false;
  if (checkedSeries.has(series)) return true;
  if (!series.every((p) => Array.isArray(p) && p.length >= 2)) return false;
  checkedSeries.add(series);
  return true;
}

/** How many of the indices 0..n-1 hold `ok`, for an `ok` that holds up to some index and not
 * after it (a binary search). */
function countWhile(n, ok) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the first element of the ascending `sorted` that is >= `x`. */
function lowerBound(sorted, x) {
  return countWhile(sorted.length, (i) => sorted[i] < x);
}

/**
 * Aligns several `[[step, value], ...]` series on the union of their steps: the `data` array
 * uPlot wants, `[steps, ys1, ys2, ...]`.
 * `fills[i]` says what series i holds between its own points:
 *   "none": null (uPlot draws across with `spanGaps`),
 *   "hold": the last value (a step function: the effective expected curve).
 * A series holds nothing before its first point or after its last one. A series that is
 * `null` (no schedule) gives a column of nulls.
 * Integer steps over a range not much wider than their count (a training's steps) are
 * gathered in an array indexed by step: the whole-model card of 20 runs x ~12 600 expected
 * change points spent ~60 ms sorting them. Others take one numeric sort of every step (a Set
 * and a Map of steps took 200 ms of a 20-run x 9-card first screen).
 * @param {(Array<[number, number]>|null)[]} seriesList
 * @param {("none"|"hold")[]} [fills]
 */
export function alignSeries(seriesList, fills = []) {
  const valid = seriesList.map((series) => (isSeries(series) ? series : null));
  const all = new Float64Array(valid.reduce((n, series) => n + (series ? series.length : 0), 0));
  let count = 0;
  let lo = Infinity;
  let hi = -Infinity;
  let integers = true;
  for (const series of valid) {
    if (!series) continue;
    for (let i = 0; i < series.length; i++) {
      const step = series[i][0];
      if (!Number.isFinite(step)) continue;
      all[count++] = step;
      if (step < lo) lo = step;
      if (step > hi) hi = step;
      if (integers && !Number.isInteger(step)) integers = false;
    }
  }
  const { steps, indexOf } = integers && count > 0 && hi - lo <= 4 * count + 4096 ? stepsByIndex(all.subarray(0, count), lo, hi) : stepsBySort(all.subarray(0, count));
  const columns = valid.map((series, i) => {
    const column = new Array(steps.length).fill(null);
    if (!series || series.length === 0) return column;
    for (let k = 0; k < series.length; k++) {
      const [step, value] = series[k];
      if (Number.isFinite(step)) column[indexOf(step)] = Number.isFinite(value) ? value : null;
    }
    if (fills[i] === "hold") {
      const first = lowerBound(steps, series[0][0]);
      const last = lowerBound(steps, series[series.length - 1][0]);
      let held = null;
      for (let j = first; j <= last && j < steps.length; j++) {
        if (column[j] === null) column[j] = held;
        else held = column[j];
      }
    }
    return column;
  });
  return [steps, ...columns];
}

/** The distinct integer `all` (within lo..hi) ascending, and each one's index, by a table of the range. */
function stepsByIndex(all, lo, hi) {
  const index = new Int32Array(hi - lo + 1).fill(-1);
  for (let i = 0; i < all.length; i++) index[all[i] - lo] = 0;
  const steps = [];
  for (let k = 0; k < index.length; k++) if (index[k] === 0) index[k] = steps.push(lo + k) - 1;
  return { steps, indexOf: (step) => index[step - lo] };
}

/** The distinct `all` ascending, and each one's index, by a sort and a binary search. */
function stepsBySort(all) {
  const sorted = all.sort();
  const steps = [];
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) steps.push(sorted[i]);
  return { steps, indexOf: (step) => lowerBound(steps, step) };
}

/** The point of a step series in effect at `step`: the last `[s, v]` with `s <= step`, or null. */
export function pointAt(series, step) {
  if (!isSeries(series) || series.length === 0 || !(step >= series[0][0])) return null;
  const at = countWhile(series.length, (i) => series[i][0] <= step) - 1;
  return { step: series[at][0], value: series[at][1] };
}

/**
 * What the hover legend of a layer (or the model) shows at `step`, per run:
 * the measured value in effect (the last logged point at or before `step`, and the step it was
 * logged at), the expected value at `step`, and the difference measured − expected taken at the
 * measured point's own step (apples to apples).
 * @param {{run: string, color: string, measured: Array|null, expected: Array|null}[]} entries
 */
export function hoverValues(entries, step) {
  return entries.map(({ run, color, measured, expected }) => {
    const m = pointAt(measured, step);
    const e = pointWithin(expected, step);
    const eAtM = m ? pointAt(expected, m.step) : null;
    const ends = [lastStep(measured), lastStep(expected)].filter((s) => s !== null);
    return {
      run,
      color,
      measured: m ? m.value : null,
      measuredStep: m ? m.step : null,
      expected: e ? e.value : null,
      difference: m && eAtM ? m.value - eAtM.value : null,
      ended: ends.length > 0 && step > Math.max(...ends),
    };
  });
}

/** Like `pointAt`, but null past the series' last point (a curve ends where its run ends). */
export function pointWithin(series, step) {
  const last = lastStep(series);
  return last === null || step > last ? null : pointAt(series, step);
}

/** 0.8715 → "87.2%" (null → "—"). */
export function formatPercent(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

/** A difference of fractions in percentage points: -0.012 → "−1.2 pt", 0 → "±0.0 pt". */
export function formatPoints(diff, digits = 1) {
  if (diff === null || diff === undefined || !Number.isFinite(diff)) return "—";
  const text = Math.abs(diff * 100).toFixed(digits);
  if (Number(text) === 0) return `±${text} pt`;
  return `${diff < 0 ? "\u2212" : "+"}${text} pt`;
}

// One formatter for every count: Number.toLocaleString makes a new one per call (0.4 s of
// the 300-layer first screen).
const COUNT_FORMAT = new Intl.NumberFormat("en-US");

/** 1234567 → "1,234,567" (null → "?"). */
export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "?";
  return COUNT_FORMAT.format(Math.round(n));
}

/** 1234567 → "1.23M", 288 → "288": for tight headers. */
export function formatCompactCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "?";
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${+(n / 1e9).toPrecision(3)}B`;
  if (abs >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${+(n / 1e3).toPrecision(3)}k`;
  return formatCount(n);
}

/**
 * Short labels for runs in tight places: when every run ends with the same last path part
 * (tfmot's `<experiment>/metrics`), that part is dropped ("poly/metrics" -> "poly"); when
 * several runs start alike up to a separator (a sweep's "sweep_s0.80_seed3"), that start is
 * dropped too ("s0.80_seed3"), so the labels still tell the runs apart in a narrow column.
 * @returns {Map<string,string>}
 */
export function runLabels(names) {
  const labels = new Map(names.map((n) => [n, n]));
  let short = names;
  if (names.length && names.every((n) => n.includes("/"))) {
    const tail = names[0].slice(names[0].lastIndexOf("/"));
    if (names.every((n) => n.endsWith(tail) && n.length > tail.length)) short = names.map((n) => n.slice(0, n.length - tail.length));
  }
  if (short.length > 1) {
    let prefix = short[0];
    for (const n of short) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
    let cut = prefix.length;
    while (cut > 0 && !"/_-".includes(prefix[cut - 1])) cut -= 1;
    if (cut > 0 && short.every((n) => n.length > cut)) short = short.map((n) => n.slice(cut));
  }
  if (new Set(short).size !== short.length) return labels;
  names.forEach((n, i) => labels.set(n, short[i]));
  return labels;
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

/** The x range [min, max] covered by uPlot-aligned data, or null when empty. */
export function dataRange(data) {
  const xs = data && data[0];
  if (!xs || xs.length === 0) return null;
  return [xs[0], xs[xs.length - 1]];
}

/**
 * A layer's schedule in words (the run document's `schedule_text`, which also names PyTorch's
 * schedules) and, when the writer checked it, its N:M compliance ("2:4 groups ok 87.5%").
 */
export function scheduleLine(layer) {
  const text = typeof layer.schedule_text === "string" ? layer.schedule_text : "";
  const nm = Array.isArray(layer.nm) && layer.nm.length === 2 && Number.isFinite(layer.final_n_m_compliance)
    ? ` \u00b7 ${layer.nm[0]}:${layer.nm[1]} groups ok ${formatPercent(layer.final_n_m_compliance)}`
    : "";
  return text + nm;
}

/** The step of the last point of a series, or null. */
export function lastStep(series) {
  return isSeries(series) && series.length ? series[series.length - 1][0] : null;
}

/** Values of each entry at its own last measured step (what the chart header shows at rest). */
export function finalValues(entries) {
  return entries.map((entry) => {
    const step = lastStep(entry.measured);
    return step === null
      ? { run: entry.run, color: entry.color, measured: null, measuredStep: null, expected: null, difference: null, ended: false }
      : hoverValues([entry], step)[0];
  });
}
