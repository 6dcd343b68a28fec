// Unit tests of the Blocks view's model: transformer tensors by block and module type.
import assert from "node:assert/strict";
import test from "node:test";

import { blockCellText, blockColor, blockGrid, blockLayout, blockProfiles, cellLabel, coveredLines, declaredText, gridFacts, hasBlocks, moduleTypes, pathInBlock, profileDomain, profileText, scaleStops } from "../src/view_models/blocks.js";

const SPARSEGPT = { sparsity: 0.5, structure: [2, 4], ignored: false, source: "recipe.yaml", modifier: "SparseGPTModifier" };

// A tiny Llama as the run document lists it: by tensor name (safetensors sorts them), the
// recipe ignores lm_head, which has no block.
function llama(blocks = 2, declared = SPARSEGPT) {
  const layers = [{ key: "0:Dense", name: "lm_head", params: 4096, nm: [2, 4], declared: { ...declared, sparsity: null, structure: null, ignored: true } }];
  for (let b = 0; b < blocks; b++) {
    for (const [path, params] of [["mlp.down_proj", 8192], ["mlp.gate_proj", 8192], ["mlp.up_proj", 8192], ["self_attn.k_proj", 2048], ["self_attn.o_proj", 4096], ["self_attn.q_proj", 4096], ["self_attn.v_proj", 2048]]) {
      layers.push({ key: `${layers.length}:Dense`, name: `model.layers.${b}.${path}`, block: b, module_type: path.split(".")[1], params, nm: [2, 4], declared });
    }
  }
  return layers;
}

function rowsOf(layers, measured = () => 0.5) {
  return layers.map((l) => ({ key: l.key, name: l.name, measured: measured(l), expected: l.declared && l.declared.sparsity !== null && !l.declared.ignored ? 0.5 : null, n_m_compliance: l.name.includes("o_proj") && l.block === 1 ? 0.99707 : 1 }));
}

test("runs read from transformer checkpoints have blocks; others do not", () => {
  assert.equal(hasBlocks(llama()), true);
  assert.equal(hasBlocks([{ key: "0:Dense", name: "fc1" }]), false);
  assert.equal(hasBlocks([{ key: "0:Dense", block: null }]), false);
  assert.equal(hasBlocks(null), false);
});

test("blocks are rows, module types columns in the order a block runs them", () => {
  const layout = blockLayout(llama(3));
  assert.deepEqual(layout.blocks, [0, 1, 2]);
  assert.deepEqual(layout.columns.map((c) => c.id), ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
  assert.deepEqual(layout.outside.map((l) => l.name), ["lm_head"]);
  assert.deepEqual(layout.place.get("5:Dense"), { block: 0, column: "o_proj" });
});

test("a module type two tensors of one block share gets a column per path in the block", () => {
  const names = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"];
  const layers = [0, 1].flatMap((b) => names.map((n, i) => ({ key: `${b}/${i}`, name: `bert.encoder.layer.${b}.${n}`, block: b, module_type: n.split(".").pop() })));
  const layout = blockLayout(layers);
  assert.deepEqual(layout.columns.map((c) => c.id), ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]);
  assert.equal(pathInBlock("transformer.h.11.mlp.c_proj", 11, "c_proj"), "mlp.c_proj");
  assert.equal(pathInBlock("weird", 1, "x"), "x");
});

test("the grid holds each tensor's value in the chosen mode", () => {
  const layers = llama(2);
  const rows = rowsOf(layers, (l) => (l.name === "model.layers.1.self_attn.o_proj" ? 0.4993 : 0.5));
  const grid = blockGrid(layers, rows, "measured");
  const cols = grid.columns.length;
  const o = grid.columns.findIndex((c) => c.id === "o_proj");
  assert.equal(grid.values[1 * cols + o], 0.4993);
  assert.equal(grid.values[0 * cols + o], 0.5);
  assert.equal(grid.cells[1 * cols + o].name, "model.layers.1.self_attn.o_proj");
  const deviation = blockGrid(layers, rows, "deviation");
  assert.ok(Math.abs(deviation.values[1 * cols + o] + 0.0007) < 1e-12);
  assert.equal(deviation.values[0], 0);
  assert.ok(Math.abs(deviation.scale - 0.005) < 1e-12); // at least half a point
  const nm = blockGrid(layers, rows, "nm");
  assert.equal(nm.values[1 * cols + o], 0.99707);
  assert.equal(nm.hasNm, true);
  assert.deepEqual([grid.hasExpected, grid.outside.length], [true, 1]);
});

