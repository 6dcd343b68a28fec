// Data module: talks to the plugin's HTTP routes (see tb_sparsity_plugin/http_api.md).
// No DOM here. Every failure becomes a `BackendError` with a message a person can read.
//
// URLs are relative: the dashboard's iframe document has its base at
// `<tensorboard>/data/plugin/sparsity/`, so `./runs` reaches the plugin's `runs` route and
// `--path_prefix` keeps working.

export class BackendError extends Error {
  /**
   * @param {string} message readable text (what failed and why)
   * @param {{status?: number|null, url?: string, kind?: string}} info
   *   kind: "http" (the backend answered an error status), "network" (no answer),
   *   "format" (the answer was not the JSON the contract promises)
   */
  constructor(message, { status = null, url = "", kind = "http" } = {}) {
    super(message);
    this.name = "BackendError";
    this.status = status;
    this.url = url;
    this.kind = kind;
  }
}

/** Builds `path?k=v&...` with every value URL-encoded (run names are data: anything goes). */
export function routeUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) query.append(k, String(v));
  }
  const qs = query.toString();
  return qs ? `./${path}?${qs}` : `./${path}`;
}

/**
 * Fetches a route and parses its JSON. Errors of the backend (`{"error": "..."}` with a 4xx or
 * 5xx status), network failures and bodies that are not JSON all throw `BackendError`.
 */
