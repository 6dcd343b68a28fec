// Copies the chart library from node_modules into src/vendor/, the only copy the plugin serves.
// Run `npm install && npm run vendor` after changing the pinned uPlot version in package.json;
// test/vendor.test.mjs checks that the committed copy matches node_modules byte for byte.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const VENDORED = [
  ["dist/uPlot.esm.js", "uPlot.esm.js"],
  ["dist/uPlot.min.css", "uPlot.min.css"],
  ["LICENSE", "uPlot.LICENSE"],
];

function main() {
  const src = join(root, "node_modules", "uplot");
  const dst = join(root, "src", "vendor");
  const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies.uplot;
  const installed = JSON.parse(readFileSync(join(src, "package.json"), "utf8")).version;
  if (pinned !== installed) {
    throw new Error(`package.json pins uplot ${pinned} but node_modules has ${installed}: run npm install`);
  }
  mkdirSync(dst, { recursive: true });
  for (const [from, to] of VENDORED) copyFileSync(join(src, from), join(dst, to));
  writeFileSync(join(dst, "VERSION"), `uplot ${installed}\n`);
  console.log(`vendored uplot ${installed} into src/vendor/`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
