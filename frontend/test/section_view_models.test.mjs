// Unit tests of the view-model logic of the Quality, Heatmap, Table and What-if views.
import assert from "node:assert/strict";
import test from "node:test";

import { cellAt, deviationScale, heatmapCellText, heatmapColor, heatmapMatrix, heatmapPixels, MISSING_COLOR } from "../src/view_models/heatmap.js";
import { chooseMetric, defaultToleranceText, firstDropText, formatDrop, formatMetric, mergeMetricLists, parseTolerance, qualityLines, sparsityDomain } from "../src/view_models/quality.js";
import { TABS } from "../src/view_models/sections.js";
import { formatCell, sortTableRows, TABLE_COLUMNS, tableColumns } from "../src/view_models/table.js";
import { prefillSchedule, pruningStepsText, scheduleParams } from "../src/view_models/whatif.js";
import { nearestPoint, niceTicks, paddedExtent } from "../src/view_models/xy_chart.js";

const acc = (id, runs = 1) => ({ id, label: id, direction: "higher_is_better", alignment: "steps" });

test("the Layers view stays the default, first tab", () => {
  assert.equal(TABS[0].id, "layers");
  assert.deepEqual(TABS.map((t) => t.id), ["layers", "quality", "heatmap", "blocks", "table", "whatif"]);
});

test("metric lists of several runs merge by id, in the backend's order, with their runs", () => {
  const merged = mergeMetricLists([
    { run: "a", metrics: [acc("validation/evaluation_accuracy_vs_iterations"), acc("train/epoch_loss")] },
    { run: "b", metrics: [acc("train/epoch_loss"), acc("validation/epoch_auc")] },
    { run: "c", metrics: "not a list" },
  ]);
  assert.deepEqual(merged.map((m) => m.id), ["validation/evaluation_accuracy_vs_iterations", "train/epoch_loss", "validation/epoch_auc"]);
  assert.deepEqual(merged[1].runs, ["a", "b"]);
  assert.equal(chooseMetric(merged, "validation/epoch_auc"), "validation/epoch_auc");
  assert.equal(chooseMetric(merged, "gone"), "validation/evaluation_accuracy_vs_iterations");
  assert.equal(chooseMetric([], "x"), null);
});

test("tolerance: points for accuracy-like metrics, the metric's unit for losses", () => {
  assert.equal(defaultToleranceText("higher_is_better"), "1");
  assert.equal(defaultToleranceText("lower_is_better"), "0.01");
  assert.deepEqual(parseTolerance("1", "higher_is_better"), { value: 0.01, error: null });
  assert.deepEqual(parseTolerance("2.5", "higher_is_better"), { value: 0.025, error: null });
  assert.deepEqual(parseTolerance("0.05", "lower_is_better"), { value: 0.05, error: null });
  assert.equal(parseTolerance("0", "higher_is_better").value, 0);
  for (const bad of ["", "-1", "abc", "Infinity", null]) {
    const r = parseTolerance(bad, "higher_is_better");
    assert.equal(r.value, null, String(bad));
    assert.ok(r.error);
  }
});

test("metric values: accuracy as percent, losses as numbers", () => {
  assert.equal(formatMetric(0.875, "higher_is_better"), "87.5%");
  assert.equal(formatMetric(2.30412, "lower_is_better"), "2.304");
  assert.equal(formatMetric(null, "lower_is_better"), "—");
  assert.equal(formatMetric(123456789, "lower_is_better"), "1.235e+8");
  assert.equal(formatDrop({ value: 0.9, best_value: 0.92 }, "higher_is_better"), "\u22122.0 pt");
  assert.equal(formatDrop({ value: 2.5, best_value: 2.3 }, "lower_is_better"), "+0.2");
});

const qualityDoc = {
  direction: "higher_is_better",
  tolerance: 0.01,
  points: [
    [8, 0.3, 0.9],
    [16, 0.6, 0.91],
    [24, 0.8, 0.88],
    [32, 0.85, 0.8],
  ],
  sparsity_from: ["measured", "measured", "measured", "expected"],
  first_drop: { step: 24, sparsity: 0.8, value: 0.88, best_step: 16, best_sparsity: 0.6, best_value: 0.91 },
};

