// The dashboard's one store: every fetch of the page goes through here (data.js does the HTTP),
// and every resource has one load state, as in TensorBoard's own frontend:
//   {state: "loading" | "loaded" | "failed", value, error, lastStep}
// `lastStep` is the run's last step when the resource was asked for; a run whose last step
// moves on is fetched again, nothing else is. Views read resources and draw; the store calls
// its listeners when a resource settles (the dashboard coalesces those into one render).
//
// Resources: the run list; per run its `run?series=none` document (asked in batches); per (run, layer) the step
// series (fetched in batches for the cards near the view); per run the full document (heatmap,
// what-if); tables, metrics and quality documents. Caches that grow with use are bounded LRUs.
import * as data from "./data.js";

export const LOADING = "loading";
export const LOADED = "loaded";
export const FAILED = "failed";

// Bounds: series by count (a layer's series of one run is a few kB at 1000 steps), full run
// documents by count (they hold every series of a run), the rest by count.
export const MAX_SERIES = 6000;
export const MAX_FULL_RUNS = 3;
export const MAX_OTHER = 300;
// The cards of the first screen (a 1400 x 900 page shows 9-12): a run's first summary brings
// their series, and the layers view asks for these before it builds any card.
export const FIRST_SCREEN_LAYERS = 12;
// Series asked for within this window go out as one request (cards entering together).
export const SERIES_BATCH_MS = 25;
const DOC_CONCURRENCY = 4;
const SERIES_KEYS = ["measured", "expected", "target", "threshold", "weight_zeros", "n_m_compliance"];

/** A Map that forgets its least recently used entries beyond `limit`. */
export class LruMap {
  constructor(limit) {
    this.limit = limit;
    this.map = new Map();
  }

  get size() {
    return this.map.size;
  }

  has(key) {
    return this.map.has(key);
  }

  get(key) {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key);
    this.map.delete(key); // re-insert: Map keeps insertion order, the oldest go first
    this.map.set(key, value);
    return value;
  }

  set(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
    return this;
  }

  delete(key) {
    return this.map.delete(key);
  }

  keys() {
    return this.map.keys();
  }
}

const seriesKey = (run, layer) => `${run}\u0000${layer}`;

const layerKeySets = new WeakMap(); // run document -> Set of its layer keys
function layerKeysOf(doc) {
  if (!layerKeySets.has(doc)) layerKeySets.set(doc, new Set((Array.isArray(doc.layers) ? doc.layers : []).map((l) => l && l.key)));
  return layerKeySets.get(doc);
}

/** The error of `run`'s entry in a batch answer (`{run: value | {error}}`), or null. */
function batchError(answer, failure, run, what) {
  if (failure) return failure;
  const got = answer ? answer[run] : null;
  if (!got) return new data.BackendError(`the ${what} of run ${run} is missing from the answer`, { kind: "format" });
  return got.error ? new data.BackendError(String(got.error)) : null;
}

