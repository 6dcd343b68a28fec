import assert from "node:assert/strict";
import test from "node:test";

import { decodeView, emptyView, encodeView, hashWith, isHistoryStep, parseHash, valuesIn } from "../src/url_state.js";

test("a view goes through TensorBoard's hash format and back", () => {
  const view = {
    ...emptyView(),
    tab: "heatmap",
    run: "a&b=c/d",
    step: 120,
    runs: "poly|trap",
    layers: "dense.*",
    sort: "deviation",
    mean: true,
    pins: ["conv2d", "1:Dense"],
    whatif: { class_name: "PolynomialDecay", fields: { final_sparsity: "0.8" }, max_step: "100", params: "" },
  };
  const hash = hashWith("#sparsity&tagFilter=x", encodeView(view));
  assert.ok(hash.startsWith("sparsity&tagFilter=x&p.sparsity.tab=heatmap"));
  // TensorBoard's own keys are kept; the tab's are URI-encoded, so '&' and '=' in a run name are safe.
  const dict = parseHash(hash);
  assert.equal(dict.get("__tab__"), "sparsity");
  assert.equal(dict.get("tagFilter"), "x");
  assert.deepEqual(decodeView(valuesIn(hash)), view);
});

test("defaults stay out of the URL and bad values fall back to them", () => {
  assert.deepEqual(encodeView(emptyView()), {});
  const view = decodeView({ step: "abc", pins: "{not json", whatif: "[1]", mean: "1", tab: "table" });
  assert.equal(view.step, null);
  assert.deepEqual(view.pins, []);
  assert.equal(view.whatif, null);
  assert.equal(view.mean, true);
  assert.equal(view.tab, "table");
  assert.deepEqual(parseHash("#sparsity&bad=%E0%A4%A"), new Map([["__tab__", "sparsity"]]));
});

test("sections, runs, steps and pins are history entries; typing a filter is not", () => {
  assert.equal(isHistoryStep({}, { tab: "heatmap" }), true);
  assert.equal(isHistoryStep({ tab: "heatmap" }, { tab: "heatmap", run: "poly" }), true);
  assert.equal(isHistoryStep({ pins: '["a"]' }, {}), true);
  assert.equal(isHistoryStep({ layers: "den" }, { layers: "dense" }), false);
  // Replacing the tab's keys drops the old ones.
  assert.equal(hashWith("#sparsity&p.sparsity.tab=table&p.sparsity.run=x", { tab: "heatmap" }), "sparsity&p.sparsity.tab=heatmap");
});