test("quality lines: x = sparsity, y = value, estimated points and the first drop marked", () => {
  const [line] = qualityLines([
    { run: "a", color: "#000", label: "A", doc: qualityDoc },
    { run: "b", color: "#111", doc: { points: [] } },
    { run: "c", color: "#222", doc: null },
  ]);
  assert.equal(line.id, "a");
  assert.equal(line.label, "A");
  assert.deepEqual(line.points[0], { step: 8, x: 0.3, y: 0.9, estimated: false });
  assert.equal(line.points[3].estimated, true);
  assert.deepEqual(line.marker, { x: 0.8, y: 0.88, step: 24 });
  assert.deepEqual(sparsityDomain([line]), [0, 0.9]);
  assert.deepEqual(sparsityDomain([{ points: [{ x: 0.99 }] }]), [0, 1]);
});

test("the first-drop sentence names the sparsity, the step and the drop", () => {
  const text = firstDropText(qualityDoc);
  assert.match(text, /^at 80\.0% sparsity \(step 24\): 88\.0%, best so far 91\.0% at step 16 \(\u22123\.0 pt\)$/);
  assert.equal(firstDropText({ ...qualityDoc, first_drop: null }), "never fell below its best by more than 1 pt");
  assert.equal(firstDropText({ ...qualityDoc, direction: "lower_is_better", first_drop: null }), "never rose above its best by more than 0.01");
  assert.equal(firstDropText({ points: [] }), "no points");
});

test("axis helpers", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 0.9, 10), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
  assert.deepEqual(niceTicks(3, 3), [3]);
  assert.deepEqual(niceTicks(NaN, 1), []);
  assert.deepEqual(paddedExtent([1, 2], 0.1), [0.9, 2.1]);
  assert.deepEqual(paddedExtent([]), [0, 1]);
  const [lo, hi] = paddedExtent([0.5, 0.5]);
  assert.ok(lo < 0.5 && hi > 0.5);
  const lines = [{ points: [{ x: 0, y: 0 }, { x: 10, y: 10 }] }, { points: [{ x: 5, y: 5 }] }];
  assert.deepEqual(nearestPoint(lines, 6, 6, (p) => [p.x, p.y], 3), { line: 1, point: 0, distance: Math.hypot(1, 1) });
  assert.equal(nearestPoint(lines, 50, 50, (p) => [p.x, p.y], 3), null);
});

const layers = [
  { key: "0:Conv2D", name: "conv", measured: [[0, 0], [10, 0.5], [20, 0.8]], expected: [[0, 0], [5, 0.4], [20, 0.8]] },
  { key: "2:Dense", name: "dense", measured: [[10, 0.3], [30, 0.9]], expected: null },
];

test("heatmap matrix: one column per logged step, values held, NaN before the first record", () => {
  const m = heatmapMatrix(layers);
  assert.deepEqual(m.steps, [0, 10, 20, 30]);
  assert.deepEqual(m.rows, [{ key: "0:Conv2D", name: "conv" }, { key: "2:Dense", name: "dense" }]);
  assert.deepEqual([...m.values.slice(0, 4)], [0, 0.5, 0.8, 0.8]);
  assert.ok(Number.isNaN(m.values[4]));
  assert.deepEqual([...m.values.slice(5)], [0.3, 0.3, 0.9]);
  assert.equal(m.hasExpected, true);
});

test("heatmap deviation: measured minus expected held at the column's step, NaN without a schedule", () => {
  const m = heatmapMatrix(layers, "deviation");
  const dev = [...m.values.slice(0, 4)].map((v) => +v.toFixed(6));
  assert.deepEqual(dev, [0, 0.1, 0, 0]);
  assert.ok([...m.values.slice(4)].every(Number.isNaN));
  assert.equal(+m.maxAbs.toFixed(6), 0.1);
  assert.equal(heatmapMatrix([layers[1]], "deviation").hasExpected, false);
});

test("heatmap colours: light at 0, dark at 1, diverging around 0 for deviations, grey when missing", () => {
  const light = heatmapColor(0);
  const dark = heatmapColor(1);
  assert.ok(light.reduce((a, b) => a + b) > dark.reduce((a, b) => a + b));
  assert.deepEqual(heatmapColor(NaN), MISSING_COLOR);
  assert.deepEqual(heatmapColor(0, "deviation", 0.1), [247, 247, 247]);
  const under = heatmapColor(-0.1, "deviation", 0.1);
  const over = heatmapColor(0.1, "deviation", 0.1);
  assert.ok(under[0] > under[2], "below expected is red");
  assert.ok(over[2] > over[0], "above expected is blue");
  assert.equal(deviationScale(0), 0.005);
  assert.equal(deviationScale(0.2), 0.2);
});

