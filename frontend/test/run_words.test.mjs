// Issue 34's view models: a colour per run, the words when nothing was compared, the
// framework's own layer names, schedule texts that fit.
import assert from "node:assert/strict";
import test from "node:test";

import { comparisonHeadline, comparisonSummary } from "../src/view_models/diagnostics.js";
import { filterLayerRows, lineUpLayers, lineUpText, scheduleLine } from "../src/view_models/layers.js";
import { assignSlots, compileFilter, DARK_PALETTE, metricAdvice, PALETTE, slotColors } from "../src/view_models/runs.js";
import { familyColors, groupRunsBy, hueOf } from "../src/view_models/sweeps.js";
import { tableColumns, withSchedules } from "../src/view_models/table.js";

function lab(hex) {
  const lin = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const [r, g, b] = lin;
  const xyz = [(0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047, 0.2126729 * r + 0.7151522 * g + 0.072175 * b, (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883];
  const [fx, fy, fz] = xyz.map((t) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116));
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
const deltaE = (a, b) => Math.hypot(...lab(a).map((v, i) => v - lab(b)[i]));

function closest(colors) {
  let min = Infinity;
  colors.forEach((a, i) => colors.slice(i + 1).forEach((b) => (min = Math.min(min, deltaE(a, b)))));
  return min;
}

test("both palettes keep any two of their 10 colours at CIE76 ΔE 28 or more", () => {
  assert.equal(PALETTE.length, 10);
  assert.equal(DARK_PALETTE.length, 10);
  assert.ok(closest(PALETTE) >= 28, closest(PALETTE));
  assert.ok(closest(DARK_PALETTE) >= 28, closest(DARK_PALETTE));
});

test("assignSlots keeps a run's slot and gives new runs the lowest free one", () => {
  const first = assignSlots(["a", "b", "c"]);
  assert.deepEqual([...first], [["a", 0], ["b", 1], ["c", 2]]);
  const second = assignSlots(["a", "aa", "c"], first); // b went away, aa came
  assert.deepEqual([...second], [["a", 0], ["c", 2], ["aa", 1]]);
});

test("slotColors: one palette colour per run up to 10, the same slot in both themes", () => {
  const names = Array.from({ length: 10 }, (_, i) => `run_${i}`);
  const slots = assignSlots(names);
  const light = slotColors(slots);
  const dark = slotColors(slots, true);
  assert.deepEqual([...light.values()], PALETTE);
  assert.deepEqual([...dark.values()], DARK_PALETTE);
  // A filter does not change colours: they are made over every run, not the shown ones.
  assert.equal(slotColors(assignSlots(names.slice(3), slots)).get("run_5"), light.get("run_5"));
});

test("beyond 10 runs a hue ring: neighbours in the list differ", () => {
  const names = Array.from({ length: 14 }, (_, i) => `run_${String(i).padStart(2, "0")}`);
  const colors = [...slotColors(assignSlots(names)).values()];
  assert.equal(new Set(colors).size, 14);
  for (let i = 1; i < colors.length; i += 1) assert.ok(deltaE(colors[i - 1], colors[i]) > 25, [colors[i - 1], colors[i]]);
});

test("familyColors: a family per group the user asks for, lighter in the dark theme", () => {
  const runs = ["a_x_1", "a_x_2", "b_y_1", "b_y_2", "b_y_3"].map((run) => ({ run, group: "" }));
  const { groups } = groupRunsBy(runs, "_([xy])_");
  for (const dark of [false, true]) {
    const colors = familyColors(groups, new Map(), dark);
    const x = ["a_x_1", "a_x_2"].map((r) => colors.runs.get(r));
    assert.ok(Math.abs(hueOf(x[0]) - hueOf(x[1])) < 8);
    assert.notEqual(x[0], x[1]);
    assert.equal(colors.groups.get("x"), (dark ? DARK_PALETTE : PALETTE)[colors.slots.get("x")]);
  }
});

const doc = (layers) => ({ layers });
const layer = (key, name, missing = null) => ({ key, name, expected_missing: missing && { code: "x", why: missing } });

test("comparisonSummary counts the layers compared and groups the others by why", () => {
  const summary = comparisonSummary([
    { run: "g", color: "#111111", data: doc([layer("0:Dense", "fc1", "global pruning"), layer("1:Dense", "fc2", "global pruning")]) },
    { run: "l1", color: "#222222", data: doc([layer("0:Dense", "fc1"), layer("1:Dense", "fc2")]) },
    { run: "id", color: "#333333", data: doc([layer("0:Dense", "fc1", "Identity, a method without a schedule on record")]) },
  ]);
  assert.equal(summary.layers, 5);
  assert.equal(summary.compared, 2);
  assert.deepEqual(summary.missing.map((m) => [m.why, m.count, m.runs.map((r) => `${r.run}:${r.layers.join(",")}`)]), [
    ["global pruning", 2, ["g:fc1,fc2"]],
    ["Identity, a method without a schedule on record", 1, ["id:fc1"]],
  ]);
});

test("the headline says every layer follows its schedule only when all were compared and none is flagged", () => {
  assert.match(comparisonHeadline({ layers: 4, compared: 4 }, 0), /all 4 layers have an expected curve, and each follows its schedule/);
  for (const [summary, count] of [[{ layers: 4, compared: 0 }, 0], [{ layers: 4, compared: 3 }, 0], [{ layers: 4, compared: 3 }, 2], [{ layers: 4, compared: 4 }, 1], [{ layers: 0, compared: 0 }, 0]]) {
    assert.doesNotMatch(comparisonHeadline(summary, count), /follows/, JSON.stringify([summary, count]));
  }
  assert.match(comparisonHeadline({ layers: 4, compared: 0 }, 0), /nothing was compared/);
  assert.equal(comparisonHeadline({ layers: 4, compared: 3 }, 2), "Not compared: 1 layer of 4 has no expected curve.");
  assert.equal(comparisonHeadline({ layers: 4, compared: 4 }, 2), "");
});

test("cards keep lining runs up by key and carry each framework's label", () => {
  const rows = lineUpLayers([
    { run: "keras", color: "#1", data: doc([{ key: "2:Dense", name: "dense", layer_label: "2:Dense" }]) },
    { run: "torch", color: "#2", data: doc([{ key: "2:Dense", name: "fc1", layer_label: "2:Linear" }]) },
  ]);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].labels, ["2:Dense", "2:Linear"]);
  assert.equal(filterLayerRows(rows, compileFilter("Linear")).length, 1);
  const text = lineUpText(rows[0]);
  assert.match(text, /by the key 2:Dense/);
  assert.match(text, /PyTorch's Linear/);
  assert.match(text, /2:Linear/);
  assert.match(lineUpText({ key: "features.0", labels: ["features.0"] }), /the layer's name/);
});

test("scheduleLine gives the short form for legends and the full text otherwise", () => {
  const l = { schedule_text: "L1Unstructured 20% \u00d7 6 calls (compounding)", schedule_short: "L1Unstructured 20% \u00d7 6 calls", nm: [2, 4], final_n_m_compliance: 0.5 };
  assert.equal(scheduleLine(l, true), "L1Unstructured 20% \u00d7 6 calls \u00b7 2:4 groups ok 50.0%");
  assert.equal(scheduleLine(l), "L1Unstructured 20% \u00d7 6 calls (compounding) \u00b7 2:4 groups ok 50.0%");
  assert.equal(scheduleLine({ schedule_text: "no schedule" }, true), "no schedule"); // older documents
  const global = { schedule_text: "no schedule", schedule_short: "no schedule", expected_missing: { code: "global_pruning", why: "global pruning: one level for all pruned layers together, none per layer" } };
  assert.equal(scheduleLine(global, true), "global pruning, no level per layer");
  assert.equal(scheduleLine(global), "no schedule (global pruning: one level for all pruned layers together, none per layer)");
  assert.equal(scheduleLine({ schedule_text: "no schedule", expected_missing: { code: "no_schedule_recorded", why: "no schedule recorded" } }), "no schedule");
});

test("the table gets a schedule column in full from the run document", () => {
  const rows = [{ key: "(model)", name: "whole model" }, { key: "0:Dense", name: "fc1" }];
  const merged = withSchedules(rows, [{ key: "0:Dense", schedule_text: "CubicSL 0% \u2192 75%, scheduler steps 0\u20136", layer_label: "0:Linear" }]);
  assert.equal(merged[1].schedule, "CubicSL 0% \u2192 75%, scheduler steps 0\u20136");
  assert.equal(merged[1].label, "0:Linear");
  assert.deepEqual(tableColumns(merged).slice(0, 2).map((c) => c.id), ["name", "schedule"]);
  assert.ok(!tableColumns(rows).some((c) => c.id === "schedule"));
});

test("metricAdvice names the way each framework logs a metric", () => {
  assert.match(metricAdvice(["tfmot"]), /Keras' TensorBoard callback/);
  const torch = metricAdvice(["torch.nn.utils.prune"]);
  assert.match(torch, /SummaryWriter/);
  assert.doesNotMatch(torch, /Keras/);
  assert.match(metricAdvice(["Lightning (torch.nn.utils.prune)"]), /self\.log/);
});
