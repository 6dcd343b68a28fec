import assert from "node:assert/strict";
import test from "node:test";

import { BackendError, fetchJson, fetchRun, fetchRuns, fetchSeries, fetchSummaries, routeUrl, unpackSeries } from "../src/data.js";

function fakeFetch(status, body, { contentType = "application/json" } = {}) {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, init });
    return new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status,
      headers: { "Content-Type": contentType },
    });
  };
  impl.calls = calls;
  return impl;
}

test("routeUrl is relative and encodes run names", () => {
  assert.equal(routeUrl("runs"), "./runs");
  assert.equal(routeUrl("run", { run: "a b/metrics" }), "./run?run=a+b%2Fmetrics");
  assert.equal(routeUrl("run", { run: "<img src=x onerror=alert(1)>&x=1#h" }), "./run?run=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E%26x%3D1%23h");
  assert.equal(routeUrl("run", { run: null }), "./run");
});

test("fetchRuns returns the run list", async () => {
  const impl = fakeFetch(200, { runs: [{ run: "a/metrics", group: "a" }, { bogus: 1 }] });
  const runs = await fetchRuns({ fetchImpl: impl });
  assert.deepEqual(runs, [{ run: "a/metrics", group: "a" }]);
  assert.equal(impl.calls[0].url, "./runs");
});

test("fetchRun asks for the run and fills in missing diagnostics", async () => {
  const impl = fakeFetch(200, { run: "x", layers: [] });
  const data = await fetchRun("x/metrics", { fetchImpl: impl });
  assert.deepEqual(data.diagnostics, []);
  assert.equal(impl.calls[0].url, "./run?run=x%2Fmetrics");
});

test("fetchSummaries asks for several runs at once; a malformed entry becomes that run's error", async () => {
  const impl = fakeFetch(200, { runs: { "a/metrics": { run: "a/metrics", layers: [] }, b: { run: "b" }, c: { error: "no sparsity data for run 'c'" } } });
  const { runs: answers, series } = await fetchSummaries(["a/metrics", "b", "c"], { fetchImpl: impl });
  assert.equal(impl.calls[0].url, "./summaries?run=a%2Fmetrics&run=b&run=c");
  assert.deepEqual(answers["a/metrics"].diagnostics, []);
  assert.match(answers.b.error, /run b\): the answer has no "layers" list/);
  assert.equal(answers.c.error, "no sparsity data for run 'c'");
  assert.deepEqual(series, {});
  await assert.rejects(fetchSummaries(["a"], { fetchImpl: fakeFetch(200, { runs: [] }) }), (err) => err.kind === "format");
});

test("fetchSummaries with firstLayers: the first cards' series come unpacked; none is no error, a malformed one is", async () => {
  const packed = { measured: { steps: [[0, 10, 3]], values: [0, [0.5, 2]] }, expected: null };
  const impl = fakeFetch(200, {
    runs: { a: { run: "a", layers: [] }, b: { error: "no sparsity data for run 'b'" } },
    series: { a: { last_step: 20, layers: { "0:Dense": packed } }, b: { error: "no sparsity data for run 'b'" } },
  });
  const { runs, series } = await fetchSummaries(["a", "b"], { firstLayers: 12, fetchImpl: impl });
  assert.equal(impl.calls[0].url, "./summaries?run=a&run=b&first_layers=12");
  assert.deepEqual(series.a.layers["0:Dense"].measured, [[0, 0], [10, 0.5], [20, 0.5]]);
  assert.equal(series.b.error, "no sparsity data for run 'b'");
  assert.equal(runs.b.error, "no sparsity data for run 'b'");
  // An answer without them: the cards ask for their own; a malformed one is a format error.
  assert.deepEqual((await fetchSummaries(["a"], { firstLayers: 3, fetchImpl: fakeFetch(200, { runs: {} }) })).series, {});
  await assert.rejects(fetchSummaries(["a"], { firstLayers: 3, fetchImpl: fakeFetch(200, { runs: {}, series: [] }) }), (err) => err.kind === "format" && /"series"/.test(err.message));
});

