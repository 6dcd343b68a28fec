// The store: one load state per resource, nothing fetched twice, refreshes fetch only what
// changed, layer series in batches within the route's limits, bounded caches. The HTTP side is
// a fake `api` (data.js's functions are tested in data.test.mjs; the real backend in the
// browser tests).
import assert from "node:assert/strict";
import test from "node:test";

import { Dashboard, PROGRESS_RENDER_MS } from "../src/dashboard.js";
import { FAILED, LOADED, LOADING, LruMap, Store } from "../src/store.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fake backend: runs with a last step each, answering as the contract says; counts calls. */
function fakeApi(runs, { delays = {}, broken = [], full = false } = {}) {
  const calls = { runs: 0, run: [], summaries: [], series: [], table: [], metrics: [] };
  const layersOf = (run) => ["0:A", "1:B", "2:C"].map((key) => ({ key, name: key, measured: [[0, 0], [runs[run], 0.5]], expected: null }));
  const answerSeries = async (runNames, layers) => {
    const out = {};
    for (const run of runNames) {
      if (broken.includes(run)) out[run] = { error: `no sparsity data for run '${run}'` };
      else out[run] = { last_step: runs[run], layers: Object.fromEntries(layersOf(run).filter((l) => layers.includes(l.key)).map((l) => [l.key, { measured: l.measured, expected: null }])) };
    }
    return out;
  };
  const api = {
    calls,
    async fetchRuns(options = {}) {
      calls.runs += 1;
      calls.runsOptions = (calls.runsOptions || []).concat([options]);
      return Object.entries(runs).map(([run, last_step]) => ({ run, last_step }));
    },
    async fetchRun(run, { series = "all" } = {}) {
      calls.run.push([run, series]);
      if (run in delays) await sleep(delays[run]);
      if (broken.includes(run)) throw new Error(`no sparsity data for run '${run}'`);
      const light = series === "none" && !full;
      return {
        run,
        series: light ? "none" : "all",
        layers: layersOf(run).map((l) => (light ? { key: l.key, name: l.name } : l)),
        diagnostics: [],
        model: { measured: [[0, 0]] },
      };
    },
    // Answers each run as `run?series=none` would (recorded in `calls.run` too), and with
    // `firstLayers` the series of its first layers as `fetchSeries` would.
    async fetchSummaries(runNames, { firstLayers = 0 } = {}) {
      calls.summaries.push(runNames.slice());
      calls.firstLayers = (calls.firstLayers || []).concat([firstLayers]);
      const out = {};
      await Promise.all(runNames.map(async (run) => {
        try {
          out[run] = await api.fetchRun(run, { series: "none" });
        } catch (error) {
          out[run] = { error: error.message };
        }
      }));
      const series = firstLayers ? await answerSeries(runNames, layersOf(runNames[0]).slice(0, firstLayers).map((l) => l.key)) : {};
      return { runs: out, series };
    },
    async fetchSeries(runNames, layers) {
      calls.series.push([runNames.slice(), layers.slice()]);
      return answerSeries(runNames, layers);
    },
    async fetchTable(run, step) {
      calls.table.push([run, step]);
      return { run, step, rows: [] };
    },
    async fetchMetrics(run) {
      calls.metrics.push(run);
      return [];
    },
  };
  return api;
}

test("scheduleRender coalesces many requests into one render", async () => {
  const d = { cancelRender: null, seen: 0, render() { d.seen += 1; } };
  d.scheduleRender = Dashboard.prototype.scheduleRender.bind(d);
  for (let i = 0; i < 20; i++) d.scheduleRender();
  assert.equal(d.seen, 0);
  await sleep(PROGRESS_RENDER_MS + 40);
  assert.equal(d.seen, 1);
  assert.equal(d.cancelRender, null);
});

