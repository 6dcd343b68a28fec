import assert from "node:assert/strict";
import test from "node:test";

import { collectDiagnostics, groupDiagnostics } from "../src/view_models/diagnostics.js";
import { formatCompactCount, formatPercent, formatPoints } from "../src/view_models/format.js";
import { filterLayerRows, layerBadges, lineUpLayers, scheduleLine, sortLayerRows } from "../src/view_models/layers.js";
import { assignColors, compileFilter, groupRuns, PALETTE, runLabels } from "../src/view_models/runs.js";
import { alignSeries, finalValues, hoverValues, pointAt, pointWithin } from "../src/view_models/series.js";

test("assignColors keeps colours of known runs and gives new runs unused ones", () => {
  const first = assignColors(["a", "b"]);
  assert.equal(first.get("a"), PALETTE[0]);
  assert.equal(first.get("b"), PALETTE[1]);
  // "0" appears before "a" and "b" in a later listing: nobody's colour changes.
  const second = assignColors(["0", "a", "b"], first);
  assert.equal(second.get("a"), PALETTE[0]);
  assert.equal(second.get("b"), PALETTE[1]);
  assert.equal(second.get("0"), PALETTE[2]);
  // A vanished run frees its colour.
  const third = assignColors(["b", "c"], second);
  assert.equal(third.get("b"), PALETTE[1]);
  assert.equal(third.get("c"), PALETTE[0]);
});

test("assignColors cycles when runs outnumber the palette", () => {
  const names = Array.from({ length: PALETTE.length + 3 }, (_, i) => `run${i}`);
  const colors = assignColors(names);
  assert.equal(colors.size, names.length);
  for (const c of colors.values()) assert.ok(PALETTE.includes(c));
});

test("compileFilter: empty matches all, regex is case-insensitive, invalid regex is reported", () => {
  assert.ok(compileFilter("").test("anything"));
  assert.ok(compileFilter("  ").valid);
  const f = compileFilter("conv\\d");
  assert.ok(f.valid);
  assert.ok(f.test("prune_CONV2d"));
  assert.ok(!f.test("dense"));
  const bad = compileFilter("conv(");
  assert.equal(bad.valid, false);
  assert.match(bad.error, /invalid regular expression/);
  assert.ok(bad.test("dense"), "an invalid filter hides nothing");
});

test("groupRuns groups by group, top level first, names sorted", () => {
  const groups = groupRuns([
    { run: "b/metrics", group: "b" },
    { run: "top", group: "" },
    { run: "a/x/metrics", group: "a/x" },
    { run: "b/extra", group: "b" },
    { run: "weird" }, // no group: top level
  ]);
  assert.deepEqual(
    groups.map((g) => [g.group, g.label, g.runs.map((r) => r.run)]),
    [
      ["", "(top level)", ["top", "weird"]],
      ["a/x", "a/x", ["a/x/metrics"]],
      ["b", "b", ["b/extra", "b/metrics"]],
    ],
  );
});

const layer = (key, name, position, dev, extra = {}) => ({
  key,
  name,
  position,
  params: 100,
  max_abs_deviation: dev,
  measured: [[0, 0]],
  ...extra,
});

test("lineUpLayers lines layers up by key across runs", () => {
  const rows = lineUpLayers([
    { run: "r1", color: "#1", data: { layers: [layer("1:Conv2D", "conv2d", 1, 0.01), layer("3:Dense", "dense", 3, 0.0)] } },
    { run: "r2", color: "#2", data: { layers: [layer("1:Conv2D", "conv2d_1", 1, 0.05), layer("2:Dense", "dense_x", 2, null)] } },
    { run: "r3", color: "#3", data: null },
  ]);
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  assert.deepEqual(Object.keys(byKey).sort(), ["1:Conv2D", "2:Dense", "3:Dense"]);
  assert.deepEqual(byKey["1:Conv2D"].names, ["conv2d", "conv2d_1"]);
  assert.deepEqual(byKey["1:Conv2D"].entries.map((e) => e.run), ["r1", "r2"]);
  assert.equal(byKey["1:Conv2D"].maxDeviation, 0.05);
  assert.equal(byKey["2:Dense"].maxDeviation, null);
  assert.deepEqual(byKey["3:Dense"].params, [100]);
});

