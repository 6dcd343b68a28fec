// Series lined up for charts and readouts: aligned steps, the value held at a step, ranges.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

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

/** The x range [min, max] covered by uPlot-aligned data, or null when empty. */
export function dataRange(data) {
  const xs = data && data[0];
  if (!xs || xs.length === 0) return null;
  return [xs[0], xs[xs.length - 1]];
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
