// The run list's view model: a stable colour per run, the run filter, groups and short labels.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

// Run colours, as TensorBoard's Time Series gives them: every run its own colour of a
// categorical palette. Chosen so that any two of the 10 differ by CIE76 ΔE >= 28 and each
// has a contrast of 3.4:1 or more against the card (white; #3a3a3a in the dark theme, where
// the same hues are lighter): blue, orange, green, magenta, gold, teal, violet, brown, grey,
// crimson. (Okabe-Ito's orange and olive differ by ΔE 23, its blues by 26.)
export const PALETTE = [
  "#1f77b4", "#e6550d", "#2e9a3e", "#c2378f", "#9a7b00",
  "#0f97a8", "#7e4fc8", "#8c564b", "#6a6f75", "#b5163a",
];
export const DARK_PALETTE = [
  "#6fb3ea", "#ff9550", "#5cc96b", "#f27ec3", "#e3c14a",
  "#3fd0df", "#b291ff", "#cc9a86", "#b7bcc2", "#ff5f7e",
];

/**
 * A colour per name that never changes while the page lives: names keep the colour they had
 * in `previous`; new names (in the given order) take the first palette colour not in use.
 * (Groups of runs get their family's base colour this way.)
 * @param {string[]} runNames
 * @param {Map<string,string>} [previous]
 * @returns {Map<string,string>}
 */
export function assignColors(runNames, previous = new Map(), palette = PALETTE) {
  const colors = new Map();
  for (const name of runNames) {
    if (previous.has(name)) colors.set(name, previous.get(name));
  }
  let cursor = 0;
  for (const name of runNames) {
    if (colors.has(name)) continue;
    const used = new Set(colors.values());
    let color = palette.find((c) => !used.has(c));
    if (color === undefined) {
      color = palette[cursor % palette.length];
      cursor += 1;
    }
    colors.set(name, color);
  }
  return colors;
}

/**
 * A slot (0, 1, ...) per run, kept for the page's life: runs keep the slot they had in
 * `previous`, new runs (in the given order: every run of the logdir, sorted) take the lowest
 * free one. A run's colour is its slot's, in either theme, so it stays the run's colour
 * through filters, theme switches and runs that come and go; after a reload, the same runs
 * get the same slots again.
 * @param {string[]} runNames
 * @param {Map<string,number>} [previous]
 * @returns {Map<string,number>}
 */
export function assignSlots(runNames, previous = new Map()) {
  const slots = new Map();
  for (const name of runNames) if (previous.has(name)) slots.set(name, previous.get(name));
  const used = new Set(slots.values());
  let next = 0;
  for (const name of runNames) {
    if (slots.has(name)) continue;
    while (used.has(next)) next += 1;
    slots.set(name, next);
    used.add(next);
  }
  return slots;
}

/** #rrggbb of an HSL colour (h in degrees, s and l in 0..1). */
export function hslHex(h, s, l) {
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return `#${[f(0), f(8), f(4)].map((v) => Math.round(v * 255).toString(16).padStart(2, "0")).join("")}`;
}

/** Base colours for more runs or groups than the palette has: hues evenly round the ring. */
export function hueRing(count, dark = false) {
  return Array.from({ length: count }, (_, i) => (dark ? hslHex((i * 360) / count, 0.9, 0.66) : hslHex((i * 360) / count, 0.32 / 0.42, 0.42)));
}

/**
 * Colours of slotted runs: the palette's (light or dark) while the slots fit in it; beyond
 * it a hue ring, each slot 137.5° (the golden angle) round from the one before, so runs
 * next to each other in the list still differ, with two lightnesses taking turns.
 * @param {Map<string,number>} slots from assignSlots
 * @returns {Map<string,string>}
 */
export function slotColors(slots, dark = false) {
  const palette = dark ? DARK_PALETTE : PALETTE;
  const size = Math.max(0, ...[...slots.values()].map((s) => s + 1));
  const colorOf = (slot) => {
    if (size <= palette.length) return palette[slot];
    const light = dark ? (slot % 2 ? 0.72 : 0.6) : slot % 2 ? 0.32 : 0.46;
    return hslHex((slot * 137.508) % 360, 0.75, light);
  };
  return new Map([...slots].map(([run, slot]) => [run, colorOf(slot)]));
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
export const natural = new Intl.Collator("en", { numeric: true }).compare;

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
  // Runs read from checkpoints: their expected value is what the checkpoints' recipe declared.
  if (names.length && names.every((n) => n.startsWith("Checkpoints"))) return "expected: the sparsity the checkpoints' recipe (recipe.yaml, config.json) declared";
  const who = names.length === 0 ? "the run's framework" : names.length <= 3 ? names.join(", ") : "each run's framework";
  return `expected: what the schedule makes ${who} apply (it changes only when the framework prunes: a pruning step, a prune call, a scheduler step)`;
}

/**
 * How to log a quality metric next to the sparsity, said for the frameworks of the given runs
 * (the `runs` route's `framework`): Keras' TensorBoard callback for tfmot and Keras, the
 * SummaryWriter SparsityWriter writes into for PyTorch, `self.log` for Lightning, the Trainer's
 * evaluation for Transformers.
 * @param {(string|null|undefined)[]} frameworks
 */
export function metricAdvice(frameworks) {
  const ways = new Set();
  for (const f of frameworks.length ? frameworks : [null]) {
    const name = typeof f === "string" ? f : "";
    if (name.startsWith("Lightning")) ways.add("self.log(\"val_acc\", ...) in the LightningModule (its TensorBoardLogger writes the run)");
    else if (name.startsWith("Transformers")) ways.add("the Trainer's evaluation with report_to=\"tensorboard\"");
    else if (name.startsWith("torch") || name === "PyTorch") ways.add("add_scalar on the SummaryWriter that SparsityWriter writes into");
    else if (name === "" || name === "tfmot" || name === "Keras") ways.add("Keras' TensorBoard callback on the same log_dir as PruningSummaries (the article's setup)");
    else ways.add(`a scalar in the same run directory as ${name}'s tags`);
  }
  return `log validation accuracy next to the sparsity: ${[...ways].join("; or ")}.`;
}