test("refresh loads the run list and each wanted document once, with one load state each", async () => {
  const api = fakeApi({ a: 10, b: 10, bad: 10 }, { delays: { b: 30 }, broken: ["bad"] });
  const store = new Store({ api });
  const seen = [];
  store.subscribe(() => seen.push([...store.docs.entries()].map(([run, r]) => `${run}:${r.state}`).sort().join(" ")));
  const done = store.refresh({ wanted: () => ["a", "b", "bad"] });
  assert.equal(store.runList.state, LOADING);
  await done;
  assert.equal(store.runList.state, LOADED);
  assert.equal(store.doc("a").state, LOADED);
  assert.equal(store.doc("b").state, LOADED);
  assert.equal(store.doc("bad").state, FAILED);
  assert.match(store.doc("bad").error.message, /no sparsity data/);
  assert.deepEqual(api.calls.run.map(([run, series]) => `${run}:${series}`).sort(), ["a:none", "b:none", "bad:none"]);
  // Notified as each document settled, not only at the end: "a" was loaded before "b" arrived.
  assert.ok(seen.some((s) => s.includes("a:loaded") && s.includes("b:loading")), seen.join("\n"));
  // Asked again (a render, a re-selection): nothing is fetched twice.
  await store.loadDocs(["a", "b", "bad"]);
  assert.equal(api.calls.run.length, 3);
});

test("the first refresh takes the run list index.js asked for early; later ones ask again", async () => {
  const api = fakeApi({ a: 1 });
  const early = Promise.resolve("the early response");
  const store = new Store({ api, earlyRuns: early });
  await store.refresh();
  await store.refresh();
  assert.equal(api.calls.runs, 2);
  assert.equal(await api.calls.runsOptions[0].fetchImpl("./runs"), "the early response");
  assert.deepEqual(api.calls.runsOptions[1], {});
});

test("summaries go out in at most 4 batches at a time; a failed batch or entry fails only its runs", async () => {
  const names = Array.from({ length: 10 }, (_, i) => `r${i}`);
  const api = fakeApi(Object.fromEntries(names.map((n) => [n, 5])), { broken: ["r4"] });
  const store = new Store({ api });
  await store.refresh({ wanted: () => names });
  // 10 runs, 4 at a time: batches of 3, 3, 3 and 1, every run asked for once.
  assert.deepEqual(api.calls.summaries.map((b) => b.length), [3, 3, 3, 1]);
  assert.deepEqual(api.calls.summaries.flat().sort(), names.slice().sort());
  assert.equal(store.doc("r4").state, FAILED);
  assert.match(store.doc("r4").error.message, /no sparsity data for run 'r4'/);
  for (const n of names.filter((n) => n !== "r4")) assert.equal(store.doc(n).state, LOADED, n);
  // A request that fails as a whole: each run of its batch is failed, with its reason.
  store.api.fetchSummaries = async () => {
    throw new Error("TensorBoard went away");
  };
  await store.refresh({ force: true, wanted: () => ["r0", "r1"] });
  assert.equal(store.doc("r0").state, FAILED);
  assert.match(store.doc("r1").error.message, /went away/);
  assert.ok(store.doc("r0").value, "the document read before stays drawn");
  // An answer without a run it was asked for: that run says so.
  store.api.fetchSummaries = async () => ({ runs: { r0: await api.fetchRun("r0", { series: "none" }) }, series: {} });
  await store.refresh({ force: true, wanted: () => ["r0", "r1"] });
  assert.equal(store.doc("r0").state, LOADED);
  assert.match(store.doc("r1").error.message, /summary of run r1 is missing/);
});