export async function fetchJson(url, { fetchImpl = globalThis.fetch, signal } = {}) {
  let response;
  try {
    response = await fetchImpl(url, { signal, cache: "no-store", credentials: "same-origin" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new BackendError(`cannot reach TensorBoard (${url}): ${err && err.message ? err.message : err}`, {
      url,
      kind: "network",
    });
  }
  let text = "";
  try {
    text = await response.text();
  } catch (err) {
    throw new BackendError(`reading the answer of ${url} failed: ${err && err.message ? err.message : err}`, {
      status: response.status,
      url,
      kind: "network",
    });
  }
  let body = null;
  let parsed = false;
  try {
    body = JSON.parse(text);
    parsed = true;
  } catch (_) {
    parsed = false;
  }
  if (!response.ok) {
    const detail =
      parsed && body && typeof body.error === "string"
        ? body.error
        : text.trim().slice(0, 300) || response.statusText || "no details";
    throw new BackendError(`${url} failed with HTTP ${response.status}: ${detail}`, {
      status: response.status,
      url,
      kind: "http",
    });
  }
  if (!parsed) {
    throw new BackendError(`${url} did not answer JSON (HTTP ${response.status}): ${text.trim().slice(0, 200)}`, {
      status: response.status,
      url,
      kind: "format",
    });
  }
  return body;
}

/** `GET runs` → the list of runs (`[{run, group, num_layers, schedule_source, last_step}]`). */
export async function fetchRuns(options = {}) {
  const url = routeUrl("runs");
  const body = await fetchJson(url, options);
  if (!body || !Array.isArray(body.runs)) {
    throw new BackendError(`${url}: the answer has no "runs" list`, { url, kind: "format" });
  }
  return body.runs.filter((r) => r && typeof r.run === "string");
}

/**
 * `GET run?run=NAME[&series=none]` → the analysis of one run (model, layers, diagnostics);
 * with `series: "none"` the layers come without their step series (see `fetchSeries`).
 */
export async function fetchRun(run, options = {}) {
  const url = routeUrl("run", { run, series: options.series });
  return checkedRunDocument(await fetchJson(url, options), url);
}

/** A run document as the views expect it (diagnostics filled in), or a format error. */
function checkedRunDocument(body, url) {
  if (!body || !Array.isArray(body.layers)) {
    throw new BackendError(`${url}: the answer has no "layers" list`, { url, kind: "format" });
  }
  body.diagnostics = Array.isArray(body.diagnostics) ? body.diagnostics : [];
  return body;
}

/** The most runs and layers one `series` or `summaries` request may name (400 beyond). */
export const SERIES_MAX_RUNS = 100;
export const SERIES_MAX_LAYERS = 300;

/** A batch answer's object `key` (`{name: answer | {error}}`; `runs` of every batch route), or a format error. */
function batchObject(body, url, key = "runs") {
  const got = body ? body[key] : undefined;
  if (typeof got !== "object" || got === null || Array.isArray(got)) {
    throw new BackendError(`${url}: the answer has no "${key}" object`, { url, kind: "format" });
  }
  return got;
}

/**
 * `GET summaries?run=A&run=B[&first_layers=N]` → `{runs, series}`: `runs` the `run?series=none`
 * documents of several runs (`{A: document | {error}}`, one request for a batch of runs
 * instead of one each); with `firstLayers`, `series` the step series of each run's first N
 * cards as `fetchSeries` gives them (`{}` when the answer has none), so the first screen
 * needs no second request.
 */
export async function fetchSummaries(runs, { firstLayers = 0, ...options } = {}) {
  const query = new URLSearchParams();
  for (const run of runs) query.append("run", run);
  if (firstLayers > 0) query.append("first_layers", String(firstLayers));
  const url = `./summaries?${query.toString()}`;
  const body = await fetchJson(url, options);
  const docs = eachRunChecked(batchObject(body, url), (run, answer) => checkedRunDocument(answer, `${url} (run ${run})`));
  // Without `series` (a backend that ignores first_layers) the cards ask for their own.
  return { runs: docs, series: body.series === undefined ? {} : unpackedSeries(batchObject(body, url, "series"), url) };
}

/** Applies `check(run, answer)` to every answer without an error; one that throws becomes that run's error. */
function eachRunChecked(answers, check) {
  for (const [run, answer] of Object.entries(answers)) {
    if (answer && typeof answer.error === "string") continue;
    try {
      check(run, answer);
    } catch (error) {
      answers[run] = { error: error.message };
    }
  }
  return answers;
}

/**
 * `GET series?run=A&run=B&layer=K1&layer=K2&packed=1` → the step series of those layers of
 * those runs, as [step, value] pairs: `{A: {last_step, layers: {K1: {measured, expected,
 * target, threshold}}} | {error}}`. They travel packed (runs of equal values and strides: a
 * measured series is 1/7 to 1/100 of its pairs' JSON) and are unpacked here; a run whose
 * series do not unpack gets an error in its place.
 */
export async function fetchSeries(runs, layers, options = {}) {
  const query = new URLSearchParams();
  for (const run of runs) query.append("run", run);
  for (const layer of layers) query.append("layer", layer);
  query.append("packed", "1");
  const url = `./series?${query.toString()}`;
  return unpackedSeries(batchObject(await fetchJson(url, options), url), url);
}

/** A `series` batch answer with every packed series unpacked (a run that does not unpack: its error). */
function unpackedSeries(answers, url) {
  return eachRunChecked(answers, (run, answer) => {
    try {
      for (const series of Object.values((answer && answer.layers) || {})) {
        for (const [name, value] of Object.entries(series || {})) {
          if (value && !Array.isArray(value)) series[name] = unpackSeries(value);
        }
      }
    } catch (error) {
      throw new Error(`${url} (run ${run}): ${error.message}`);
    }
  });
}

// The most points one packed series may unpack to (a damaged answer must not fill memory).
const MAX_UNPACKED = 10_000_000;

/**
 * `{steps: [s | [first, stride, count]], values: [v | [value, count]]}` → `[[step, value], ...]`
 * (http_api.md, `series?packed=1`); throws on anything else.
 */
export function unpackSeries(packed) {
  const expand = (items, one, run) => {
    const out = [];
    if (!Array.isArray(items)) throw new Error("a packed series without its arrays");
    for (const item of items) {
      if (Array.isArray(item)) run(item, out);
      else one(item, out);
      if (out.length > MAX_UNPACKED) throw new Error("a packed series too long to unpack");
    }
    return out;
  };
  const count = (n) => {
    if (!Number.isInteger(n) || n < 1 || n > MAX_UNPACKED) throw new Error(`a run of ${n} points in a packed series`);
    return n;
  };
  const number = (x) => {
    if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${x} in a packed series`);
    return x;
  };
  const steps = expand(
    packed.steps,
    (s, out) => out.push(number(s)),
    ([first, stride, n], out) => {
      number(first);
      number(stride);
      for (let k = 0, m = count(n); k < m; k++) out.push(first + stride * k);
    },
  );
  const values = expand(
    packed.values,
    (v, out) => out.push(number(v)),
    ([value, n], out) => {
      number(value);
      for (let k = 0, m = count(n); k < m; k++) out.push(value);
    },
  );
  if (steps.length !== values.length) throw new Error(`a packed series of ${steps.length} steps and ${values.length} values`);
  return steps.map((step, i) => [step, values[i]]);
}

/** `GET metrics?run=NAME` → the quality metrics of the run's group (`[{id, label, ...}]`). */
export async function fetchMetrics(run, options = {}) {
  const url = routeUrl("metrics", { run });
  const body = await fetchJson(url, options);
  if (!body || !Array.isArray(body.metrics)) {
    throw new BackendError(`${url}: the answer has no "metrics" list`, { url, kind: "format" });
  }
  return body.metrics;
}

/** `GET quality?run=NAME&metric=ID&tolerance=X` → metric against whole-model sparsity. */
export async function fetchQuality(run, metric, tolerance, options = {}) {
  const url = routeUrl("quality", { run, metric, tolerance });
  const body = await fetchJson(url, options);
  if (!body || !Array.isArray(body.points)) {
    throw new BackendError(`${url}: the answer has no "points" list`, { url, kind: "format" });
  }
  return body;
}

/** `GET table?run=NAME[&step=N]` → the per-layer state at a step, whole model first. */
export async function fetchTable(run, step = null, options = {}) {
  const url = routeUrl("table", { run, step });
  const body = await fetchJson(url, options);
  if (!body || !Array.isArray(body.rows)) {
    throw new BackendError(`${url}: the answer has no "rows" list`, { url, kind: "format" });
  }
  return body;
}

/** `GET schedule?class_name=...&max_step=N&...` → curves and diagnostics of a typed-in schedule. */
export async function fetchSchedule(params, options = {}) {
  const url = routeUrl("schedule", params);
  const body = await fetchJson(url, options);
  if (!body || !Array.isArray(body.diagnostics)) {
    throw new BackendError(`${url}: the answer has no "diagnostics" list`, { url, kind: "format" });
  }
  return body;
}

/** Links (not fetched): the table at a step as CSV, and a run's full series as CSV or JSON. */
export function tableCsvUrl(run, step = null) {
  return routeUrl("table", { run, step, format: "csv" });
}

export function exportUrl(run, format) {
  return routeUrl("export", { run, format });
}