test("sortLayerRows by name, model order and largest deviation", () => {
  const rows = lineUpLayers([
    {
      run: "r",
      color: "#1",
      data: {
        layers: [
          layer("2:Dense", "alpha", 2, 0.2),
          layer("0:Conv2D", "zeta", 0, 0.0),
          layer("1:Conv2D", "beta", 1, null),
          layer("readable_name", "mid", null, 0.5),
        ],
      },
    },
  ]);
  assert.deepEqual(sortLayerRows(rows, "name").map((r) => r.name), ["alpha", "beta", "mid", "zeta"]);
  assert.deepEqual(sortLayerRows(rows, "position").map((r) => r.name), ["zeta", "beta", "alpha", "mid"]);
  assert.deepEqual(sortLayerRows(rows, "deviation").map((r) => r.name), ["mid", "alpha", "zeta", "beta"]);
  assert.deepEqual(sortLayerRows(rows, "bogus").map((r) => r.name), ["zeta", "beta", "alpha", "mid"]);
});

test("filterLayerRows matches names and keys", () => {
  const rows = lineUpLayers([
    { run: "r", color: "#1", data: { layers: [layer("1:Conv2D", "conv2d", 1, 0), layer("2:Dense", "dense", 2, 0)] } },
  ]);
  assert.deepEqual(filterLayerRows(rows, compileFilter("conv")).map((r) => r.key), ["1:Conv2D"]);
  assert.deepEqual(filterLayerRows(rows, compileFilter("^2:")).map((r) => r.key), ["2:Dense"]);
});

test("collectDiagnostics orders worst first, then by run, run-level first", () => {
  const items = collectDiagnostics([
    {
      run: "a",
      color: "#1",
      data: {
        layers: [{ key: "1:Conv2D", name: "conv2d" }],
        diagnostics: [
          { code: "final_state_not_logged", severity: "info", layer: null, message: "i" },
          { code: "deviates_from_schedule", severity: "warning", layer: "1:Conv2D", message: "w" },
        ],
      },
    },
    {
      run: "b",
      color: "#2",
      data: {
        layers: [],
        diagnostics: [
          { code: "no_pruning_happened", severity: "error", layer: "9:Dense", message: "e" },
          { code: "frequency_exceeds_window", severity: "warning", layer: null, message: "w2" },
          null,
        ],
      },
    },
  ]);
  assert.deepEqual(
    items.map((i) => [i.diagnostic.code, i.run]),
    [
      ["no_pruning_happened", "b"],
      ["deviates_from_schedule", "a"],
      ["frequency_exceeds_window", "b"],
      ["final_state_not_logged", "a"],
    ],
  );
  assert.equal(items[1].layerName, "conv2d");
  assert.equal(items[0].layerName, "9:Dense", "unknown key falls back to the key");
  assert.equal(items[2].layer, null);
});

test("layerBadges: warnings and errors of the layer, one per code, worst first", () => {
  const data = {
    diagnostics: [
      { code: "deviates_from_schedule", severity: "warning", layer: "1:Conv2D", message: "x" },
      { code: "final_state_not_logged", severity: "info", layer: "1:Conv2D", message: "y" },
      { code: "no_pruning_happened", severity: "error", layer: "1:Conv2D", message: "z" },
      { code: "deviates_from_schedule", severity: "warning", layer: "1:Conv2D", message: "again" },
      { code: "target_not_reached", severity: "warning", layer: "2:Dense", message: "other layer" },
    ],
  };
  assert.deepEqual(
    layerBadges(data, "1:Conv2D").map((b) => [b.severity, b.label]),
    [
      ["error", "never pruned"],
      ["warning", "off schedule"],
    ],
  );
  assert.deepEqual(layerBadges(null, "1:Conv2D"), []);
});

test("alignSeries aligns on the union of steps; hold fills step functions", () => {
  const measured = [[0, 0], [24, 0.4], [48, 0.8]];
  const expected = [[0, 0], [20, 0.1], [30, 0.42], [60, 0.875]];
  const none = null;
  const [xs, m, e, n] = alignSeries([measured, expected, none], ["none", "hold", "none"]);
  assert.deepEqual(xs, [0, 20, 24, 30, 48, 60]);
  assert.deepEqual(m, [0, null, 0.4, null, 0.8, null]);
  assert.deepEqual(e, [0, 0.1, 0.1, 0.42, 0.42, 0.875]);
  assert.deepEqual(n, [null, null, null, null, null, null]);
});

test("alignSeries holds nothing before the first or after the last point", () => {
  const [xs, a, b] = alignSeries([[[10, 0.5], [20, 0.6]], [[0, 0], [30, 1]]], ["hold", "hold"]);
  assert.deepEqual(xs, [0, 10, 20, 30]);
  assert.deepEqual(a, [null, 0.5, 0.6, null]);
  assert.deepEqual(b, [0, 0, 0, 1]);
  assert.deepEqual(alignSeries([]), [[]]);
  assert.deepEqual(alignSeries([[]]), [[], []]);
});