test("a live refresh re-fetches only the documents and series of runs whose last step moved", async () => {
  const steps = { a: 10, b: 10 };
  const api = fakeApi(steps);
  const store = new Store({ api, batchMs: 1, firstLayers: 0 });
  await store.refresh({ wanted: () => ["a", "b"] });
  store.wantSeries(["a", "b"], ["0:A", "1:B"]);
  await sleep(20);
  assert.equal(api.calls.series.length, 1, "one batch for 2 runs x 2 layers");
  assert.deepEqual(store.seriesOf("a", "0:A").value.measured, [[0, 0], [10, 0.5]]);
  store.wantSeries(["a", "b"], ["0:A", "1:B"]);
  await sleep(20);
  assert.equal(api.calls.series.length, 1, "loaded series are not fetched again");

  steps.b = 20; // run b logged more steps
  await store.refresh({ wanted: () => ["a", "b"] });
  assert.deepEqual(api.calls.run.slice(2), [["b", "none"]]);
  assert.equal(store.needsSeries("a", "0:A"), false);
  assert.equal(store.needsSeries("b", "0:A"), true);
  // Until the new series arrive the old ones stay drawn.
  assert.deepEqual(store.seriesOf("b", "0:A").value.measured, [[0, 0], [10, 0.5]]);
  store.wantSeries(["a", "b"], ["0:A", "1:B"]);
  await sleep(20);
  assert.deepEqual(api.calls.series.at(-1), [["b"], ["0:A", "1:B"]]);
  assert.deepEqual(store.seriesOf("b", "0:A").value.measured, [[0, 0], [20, 0.5]]);
  // A forced refresh (the Reload button) re-reads every document.
  await store.refresh({ force: true, wanted: () => ["a", "b"] });
  assert.deepEqual(api.calls.run.slice(3).map(([r]) => r).sort(), ["a", "b"]);
});

test("series of a run whose document is on its way are asked for at once, and once", async () => {
  const api = fakeApi({ a: 10, slow: 10, later: 10 }, { delays: { slow: 40, later: 40 } });
  const store = new Store({ api, batchMs: 1, firstLayers: 0 });
  const refreshed = store.refresh({ wanted: () => ["a", "slow", "later"] });
  await sleep(15); // "a" has arrived, "slow" has not
  assert.equal(store.doc("slow").state, LOADING);
  store.wantSeries(["a", "slow", "later"], ["0:A"]);
  await sleep(10);
  // "slow" and "later" may not be analysed yet: in a request of their own, so "a" does not
  // wait for them.
  assert.deepEqual(api.calls.series, [[["a"], ["0:A"]], [["slow", "later"], ["0:A"]]]);
  await refreshed;
  // Versioned with the run list's last step, as the document is: not stale when it arrives.
  assert.equal(store.needsSeries("slow", "0:A"), false);
  store.wantSeries(["a", "slow", "later"], ["0:A"]);
  await sleep(10);
  assert.equal(api.calls.series.length, 2);
  // A run never asked for (no document resource) is not fetched.
  store.wantSeries(["unknown"], ["0:A"]);
  await sleep(10);
  assert.equal(api.calls.series.length, 2);
});

test("a run's first summary brings its first cards' series: no series request for them, none asked twice", async () => {
  const api = fakeApi({ a: 10, b: 10, slow: 10 }, { delays: { slow: 40 } });
  const store = new Store({ api, batchMs: 1, firstLayers: 2 });
  const refreshed = store.refresh({ wanted: () => ["a", "b", "slow"] });
  await sleep(15); // "a" and "b" arrived; "slow" (its own batch) has not
  assert.deepEqual(api.calls.firstLayers, [2, 2, 2]);
  assert.equal(store.seriesOf("a", "1:B").state, LOADED);
  assert.deepEqual(store.seriesOf("a", "0:A").value.measured, [[0, 0], [10, 0.5]]);
  // The first screen asks for its cards: only the layer no summary brought goes out, and not
  // for "slow", whose series come with its summary.
  store.wantSeries(["a", "b", "slow"], ["0:A", "1:B", "2:C"]);
  await sleep(10);
  assert.deepEqual(api.calls.series, [[["a", "b"], ["2:C"]]]);
  await refreshed;
  assert.equal(store.seriesOf("slow", "1:B").state, LOADED);
  store.wantSeries(["a", "b", "slow"], ["0:A", "1:B"]);
  await sleep(10);
  assert.equal(api.calls.series.length, 1, "nothing fetched twice");
  assert.equal(store.needsSeries("slow", "0:A"), false, "versioned as its document");
  // A layer only other runs have: nothing to fetch for these.
  store.wantSeries(["a", "b", "slow"], ["9:Z"]);
  await sleep(10);
  assert.equal(api.calls.series.length, 1, "no request for a layer the runs do not have");
  // A refresh of a run that moved on asks for its summary alone: its cards ask for their series.
  api.calls.firstLayers = [];
  await store.refresh({ force: true, wanted: () => ["a"] });
  assert.deepEqual(api.calls.firstLayers, [0]);
});