test("a block without a module type has an empty cell; a tensor with no row has no value", () => {
  const layers = llama(2).filter((l) => !(l.block === 1 && l.module_type === "down_proj"));
  const grid = blockGrid(layers, rowsOf(layers).filter((r) => r.name !== "model.layers.0.self_attn.q_proj"));
  const cols = grid.columns.length;
  assert.equal(grid.cells[1 * cols + cols - 1], null);
  assert.ok(Number.isNaN(grid.values[1 * cols + cols - 1]));
  assert.equal(grid.cells[0].measured, null);
  assert.ok(Number.isNaN(grid.values[0]));
});

test("colours: sparsity dark when sparse, N:M white when every group complies, red below", () => {
  assert.deepEqual(blockColor(1, "nm", 0.01), [247, 247, 247]);
  const broken = blockColor(0.99, "nm", 0.01);
  assert.ok(broken[0] > broken[2], "red, not blue");
  assert.notDeepEqual(blockColor(0.5, "measured"), blockColor(0.0, "measured"));
  assert.deepEqual(blockColor(NaN, "measured"), [232, 234, 237]);
  assert.deepEqual(scaleStops("nm", 0.004).map(([v]) => v), [0.996, 0.998, 1]);
  assert.equal(scaleStops("measured", 1).length, 5);
});

test("the hover says the tensor, measured, declared, the difference and N:M compliance", () => {
  const layers = llama(2);
  const rows = rowsOf(layers, (l) => (l.name === "model.layers.1.self_attn.o_proj" ? 0.49927 : 0.5));
  const grid = blockGrid(layers, rows);
  const cell = grid.cells.find((c) => c && c.name === "model.layers.1.self_attn.o_proj");
  assert.equal(
    blockCellText(cell, 0),
    "model.layers.1.self_attn.o_proj \u00b7 block 1, o_proj \u00b7 step 0 \u00b7 measured 49.93% \u00b7 declared 50.0% 2:4 (SparseGPTModifier, recipe.yaml) \u00b7 \u0394 \u22120.07 pt \u00b7 2:4 groups ok 99.71%",
  );
  assert.equal(declaredText(null), "nothing declared");
  assert.equal(declaredText({ ignored: true, source: "recipe.yaml", modifier: "WandaPruningModifier" }), "ignored by the recipe (WandaPruningModifier, recipe.yaml)");
  assert.equal(declaredText({ sparsity: 0.5, structure: null, source: "recipe.yaml" }), "declared 50.0% (recipe.yaml)");
  assert.equal(declaredText({ sparsity: null, structure: null, source: "config.json" }), "nothing declared (config.json)");
});

test("cell labels fit a cell; a compliance just under 100% keeps its digits", () => {
  assert.equal(cellLabel(0.5, "measured"), "50.0%");
  assert.equal(cellLabel(0.99707, "nm"), "99.71%");
  assert.equal(cellLabel(-0.0007, "deviation"), "\u22120.07");
  assert.equal(cellLabel(0, "deviation"), "\u00b10.0");
  assert.equal(cellLabel(NaN, "measured"), "");
});