test("alignSeries places every point at its step, whatever the order, duplicates and gaps", () => {
  // Several series over overlapping step sets, one out of order, one with a NaN value and a
  // duplicated step (the later point wins, as it would in a Map).
  const a = [[0, 0.1], [5, 0.2], [10, 0.3], [15, 0.4]];
  const b = [[3, 0.5], [10, NaN], [12, 0.6]];
  const shuffled = [[15, 0.9], [0, 0.7], [7, 0.8]];
  const duplicated = [[2, 0.1], [2, 0.2], [9, 0.3]];
  const [xs, ca, cb, cs, cd] = alignSeries([a, b, shuffled, duplicated]);
  assert.deepEqual(xs, [0, 2, 3, 5, 7, 9, 10, 12, 15]);
  assert.deepEqual(ca, [0.1, null, null, 0.2, null, null, 0.3, null, 0.4]);
  assert.deepEqual(cb, [null, null, 0.5, null, null, null, null, 0.6, null]);
  assert.deepEqual(cs, [0.7, null, null, null, 0.8, null, null, null, 0.9]);
  assert.deepEqual(cd, [null, 0.2, null, null, null, 0.3, null, null, null]);
});

test("pointAt finds the point in effect at a step", () => {
  const s = [[0, 0], [24, 0.4], [48, 0.8]];
  assert.equal(pointAt(s, -1), null);
  assert.deepEqual(pointAt(s, 0), { step: 0, value: 0 });
  assert.deepEqual(pointAt(s, 30), { step: 24, value: 0.4 });
  assert.deepEqual(pointAt(s, 48), { step: 48, value: 0.8 });
  assert.deepEqual(pointAt(s, 1000), { step: 48, value: 0.8 });
  assert.equal(pointAt(null, 3), null);
  assert.equal(pointAt([], 3), null);
});

test("hoverValues compares measured with expected at the measured point's step", () => {
  const entry = {
    run: "r",
    color: "#1",
    measured: [[0, 0], [24, 0.4], [48, 0.8]],
    expected: [[0, 0], [20, 0.1], [30, 0.42], [60, 0.875]],
  };
  const [at30] = hoverValues([entry], 30);
  assert.equal(at30.measured, 0.4);
  assert.equal(at30.measuredStep, 24);
  assert.equal(at30.expected, 0.42);
  assert.ok(Math.abs(at30.difference - 0.3) < 1e-12, "0.4 measured at 24 against 0.1 expected at 24");
  assert.equal(at30.ended, false);
  const [past] = hoverValues([entry], 61);
  assert.equal(past.expected, null, "no expected value past the run's last step");
  assert.equal(past.measured, 0.8);
  assert.equal(past.ended, true);
  const [noSchedule] = hoverValues([{ ...entry, expected: null }], 30);
  assert.equal(noSchedule.expected, null);
  assert.equal(noSchedule.difference, null);
  const [final] = finalValues([entry]);
  assert.equal(final.measuredStep, 48);
  assert.equal(final.expected, 0.42);
});

test("formatting of percentages, points and counts", () => {
  assert.equal(formatPercent(0.8715), "87.2%");
  assert.equal(formatPercent(0), "0.0%");
  assert.equal(formatPercent(null), "—");
  assert.equal(formatPercent(NaN), "—");
  assert.equal(formatPoints(-0.012), "\u22121.2 pt");
  assert.equal(formatPoints(0.03), "+3.0 pt");
  assert.equal(formatPoints(0.0001), "±0.0 pt");
  assert.equal(formatPoints(null), "—");
  assert.equal(formatCompactCount(288), "288");
  assert.equal(formatCompactCount(9999), "9,999");
  assert.equal(formatCompactCount(12345), "12.3k");
  assert.equal(formatCompactCount(2_359_296), "2.36M");
  assert.equal(formatCompactCount(undefined), "?");
});

test("runLabels drops a shared last path part", () => {
  const labels = (names) => [...runLabels(names).values()];
  assert.deepEqual(labels(["poly/metrics", "trap/metrics"]), ["poly", "trap"]);
  assert.deepEqual(labels(["a/b/metrics"]), ["a/b"]);
  assert.deepEqual(labels(["poly/metrics", "trap/train"]), ["poly/metrics", "trap/train"]);
  assert.deepEqual(labels(["metrics", "x/metrics"]), ["metrics", "x/metrics"]);
  assert.deepEqual(labels(["/metrics"]), ["/metrics"]);
  assert.deepEqual(labels([]), []);
});