test("series asks within one window are one request, split at the route's limits", async () => {
  const runs = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`r${i}`, 5]));
  const api = fakeApi(runs);
  const store = new Store({ api, batchMs: 5, firstLayers: 0 });
  await store.refresh({ wanted: () => Object.keys(runs) });
  for (const key of ["0:A", "1:B", "2:C"]) store.wantSeries(Object.keys(runs), [key]);
  await sleep(40);
  assert.equal(api.calls.series.length, 2, "150 runs: two requests of at most 100 runs");
  assert.deepEqual(api.calls.series.map(([r, l]) => [r.length, l.length]), [[100, 3], [50, 3]]);
  assert.equal(store.seriesOf("r149", "2:C").state, LOADED);
});

test("a run the series route cannot read fails alone", async () => {
  const api = fakeApi({ a: 3, bad: 3 });
  const store = new Store({ api, batchMs: 1, firstLayers: 0 });
  await store.refresh({ wanted: () => ["a", "bad"] });
  store.api.fetchSeries = fakeApi({ a: 3, bad: 3 }, { broken: ["bad"] }).fetchSeries;
  store.wantSeries(["a", "bad"], ["0:A"]);
  await sleep(20);
  assert.equal(store.seriesOf("a", "0:A").state, LOADED);
  assert.equal(store.seriesOf("bad", "0:A").state, FAILED);
  assert.match(store.seriesOf("bad", "0:A").error.message, /no sparsity data for run 'bad'/);
});

test("a backend without series=none: the full documents' series are used, no series request", async () => {
  const api = fakeApi({ a: 7 }, { full: true });
  const store = new Store({ api, batchMs: 1 });
  await store.refresh({ wanted: () => ["a"] });
  store.wantSeries(["a"], ["0:A"]);
  await sleep(10);
  assert.equal(api.calls.series.length, 0);
  assert.deepEqual(store.seriesOf("a", "0:A").value.measured, [[0, 0], [7, 0.5]]);
});

test("tables and metrics: one fetch per run and step until the run's last step moves", async () => {
  const steps = { a: 4 };
  const api = fakeApi(steps);
  const store = new Store({ api });
  await store.refresh();
  assert.equal(store.table("a", null).state, LOADING);
  await sleep(5);
  assert.equal(store.table("a", null).state, LOADED);
  store.table("a", null);
  store.metrics("a");
  store.metrics("a");
  await sleep(5);
  assert.deepEqual(api.calls.table, [["a", null]]);
  assert.deepEqual(api.calls.metrics, ["a"]);
  steps.a = 8;
  await store.refresh();
  store.table("a", null);
  assert.equal(api.calls.table.length, 2);
});

test("LruMap forgets the least recently used entries beyond its bound", () => {
  const lru = new LruMap(3);
  for (const k of ["a", "b", "c"]) lru.set(k, k);
  lru.get("a"); // a is now the most recent
  lru.set("d", "d");
  assert.deepEqual([...lru.keys()], ["c", "a", "d"]);
  assert.equal(lru.size, 3);
  const store = new Store({ maxSeries: 10 });
  for (let i = 0; i < 50; i++) store.series.set(String(i), { state: LOADED });
  assert.equal(store.series.size, 10);
});
