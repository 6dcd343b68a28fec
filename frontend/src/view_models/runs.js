// The run list's view model: a stable colour per run, the run filter, groups and short labels.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

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

export const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

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

/**
 * The legend's line for the expected curve, naming the frameworks of the shown runs (the `runs`
 * route's `framework`): "expected: what the schedule makes tfmot apply (…)".
 * @param {{framework?: string|null}[]} runs
 */
export function expectedLegendText(runs) {
  const names = [...new Set(runs.map((r) => r.framework).filter((f) => typeof f === "string" && f))].sort(byText);
  const who = names.length === 0 ? "the run's framework" : names.length <= 3 ? names.join(", ") : "each run's framework";
  return `expected: what the schedule makes ${who} apply (it changes only when the framework prunes: a pruning step, a prune call, a scheduler step)`;
}