test("heatmap pixels: RGBA per cell, and 300 layers × 1000 steps stay fast", () => {
  const small = heatmapPixels(heatmapMatrix(layers));
  assert.equal(small.length, 2 * 4 * 4);
  assert.deepEqual([...small.slice(16, 20)], [...MISSING_COLOR, 255]);
  const big = [];
  for (let l = 0; l < 300; l++) {
    const measured = [];
    const expected = [];
    for (let s = 0; s < 1000; s++) {
      measured.push([s * 10, Math.min(1, s / 800)]);
      expected.push([s * 10, Math.min(1, s / 790)]);
    }
    big.push({ key: `${l}:Dense`, name: `dense_${l}`, measured, expected });
  }
  const t0 = performance.now();
  const m = heatmapMatrix(big, "deviation");
  const pixels = heatmapPixels(m, "deviation");
  const ms = performance.now() - t0;
  assert.equal(m.steps.length, 1000);
  assert.equal(pixels.length, 300 * 1000 * 4);
  assert.ok(ms < 3000, `${ms} ms`); // a sanity bound, not a benchmark
});

test("heatmap hover: cell under the mouse and its sentence", () => {
  const area = { left: 100, top: 10, width: 400, height: 200 };
  assert.deepEqual(cellAt(100, 10, area, 2, 4), { row: 0, col: 0 });
  assert.deepEqual(cellAt(499, 209, area, 2, 4), { row: 1, col: 3 });
  assert.equal(cellAt(99, 50, area, 2, 4), null);
  assert.equal(cellAt(500, 50, area, 2, 4), null);
  const m = heatmapMatrix(layers);
  assert.equal(heatmapCellText(m, layers, 0, 1), "conv (0:Conv2D) \u00b7 step 10 \u00b7 measured 50.0% \u00b7 expected 40.0% \u00b7 \u0394 +10.0 pt");
  assert.equal(heatmapCellText(m, layers, 1, 0), "dense (2:Dense) \u00b7 step 0 \u00b7 no record yet");
  assert.equal(heatmapCellText(m, layers, 1, 2), "dense (2:Dense) \u00b7 step 20 \u00b7 measured 30.0% (logged at 10) \u00b7 no expected curve");
});

const tableRows = [
  { key: "(model)", name: "whole model", params: 300, measured: 0.5, deviation: 0 },
  { key: "0:Conv2D", name: "conv", params: 100, measured: 0.8, deviation: -0.02 },
  { key: "1:Dense", name: "dense", params: 200, measured: 0.2, deviation: null },
  { key: "2:Dense", name: "alpha", params: 50, measured: 0.8, deviation: 0.01 },
];

test("table sorting keeps the whole model on top and missing values last", () => {
  assert.deepEqual(sortTableRows(tableRows).map((r) => r.key), ["(model)", "0:Conv2D", "1:Dense", "2:Dense"]);
  assert.deepEqual(sortTableRows(tableRows, "measured", true).map((r) => r.key), ["(model)", "0:Conv2D", "2:Dense", "1:Dense"]);
  assert.deepEqual(sortTableRows(tableRows, "measured", false).map((r) => r.key), ["(model)", "1:Dense", "0:Conv2D", "2:Dense"]);
  assert.deepEqual(sortTableRows(tableRows, "name").map((r) => r.name), ["whole model", "alpha", "conv", "dense"]);
  assert.deepEqual(sortTableRows(tableRows, "deviation", true).map((r) => r.key), ["(model)", "2:Dense", "0:Conv2D", "1:Dense"]);
  assert.deepEqual(sortTableRows(tableRows, "deviation", false).map((r) => r.key), ["(model)", "0:Conv2D", "2:Dense", "1:Dense"]);
  assert.equal(formatCell(0.84375, "percent"), "84.38%");
  assert.equal(formatCell(-0.0125, "points"), "\u22121.25 pt");
  assert.equal(formatCell(2304, "count"), "2,304");
  assert.equal(formatCell(null, "percent"), "—");
  assert.equal(formatCell(0.000051650298, "number"), "0.00005165");
});