test("backend errors carry the backend's message and status", async () => {
  const impl = fakeFetch(404, { error: "no sparsity data for run 'x/metrics'" });
  await assert.rejects(fetchRun("x/metrics", { fetchImpl: impl }), (err) => {
    assert.ok(err instanceof BackendError);
    assert.equal(err.status, 404);
    assert.equal(err.kind, "http");
    assert.match(err.message, /HTTP 404: no sparsity data for run 'x\/metrics'/);
    return true;
  });
});

test("a 500 with an HTML body still gives a readable error", async () => {
  const impl = fakeFetch(500, "<html><body>Internal Server Error</body></html>", { contentType: "text/html" });
  await assert.rejects(fetchRuns({ fetchImpl: impl }), (err) => {
    assert.equal(err.status, 500);
    assert.match(err.message, /HTTP 500/);
    assert.match(err.message, /Internal Server Error/);
    return true;
  });
});

test("a 200 that is not JSON, or JSON without runs, is a format error", async () => {
  await assert.rejects(fetchRuns({ fetchImpl: fakeFetch(200, "<!doctype html>") }), (err) => err.kind === "format");
  await assert.rejects(fetchRuns({ fetchImpl: fakeFetch(200, { nope: [] }) }), (err) => err.kind === "format");
  await assert.rejects(fetchRun("r", { fetchImpl: fakeFetch(200, { run: "r" }) }), (err) => err.kind === "format");
});

test("a network failure is a network error", async () => {
  const impl = async () => {
    throw new TypeError("Failed to fetch");
  };
  await assert.rejects(fetchJson("./runs", { fetchImpl: impl }), (err) => {
    assert.ok(err instanceof BackendError);
    assert.equal(err.kind, "network");
    assert.match(err.message, /Failed to fetch/);
    return true;
  });
});

test("packed series unpack to their pairs; damaged ones say why", () => {
  assert.deepEqual(unpackSeries({ steps: [[0, 1, 4], [10, 10, 3], 31], values: [[0, 4], [0.5, 3], 1] }), [
    [0, 0], [1, 0], [2, 0], [3, 0], [10, 0.5], [20, 0.5], [30, 0.5], [31, 1],
  ]);
  assert.deepEqual(unpackSeries({ steps: [], values: [] }), []);
  assert.throws(() => unpackSeries({ steps: [1, 2], values: [0.5] }), /2 steps and 1 values/);
  assert.throws(() => unpackSeries({ steps: [[0, 1, -3]], values: [] }), /run of -3/);
  assert.throws(() => unpackSeries({ steps: [[0, 1, 1e12]], values: [[0, 1e12]] }), /run of/);
  assert.throws(() => unpackSeries({ steps: ["x"], values: [1] }), /x in a packed series/);
  assert.throws(() => unpackSeries({ values: [] }), /without its arrays/);
});

test("fetchSeries asks for packed series and gives pairs; a run that does not unpack says so", async () => {
  const impl = fakeFetch(200, {
    runs: {
      a: { last_step: 20, layers: { "0:Dense": { measured: { steps: [[0, 10, 3]], values: [[0.5, 3]] }, expected: null, target: [[0, 0.5]] } } },
      b: { last_step: 1, layers: { "0:Dense": { measured: { steps: [0], values: [] } } } },
      c: { error: "no sparsity data for run 'c'" },
    },
  });
  const answers = await fetchSeries(["a", "b", "c"], ["0:Dense"], { fetchImpl: impl });
  assert.match(impl.calls[0].url, /^\.\/series\?run=a&run=b&run=c&layer=0%3ADense&packed=1$/);
  assert.deepEqual(answers.a.layers["0:Dense"], { measured: [[0, 0.5], [10, 0.5], [20, 0.5]], expected: null, target: [[0, 0.5]] });
  assert.match(answers.b.error, /run b\): a packed series of 1 steps and 0 values/);
  assert.equal(answers.c.error, "no sparsity data for run 'c'");
});