test("profiles: one line per run, x = block, the block's tensors weighted by weight count", () => {
  const a = llama(3);
  const b = llama(2);
  const rowsA = rowsOf(a, (l) => (l.module_type === "q_proj" ? 0.6 : 0.5));
  const rowsB = rowsOf(b, (l) => (l.block === 1 ? 0.7 : 0.5));
  const lines = blockProfiles([
    { run: "wanda", label: "wanda", color: "#111", layers: a, rows: rowsA, step: 0 },
    { run: "sparsegpt", label: "sparsegpt", color: "#222", layers: b, rows: rowsB, step: 0 },
  ], null);
  assert.deepEqual(lines.map((l) => l.id), ["wanda", "sparsegpt"]);
  assert.deepEqual(lines[0].points.map((p) => p.x), [0, 1, 2]);
  const total = 8192 * 3 + 2048 * 2 + 4096 * 2;
  assert.ok(Math.abs(lines[0].points[0].y - (0.5 * total + 0.1 * 4096) / total) < 1e-12);
  assert.equal(lines[0].points[0].count, 7);
  assert.deepEqual(lines[1].points.map((p) => +p.y.toFixed(12)), [0.5, 0.7]);
  const q = blockProfiles([{ run: "wanda", layers: a, rows: rowsA, step: 0 }], "q_proj");
  assert.deepEqual(q[0].points.map((p) => [p.x, p.y, p.count]), [[0, 0.6, 1], [1, 0.6, 1], [2, 0.6, 1]]);
  assert.deepEqual(moduleTypes([a, b.filter((l) => l.module_type !== "down_proj")]), ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
});

test("the facts name the tensors outside the blocks", () => {
  const layers = llama(2);
  assert.equal(gridFacts("sparsegpt", blockGrid(layers, rowsOf(layers)), 0), "sparsegpt at step 0: 2 blocks \u00d7 7 module types, 14 tensors. 1 tensor outside the blocks (lm_head) is in the Layers view.");
});

test("the profiles' hover names every run at the block, the hovered one first", () => {
  const lines = [
    { id: "a", label: "sparsegpt_24", points: [{ x: 0, y: 1, step: 0 }, { x: 1, y: 1, step: 0 }] },
    { id: "b", label: "sparsegpt_24_broken", points: [{ x: 0, y: 1, step: 0 }, { x: 1, y: 0.9993, step: 0 }] },
    { id: "c", label: "wanda_50", points: [{ x: 0, y: 0.69, step: 0 }] },
  ];
  const pct = (v) => `${(v * 100).toFixed(2)}%`;
  assert.equal(profileText(lines, "b", 1, "o_proj", pct), "block 1 \u00b7 o_proj \u00b7 sparsegpt_24_broken 99.93% (step 0) \u00b7 sparsegpt_24 100.00% (step 0)");
  assert.equal(profileText(lines, "c", 0, "all", pct).split(" \u00b7 ").slice(2).join("|"), "wanda_50 69.00% (step 0)|sparsegpt_24 100.00% (step 0)|sparsegpt_24_broken 100.00% (step 0)");
});

test("the legend says what the expected value of checkpoint runs is", async () => {
  const { expectedLegendText } = await import("../src/view_models/runs.js");
  assert.match(expectedLegendText([{ framework: "Checkpoints (PyTorch)" }]), /checkpoints' recipe .* declared/);
  assert.match(expectedLegendText([{ framework: "Checkpoints (PyTorch)" }, { framework: "tfmot" }]), /makes Checkpoints \(PyTorch\), tfmot apply/);
});

test("the profiles' range is at least a few points wide and stays within 0 to 100%", () => {
  const close = (a, b) => a.every((v, i) => Math.abs(v - b[i]) < 1e-12);
  assert.ok(close(profileDomain([0.5, 0.51], "measured"), [0.48, 0.53]));
  assert.ok(close(profileDomain([1, 0.9993], "nm"), [0.95, 1.0015]));
  assert.ok(close(profileDomain([0, 0], "measured"), [-0.003, 0.1]));
  assert.ok(close(profileDomain([0, -0.0002], "deviation"), [-0.0051, 0.0049]));
  const [lo, hi] = profileDomain([0.69, 1], "nm");
  assert.ok(hi > 1 && hi < 1.02 && lo < 0.69);
});

test("a profile under another at every block is named in the legend", () => {
  const line = (id, ys) => ({ id, label: id, points: ys.map((y, x) => ({ x, y })) });
  const covered = coveredLines([line("a", [1, 1]), line("b", [1, 0.9993]), line("c", [0.7, 0.7])], 0.003);
  assert.deepEqual([...covered], [["a", "b"]]);
  assert.equal(coveredLines([line("a", [1, 1]), line("b", [1, 0.99])], 0.003).size, 0);
});
