// Many runs at once (sweeps: targets × seeds): run groups, colour families, a group's mean with
// its min–max band, bounded readouts. Pure functions, no DOM, unit-tested with `node --test`.
import { assignSlots, compileFilter, DARK_PALETTE, groupRuns, hueRing, PALETTE } from "./runs.js";
import { alignSeries } from "./series.js";

const NO_MATCH = "\u0000(no match)";

/**
 * The runs in groups: by the backend's `group` (the run's parent directory) when `pattern` is
 * empty, else by the first capture group of the regex `pattern` (the whole match when it has
 * none), as TensorBoard's run selector groups by regex. Runs it does not match go to
 * "(no match)"; an invalid regex groups by directory and says why.
 * @returns {{groups: {group: string, label: string, runs: object[]}[], error: string|null}}
 */
export function groupRunsBy(runs, pattern = "") {
  const compiled = compileFilter(pattern);
  const source = (pattern || "").trim();
  if (!source || !compiled.valid) return { groups: groupRuns(runs), error: compiled.error };
  const re = new RegExp(source, "i");
  const groups = groupRuns(runs, (run) => {
    const m = re.exec(run.run);
    if (!m) return NO_MATCH;
    return m.length > 1 && m[1] !== undefined ? m[1] : m[0];
  });
  for (const g of groups) if (g.group === NO_MATCH) g.label = "(no match)";
  return { groups, error: null };
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgbToHex(rgb) {
  return `#${rgb.map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Shade `index` of `count` of a base colour: from darker to lighter, the base in the middle,
 * so the runs of a group read as one family and still differ.
 */
export function shade(hex, index, count) {
  if (count <= 1) return hex;
  const t = index / (count - 1) - 0.5; // -0.5 .. 0.5
  const rgb = hexToRgb(hex);
  const mixed = t < 0 ? rgb.map((v) => v * (1 + 0.6 * t)) : rgb.map((v) => v + (255 - v) * 0.8 * t);
  return rgbToHex(mixed);
}

// A sequential ramp (blue, teal, green, olive, orange, red: dark enough on white) for groups
// named by a number (a sweep's target sparsity): neighbouring values get neighbouring colours.
const RAMP = ["#3b4cc0", "#1f8a9e", "#2a9d4a", "#8a9a1b", "#e08214", "#c0262d"];

function rampColor(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const a = hexToRgb(RAMP[i]);
  const b = hexToRgb(RAMP[i + 1]);
  return rgbToHex(a.map((v, k) => v + (b[k] - v) * (x - i)));
}

/**
 * A colour per run for the groups the user asked for (the "group by" regex): each group has a
 * base colour and its runs take shades of it, so a group reads as one family. Groups named by
 * numbers (the targets of a sweep) are coloured along a ramp by their number; up to the
 * palette's size, groups keep the slot they had (`previous`, as `assignSlots` keeps runs');
 * beyond it, hues are spread evenly. `dark`: the dark theme's palette, and the ramp lightened
 * towards white so that it reads on a dark card.
 * @param {{group: string, runs: {run: string}[]}[]} groups from groupRunsBy
 * @returns {{runs: Map<string,string>, groups: Map<string,string>, slots: Map<string,number>}}
 */
export function familyColors(groups, previous = new Map(), dark = false) {
  const numbers = groups.map((g) => Number(g.group));
  const slots = assignSlots(groups.map((g) => g.group), previous);
  let groupColors;
  if (groups.length > 1 && groups.every((g) => g.group.trim() !== "") && numbers.every(Number.isFinite)) {
    const lo = Math.min(...numbers);
    const hi = Math.max(...numbers);
    const lift = (hex) => (dark ? rgbToHex(hexToRgb(hex).map((v) => v + (255 - v) * 0.35)) : hex);
    groupColors = new Map(groups.map((g, i) => [g.group, lift(rampColor(hi > lo ? (numbers[i] - lo) / (hi - lo) : 0))]));
  } else if (groups.length > PALETTE.length || Math.max(...slots.values()) >= PALETTE.length) {
    const ring = hueRing(groups.length, dark);
    groupColors = new Map(groups.map((g, i) => [g.group, ring[i]]));
  } else {
    const palette = dark ? DARK_PALETTE : PALETTE;
    groupColors = new Map(groups.map((g) => [g.group, palette[slots.get(g.group)]]));
  }
  const runs = new Map();
  for (const g of groups) {
    g.runs.forEach((r, i) => runs.set(r.run, shade(groupColors.get(g.group), i, g.runs.length)));
  }
  return { runs, groups: groupColors, slots };
}

/** Hue (0–360) of a #rrggbb colour: tests check that a group's shades share one. */
export function hueOf(hex) {
  const [r, g, b] = hexToRgb(hex).map((v) => v / 255);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  if (d === 0) return 0;
  let h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  h *= 60;
  return h < 0 ? h + 360 : h;
}

/**
 * The mean of several step series with the min and max around it, on the union of their
 * steps; each series holds its last value between its points (a mask changes only when logged)
 * and counts only within its own first and last step.
 * @returns {{mean: number[][], min: number[][], max: number[][]}|null} `[[step, value]]` each
 */
export function meanBand(seriesList) {
  const present = seriesList.filter((s) => Array.isArray(s) && s.length);
  if (!present.length) return null;
  const [steps, ...columns] = alignSeries(present, present.map(() => "hold"));
  const mean = [];
  const min = [];
  const max = [];
  steps.forEach((step, i) => {
    let sum = 0;
    let n = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const column of columns) {
      const v = column[i];
      if (v === null || !Number.isFinite(v)) continue;
      sum += v;
      n += 1;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (!n) return;
    mean.push([step, sum / n]);
    min.push([step, lo]);
    max.push([step, hi]);
  });
  return { mean, min, max };
}

/** Readout rows shown at most, besides the highlighted run; the rest behind "show all". */
export const READOUT_ROWS = 6;

/**
 * Which of `entries` ({run}) a readout shows: the highlighted run first, then the others in
 * order, at most `limit` in all unless `all`; `hidden` is how many were left out.
 */
export function boundedEntries(entries, { highlighted = null, limit = READOUT_ROWS, all = false } = {}) {
  const first = entries.filter((e) => e.run === highlighted);
  const rest = entries.filter((e) => e.run !== highlighted);
  const ordered = [...first, ...rest];
  if (all || ordered.length <= limit + 1) return { shown: ordered, hidden: 0 };
  const shown = ordered.slice(0, Math.max(limit, first.length));
  return { shown, hidden: ordered.length - shown.length };
}

/**
 * Equal texts counted once: `[{text, runs: [...]}]` most common first (e.g. the schedules of
 * a layer across 100 runs: "no schedule (100 runs)").
 * @param {{run: string, text: string}[]} items
 */
export function countTexts(items) {
  const runsOf = new Map();
  for (const { run, text } of items) {
    if (!runsOf.has(text)) runsOf.set(text, []);
    runsOf.get(text).push(run);
  }
  return [...runsOf.entries()].map(([text, runs]) => ({ text, runs })).sort((a, b) => b.runs.length - a.runs.length || a.text.localeCompare(b.text));
}

/** "1 run" / "100 runs". */
export function runCount(n) {
  return `${n} run${n === 1 ? "" : "s"}`;
}