export class Store {
  /**
   * @param {{api?: object, maxSeries?: number, maxFullRuns?: number, batchMs?: number, firstLayers?: number,
   *          earlyRuns?: Promise<Response>}} options api: data.js's functions (tests pass fakes); firstLayers:
   *   the cards whose series a run's first summary brings; earlyRuns: the response of a `GET runs`
   *   already on its way (index.js asks while the code loads), taken by the first refresh
   */
  constructor({ api = {}, maxSeries = MAX_SERIES, maxFullRuns = MAX_FULL_RUNS, batchMs = SERIES_BATCH_MS, firstLayers = FIRST_SCREEN_LAYERS, earlyRuns = null } = {}) {
    this.api = { ...data, ...api };
    this.earlyRuns = earlyRuns; // the response of a `GET runs` already on its way (index.js), for the first refresh
    this.listeners = new Set();
    this.runList = null; // {state, value: [{run, group, last_step, ...}], error}
    this.docs = new Map(); // run -> resource of its `run?series=none` document
    this.series = new LruMap(maxSeries); // run\0layer -> resource of {measured, expected, ...}
    this.full = new LruMap(maxFullRuns); // run -> resource of its full document
    this.other = new LruMap(MAX_OTHER); // kind\0params -> resource (table, metrics, quality)
    this.batchMs = batchMs;
    this.firstLayers = firstLayers; // series of a run's first cards asked with its first summary
    this.queue = new Map(); // run -> Set of layer keys to fetch in the next batch
    this.queueTimer = null;
    this.requests = 0; // HTTP requests made (tests and the benchmark read it)
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells the listeners; `what` is `{series: [layer keys]}` when only layer series arrived. */
  changed(what = null) {
    for (const listener of this.listeners) listener(what);
  }

  /** The run list's last step of `run` (null when unknown). */
  lastStepOf(run) {
    const info = this.runList && this.runList.value ? this.runList.value.find((r) => r.run === run) : null;
    return info && Number.isFinite(info.last_step) ? info.last_step : null;
  }

  // ---- run list and run documents -----------------------------------------------------------

  /**
   * Re-reads the run list, then the documents of `wanted()` (run names, asked after the list
   * arrived) whose last step changed, or all of them when `force`. Series are not fetched here:
   * a card asks for its own when it comes near the view, and knows they are stale when its run's
   * document moved to a later step.
   */
  async refresh({ force = false, wanted = () => [] } = {}) {
    this.requests += 1;
    const previous = this.runList;
    if (!previous) this.runList = { state: LOADING, value: null, error: null };
    const early = this.earlyRuns;
    this.earlyRuns = null;
    try {
      const runs = await this.api.fetchRuns(early ? { fetchImpl: () => early } : {});
      this.runList = { state: LOADED, value: runs, error: null };
    } catch (error) {
      // A failed refresh keeps the list read before (what is drawn stays).
      this.runList = previous && previous.value ? { ...previous, error } : { state: FAILED, value: null, error };
      this.changed();
      throw error;
    }
    const names = new Set(this.runList.value.map((r) => r.run));
    for (const cache of [this.docs, this.full]) {
      for (const run of [...cache.keys()]) if (!names.has(run)) cache.delete(run);
    }
    const docs = this.loadDocs(wanted(), { force }); // marks them loading before anyone looks
    this.changed();
    await docs;
  }

  /** The resource of a run's document, or undefined before it was asked for. */
  doc(run) {
    return this.docs.get(run);
  }

  /** Fetches the documents of `runs` not loaded yet (or loaded at an older step; all when `force`). */
  async loadDocs(runs, { force = false } = {}) {
    const todo = runs.filter((run) => {
      const got = this.docs.get(run);
      if (!got) return true;
      if (got.state === LOADING) return false;
      return force || got.lastStep !== this.lastStepOf(run);
    });
    // Runs seen for the first time also bring the series of their first cards (the summaries'
    // `first_layers`): the first screen's charts need no second round trip.
    const fresh = new Set(todo.filter((run) => !this.docs.get(run)?.value));
    // In a few `summaries` requests (4 at a time) rather than one per run: a warm request costs
    // TensorBoard's HTTP server ~3 ms, which was most of a 100-run sweep's repeat fetch. Each
    // batch is drawn as it arrives.
    const size = Math.min(data.SERIES_MAX_RUNS, Math.ceil(todo.length / DOC_CONCURRENCY));
    const batches = [];
    for (let i = 0; i < todo.length; i += size) {
      const runs = todo.slice(i, i + size);
      const firstLayers = this.firstLayers > 0 && runs.every((run) => fresh.has(run)) ? this.firstLayers : 0;
      batches.push({ runs, firstLayers });
      for (const run of runs) {
        const got = this.docs.get(run);
        // Keep the value read before while the new one loads: the charts stay drawn.
        this.docs.set(run, { state: LOADING, value: got ? got.value : null, error: null, lastStep: got ? got.lastStep : null, seriesComing: firstLayers > 0 });
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const { runs: batch, firstLayers } = batches[next++];
        const steps = new Map(batch.map((run) => [run, this.lastStepOf(run)]));
        this.requests += 1;
        let answer = null;
        let failure = null;
        try {
          answer = await this.api.fetchSummaries(batch, { firstLayers });
        } catch (error) {
          failure = error;
        }
        for (const run of batch) {
          const doc = answer ? answer.runs[run] : null;
          const lastStep = steps.get(run);
          const error = batchError(answer && answer.runs, failure, run, "summary");
          if (error) {
            const got = this.docs.get(run);
            this.docs.set(run, { state: FAILED, value: got ? got.value : null, error, lastStep });
            continue;
          }
          this.docs.set(run, { state: LOADED, value: doc, error: null, lastStep });
          // A backend without `series=none` answers the full document: its series are kept.
          if (doc.series !== "none") this.keepSeriesOf(doc, lastStep);
          const series = answer.series && answer.series[run];
          if (series && !series.error) this.keepSeries(run, series.layers, Object.keys(series.layers || {}), lastStep);
        }
        this.changed();
      }
    };
    await Promise.all(Array.from({ length: Math.min(DOC_CONCURRENCY, batches.length) }, worker));
  }

  /** Stores the layer series a full document carries (the same values `series` answers). */
  keepSeriesOf(doc, lastStep) {
    for (const layer of Array.isArray(doc.layers) ? doc.layers : []) {
      if (!layer || typeof layer.key !== "string") continue;
      const value = {};
      for (const k of SERIES_KEYS) value[k] = Array.isArray(layer[k]) ? layer[k] : null;
      this.series.set(seriesKey(doc.run, layer.key), { state: LOADED, value, error: null, lastStep });
    }
  }

  // ---- layer series, in batches ---------------------------------------------------------------

  /** The resource of one layer's series in one run (touches the LRU), or undefined. */
  seriesOf(run, layer) {
    return this.series.get(seriesKey(run, layer));
  }

  /** Whether the series of (run, layer) must be fetched: never asked, failed, or older than the run's document. */
  needsSeries(run, layer) {
    const got = this.series.get(seriesKey(run, layer));
    if (!got) return true;
    if (got.state === LOADING) return false;
    if (got.state === FAILED) return false; // shown as failed; a refresh asks again
    const doc = this.docs.get(run);
    return Boolean(doc && doc.state === LOADED && doc.lastStep !== got.lastStep);
  }

  /** Asks for the series of `layers` × `runs` that are missing or stale; they go out in one batch. */
  wantSeries(runs, layers) {
    let added = false;
    for (const run of runs) {
      // Also for a run whose first document is on its way (the first screen asks for its
      // cards' series of every selected run at once); full documents carry them.
      const doc = this.docs.get(run);
      if (doc?.value?.series !== "none" && !this.firstDocOnItsWay(run)) continue;
      if (doc?.state === LOADING && doc.seriesComing) continue; // its first cards' series come with it
      const has = doc?.value ? layerKeysOf(doc.value) : null;
      for (const layer of layers) {
        if (has && !has.has(layer)) continue; // a layer of other runs only: nothing to draw
        if (!this.needsSeries(run, layer)) continue;
        if (!this.queue.has(run)) this.queue.set(run, new Set());
        this.queue.get(run).add(layer);
        const old = this.series.get(seriesKey(run, layer));
        this.series.set(seriesKey(run, layer), { state: LOADING, value: old ? old.value : null, error: null, lastStep: old ? old.lastStep : null });
        added = true;
      }
    }
    if (added && this.queueTimer === null) this.queueTimer = setTimeout(() => this.flushSeries(), this.batchMs);
  }

  /** Whether `run`'s document is loading and none was loaded before. */
  firstDocOnItsWay(run) {
    const doc = this.docs.get(run);
    return Boolean(doc && doc.state === LOADING && !doc.value);
  }

  /** Sends the queued series requests: runs with the same layers together, within the route's limits. */
  flushSeries() {
    this.queueTimer = null;
    const byLayers = new Map(); // sorted layer list -> runs
    for (const [run, layers] of this.queue) {
      const sig = [...layers].sort().join("\u0000");
      if (!byLayers.has(sig)) byLayers.set(sig, []);
      byLayers.get(sig).push(run);
    }
    this.queue.clear();
    const jobs = [];
    for (const [sig, runs] of byLayers) {
      const layers = sig.split("\u0000");
      // Runs whose document is still on its way may not be analysed yet (seconds each on a
      // cold server): in requests of their own, so the charts of the runs already here do
      // not wait for them (and few, as the browser opens at most 6 connections to TensorBoard).
      const waiting = runs.filter((r) => this.firstDocOnItsWay(r));
      for (const group of [runs.filter((r) => !waiting.includes(r)), waiting]) {
        for (let r = 0; r < group.length; r += data.SERIES_MAX_RUNS) {
          for (let l = 0; l < layers.length; l += data.SERIES_MAX_LAYERS) {
            jobs.push(this.fetchSeriesBatch(group.slice(r, r + data.SERIES_MAX_RUNS), layers.slice(l, l + data.SERIES_MAX_LAYERS)));
          }
        }
      }
    }
    return Promise.all(jobs);
  }

  /** Stores the series of `layers` of `run` from a `series` answer's `layers` object; a layer it lacks is loaded with nothing to draw. */
  keepSeries(run, answered, layers, lastStep) {
    for (const layer of layers) {
      const value = answered && answered[layer];
      this.series.set(seriesKey(run, layer), { state: LOADED, value: value || null, error: null, lastStep });
    }
  }

  async fetchSeriesBatch(runs, layers) {
    const steps = new Map(runs.map((run) => [run, this.docs.get(run)?.lastStep ?? this.lastStepOf(run)]));
    this.requests += 1;
    let answer = null;
    let failure = null;
    try {
      answer = await this.api.fetchSeries(runs, layers);
    } catch (error) {
      failure = error;
    }
    for (const run of runs) {
      const error = batchError(answer, failure, run, "series");
      if (error) {
        for (const layer of layers) {
          const k = seriesKey(run, layer);
          const old = this.series.get(k);
          this.series.set(k, { state: FAILED, value: old ? old.value : null, error, lastStep: old ? old.lastStep : null });
        }
        continue;
      }
      // Versions are the run list's last step throughout (what a refresh compares against).
      this.keepSeries(run, answer[run].layers, layers, steps.get(run));
    }
    this.changed({ series: layers });
  }

  // ---- whole documents of the single-run views and the other routes -----------------------------

  /**
   * One cached resource: fetched when missing, or when `lastStep` differs from the step it was
   * fetched at. Returns the resource (in its loading state on the first call).
   */
  cached(cache, key, lastStep, fetch) {
    const got = cache.get(key);
    if (got && (got.state === LOADING || got.lastStep === lastStep)) return got;
    const resource = { state: LOADING, value: got ? got.value : null, error: null, lastStep };
    cache.set(key, resource);
    this.requests += 1;
    fetch().then(
      (value) => {
        if (cache.get(key) === resource) cache.set(key, { state: LOADED, value, error: null, lastStep });
        this.changed();
      },
      (error) => {
        if (cache.get(key) === resource) cache.set(key, { state: FAILED, value: null, error, lastStep });
        this.changed();
      },
    );
    return resource;
  }

  /** The full document of a run (every layer's series): the heatmap and the what-if view draw it. */
  fullRun(run) {
    const lastStep = this.lastStepOf(run);
    return this.cached(this.full, run, lastStep, async () => {
      const doc = await this.api.fetchRun(run);
      // Kept as layer series only at the version the card's document has (else they'd look fresh).
      if (this.docs.get(run)?.lastStep === lastStep) this.keepSeriesOf(doc, lastStep);
      return doc;
    });
  }

  table(run, step) {
    return this.cached(this.other, `table\u0000${run}\u0000${step}`, this.lastStepOf(run), () => this.api.fetchTable(run, step));
  }

  metrics(run) {
    return this.cached(this.other, `metrics\u0000${run}`, this.lastStepOf(run), () => this.api.fetchMetrics(run));
  }

  quality(run, metric, tolerance) {
    return this.cached(this.other, `quality\u0000${run}\u0000${metric}\u0000${tolerance}`, this.lastStepOf(run), () =>
      this.api.fetchQuality(run, metric, tolerance),
    );
  }

  /** A typed-in schedule (what-if): computed by the backend each time, nothing to cache. */
  schedule(params) {
    this.requests += 1;
    return this.api.fetchSchedule(params);
  }
}
