// The data functions of the Quality, Table, What-if views and their download links.
import assert from "node:assert/strict";
import test from "node:test";

import { BackendError, exportUrl, fetchMetrics, fetchQuality, fetchSchedule, fetchTable, tableCsvUrl } from "../src/data.js";

function fakeFetch(status, body) {
  const calls = [];
  const impl = async (url) => {
    calls.push(url);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  impl.calls = calls;
  return impl;
}

test("download links point at the backend's table and export routes", () => {
  assert.equal(tableCsvUrl("a b/metrics", 96), "./table?run=a+b%2Fmetrics&step=96&format=csv");
  assert.equal(tableCsvUrl("x/metrics"), "./table?run=x%2Fmetrics&format=csv");
  assert.equal(exportUrl("x/metrics", "json"), "./export?run=x%2Fmetrics&format=json");
});

test("fetchMetrics, fetchQuality, fetchTable, fetchSchedule ask the right URLs and check the answer", async () => {
  let impl = fakeFetch(200, { run: "a", metrics: [{ id: "validation/epoch_accuracy" }] });
  assert.deepEqual(await fetchMetrics("a", { fetchImpl: impl }), [{ id: "validation/epoch_accuracy" }]);
  assert.equal(impl.calls[0], "./metrics?run=a");
  impl = fakeFetch(200, { points: [[8, 0.3, 0.9]], first_drop: null });
  assert.equal((await fetchQuality("a", "validation/epoch_accuracy", 0.01, { fetchImpl: impl })).points.length, 1);
  assert.equal(impl.calls[0], "./quality?run=a&metric=validation%2Fepoch_accuracy&tolerance=0.01");
  impl = fakeFetch(200, { run: "a", step: 5, rows: [] });
  assert.equal((await fetchTable("a", 5, { fetchImpl: impl })).step, 5);
  assert.equal(impl.calls[0], "./table?run=a&step=5");
  impl = fakeFetch(200, { diagnostics: [], expected: [] });
  await fetchSchedule({ class_name: "ConstantSparsity", max_step: 10 }, { fetchImpl: impl });
  assert.equal(impl.calls[0], "./schedule?class_name=ConstantSparsity&max_step=10");
  await assert.rejects(fetchTable("a", null, { fetchImpl: fakeFetch(200, { nope: 1 }) }), BackendError);
  await assert.rejects(fetchQuality("a", "m", 0.01, { fetchImpl: fakeFetch(404, { error: "metric: 'm' is not a scalar" }) }), /HTTP 404: metric/);
});