test("pointWithin ends where the series ends", () => {
  const s = [[0, 0], [10, 0.5]];
  assert.deepEqual(pointWithin(s, 10), { step: 10, value: 0.5 });
  assert.equal(pointWithin(s, 11), null);
  assert.equal(pointWithin(null, 1), null);
});

test("groupDiagnostics gathers one kind of finding across layers, and across runs with a count", () => {
  const d = (code, layer, severity = "warning") => ({ code, layer, severity, message: code + " " + layer });
  const items = collectDiagnostics([
    { run: "trap", color: "#000", data: { layers: [{ key: "0:A", name: "a" }, { key: "1:B", name: "b" }],
      diagnostics: [d("freq", "0:A"), d("stop", "0:A"), d("freq", "1:B"), d("stop", "1:B"), d("info_run", null, "info")] } },
    { run: "other", color: "#111", data: { layers: [{ key: "0:A", name: "a" }], diagnostics: [d("freq", "0:A")] } },
  ]);
  const groups = groupDiagnostics(items);
  assert.deepEqual(groups.map((g) => [g.first.run, g.first.diagnostic.code, g.first.layer, g.others.map((o) => o.layer), g.runs.map((r) => r.run)]), [
    ["trap", "freq", "0:A", ["1:B"], ["other"]],
    ["trap", "stop", "0:A", ["1:B"], []],
    ["trap", "info_run", null, [], []],
  ]);
  // 100 runs with the same run-level finding: one entry, 99 more runs.
  const many = collectDiagnostics(Array.from({ length: 100 }, (_, i) => ({ run: `r${i}`, color: "#000", data: { layers: [], diagnostics: [d("no_schedule", null, "info")] } })));
  const one = groupDiagnostics(many);
  assert.equal(one.length, 1);
  assert.equal(one[0].runs.length, 99);
});

test("scheduleLine shows the document's schedule text and N:M compliance when logged", () => {
  const torch = { schedule: { kind: "polynomial" }, schedule_text: "CubicSL 0% \u2192 75%, scheduler steps 0\u20136", nm: [2, 4], final_n_m_compliance: 0.875 };
  assert.equal(scheduleLine(torch), "CubicSL 0% \u2192 75%, scheduler steps 0\u20136 \u00b7 2:4 groups ok 87.5%");
  assert.equal(scheduleLine({ ...torch, final_n_m_compliance: null }), "CubicSL 0% \u2192 75%, scheduler steps 0\u20136");
  const keras = { schedule: { class_name: "ConstantSparsity", config: { target_sparsity: 0.5 } },
    schedule_text: "ConstantSparsity 50%, steps 0\u2013end every 100", nm: null };
  assert.equal(scheduleLine(keras), keras.schedule_text);
  assert.equal(scheduleLine({ schedule: null }), ""); // no text from the backend: nothing made up
});

test("alignSeries gives the same answer for steps gathered by index and by sorting", () => {
  // Dense integer steps take the indexed path; far-apart or fractional ones the sorted one.
  const dense = [[[3, 0.1], [1, 0.2], [2, 0.3]], [[2, 0.5], [4, 0.6]]];
  const sparse = dense.map((series) => series.map(([s, v]) => [s * 1e9, v]));
  const fractional = dense.map((series) => series.map(([s, v]) => [s + 0.5, v]));
  const [xs, ...columns] = alignSeries(dense, ["none", "hold"]);
  assert.deepEqual(xs, [1, 2, 3, 4]);
  assert.deepEqual(columns, [[0.2, 0.3, 0.1, null], [null, 0.5, 0.5, 0.6]]);
  const [xs2, ...columns2] = alignSeries(sparse, ["none", "hold"]);
  assert.deepEqual(xs2, [1e9, 2e9, 3e9, 4e9]);
  assert.deepEqual(columns2, columns);
  const [xs3, ...columns3] = alignSeries(fractional, ["none", "hold"]);
  assert.deepEqual(xs3, [1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(columns3, columns);
});

test("the expected curve's legend names the shown runs' frameworks", async () => {
  const { expectedLegendText } = await import("../src/view_models/runs.js");
  assert.match(expectedLegendText([{ framework: "tfmot" }, { framework: "torch.nn.utils.prune" }, { framework: "tfmot" }]),
    /^expected: what the schedule makes tfmot, torch\.nn\.utils\.prune apply/);
  assert.match(expectedLegendText([]), /makes the run's framework apply/);
  assert.doesNotMatch(expectedLegendText([{ framework: "torch.ao.pruning" }]), /tfmot/);
});