test("what-if: starts from the run's schedule, else tfmot's defaults over the run's length", () => {
  const run = {
    run: "trap/metrics",
    last_step: 160,
    training_last_step: 192,
    layers: [
      { key: "0:Conv2D", name: "conv", schedule: null },
      {
        key: "2:Dense",
        name: "dense",
        schedule: { class_name: "PolynomialDecay", config: { initial_sparsity: 0, final_sparsity: 0.875, begin_step: 36, end_step: 184, power: 3, frequency: 100 } },
      },
    ],
  };
  const p = prefillSchedule(run);
  assert.equal(p.className, "PolynomialDecay");
  assert.equal(p.maxStep, 192);
  assert.deepEqual(p.values, { initial_sparsity: 0, final_sparsity: 0.875, begin_step: 36, end_step: 184, power: 3, frequency: 100 });
  assert.match(p.from, /dense/);
  const none = prefillSchedule({ run: "plain/metrics", last_step: 24, training_last_step: 32, layers: [{ key: "a", schedule: null }] });
  assert.equal(none.className, "PolynomialDecay");
  assert.equal(none.values.end_step, 32);
  assert.equal(none.values.frequency, 100);
  assert.equal(prefillSchedule(null).maxStep, 1000);
});

test("what-if: the schedule route's parameters, or what is wrong with the form", () => {
  const ok = scheduleParams("PolynomialDecay", { initial_sparsity: "0", final_sparsity: "0.875", begin_step: "36", end_step: "184", power: "", frequency: "100" }, "192", "");
  assert.deepEqual(ok, {
    params: { class_name: "PolynomialDecay", initial_sparsity: 0, final_sparsity: 0.875, begin_step: 36, end_step: 184, frequency: 100, max_step: 192 },
    errors: [],
  });
  const withParams = scheduleParams("ConstantSparsity", { target_sparsity: "0.5" }, "100", "288");
  assert.equal(withParams.params.params, 288);
  const bad = scheduleParams("PolynomialDecay", { final_sparsity: "87.5", begin_step: "3.5", power: "x" }, "0", "-3");
  assert.equal(bad.params, null);
  assert.equal(bad.errors.length, 5);
  assert.match(bad.errors.join(" "), /final sparsity: a fraction/);
  assert.equal(scheduleParams("Nope", {}, "1").params, null);
});

test("pruning steps in a sentence", () => {
  assert.equal(pruningStepsText([36, 136]), "pruning at steps 36, 136");
  assert.equal(pruningStepsText([5]), "pruning at step 5");
  assert.equal(pruningStepsText([]), "no pruning step inside the training run");
  assert.equal(pruningStepsText([1, 2, 3, 4, 5, 6, 7, 8]), "pruning at 8 steps (1, 2, 3, …, 8)");
});

test("tableColumns adds N:M compliance only when a row logs it", () => {
  assert.deepEqual(tableColumns([{ key: "(model)", n_m_compliance: null }, { key: "1:Conv2D" }]), TABLE_COLUMNS);
  const cols = tableColumns([{ key: "(model)", n_m_compliance: null }, { key: "0:Dense", n_m_compliance: 0.875 }]);
  assert.equal(cols.length, TABLE_COLUMNS.length + 1);
  assert.deepEqual(cols[cols.length - 1], { id: "n_m_compliance", label: "N:M groups ok", kind: "percent" });
});

test("prefillSchedule takes a PyTorch run's CubicSL from its source, base_sl as the level", () => {
  const run = {
    run: "torch_ao_cubic", last_step: 144,
    layers: [{ key: "7:Dense", name: "9", schedule: { kind: "polynomial", source: { class_name: "CubicSL", config: { base_sl: 0.875, init_sl: 0, init_t: 5, delta_t: 1, total_t: 23 } } } }],
  };
  const p = prefillSchedule(run);
  assert.equal(p.className, "CubicSL");
  assert.deepEqual(p.values, { sparsity_level: 0.875, init_sl: 0, init_t: 5, delta_t: 1, total_t: 23 });
  assert.equal(prefillSchedule({ run: "g", last_step: 9, layers: [{ key: "a", schedule: { kind: "compound", source: { class_name: "L1Unstructured" } } }] }).className, "PolynomialDecay");
});
