// The chart library is served from src/vendor/, copied there by scripts/vendor.mjs. When
// node_modules holds uPlot (after `npm install`), the committed copy must equal it byte for byte
// and its version must be the one package.json pins.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

import { VENDORED } from "../scripts/vendor.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const pinned = pkg.devDependencies.uplot;
const installed = join(root, "node_modules", "uplot");

test("package.json pins uPlot to an exact version", () => {
  assert.match(pinned, /^\d+\.\d+\.\d+$/);
});

test("the vendored files are present and name the pinned version", () => {
  for (const [, to] of VENDORED) assert.ok(existsSync(join(root, "src", "vendor", to)), `src/vendor/${to} missing: run npm run vendor`);
  assert.equal(readFileSync(join(root, "src", "vendor", "VERSION"), "utf8").trim(), `uplot ${pinned}`);
  const esm = readFileSync(join(root, "src", "vendor", "uPlot.esm.js"), "utf8");
  assert.ok(esm.includes(`(v${pinned})`), "uPlot.esm.js banner names another version");
  assert.match(readFileSync(join(root, "src", "vendor", "uPlot.LICENSE"), "utf8"), /MIT/);
});

test("the vendored files are byte-identical to node_modules/uplot", { skip: !existsSync(installed) && "node_modules/uplot not installed (npm ci)" }, () => {
  const version = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version;
  assert.equal(version, pinned, "node_modules has another uPlot than package.json pins: npm ci");
  for (const [from, to] of VENDORED) {
    const a = readFileSync(join(installed, from));
    const b = readFileSync(join(root, "src", "vendor", to));
    assert.ok(a.equals(b), `src/vendor/${to} differs from node_modules/uplot/${from}: run npm run vendor`);
  }
});
