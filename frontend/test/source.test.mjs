// Static checks of the dashboard's source: data never becomes HTML, and every module the page
// imports exists where the plugin serves it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const ownModules = walk(src).filter((p) => p.endsWith(".js") && !p.includes(`${join(src, "vendor")}`));

test("no module of ours writes HTML from strings", () => {
  const forbidden = /\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*["']style["']|setAttribute\(\s*["']on/;
  for (const path of ownModules) {
    const text = readFileSync(path, "utf8");
    assert.doesNotMatch(text, forbidden, relative(src, path));
  }
});

test("index.js preloads every module the dashboard imports, and only those", async () => {
  const { MODULES } = await import("../src/index.js");
  const served = ownModules.concat(walk(join(src, "vendor")).filter((p) => p.endsWith(".esm.js")))
    .map((p) => relative(src, p).split("\\").join("/"))
    .filter((p) => p !== "index.js");
  assert.deepEqual([...MODULES].sort(), served.sort());
});

test("every relative import resolves to a file as the plugin serves it", () => {
  // The plugin serves src/index.js as index.js and src/<path> as static/<path>: from index.js,
  // siblings are at ./static/...; inside static/, relative imports work as on disk.
  const importRe = /(?:import|export)\s[^'"]*?from\s*["'](\.[^"']+)["']|import\(\s*(?:new URL\(\s*)?["'](\.[^"']+)["']/g;
  let count = 0;
  for (const path of ownModules) {
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] || m[2];
      count += 1;
      let target;
      if (path === join(src, "index.js")) {
        assert.ok(spec.startsWith("./static/"), `index.js must import siblings through ./static/, got ${spec}`);
        target = join(src, spec.slice("./static/".length));
      } else {
        target = resolve(dirname(path), spec);
      }
      assert.ok(existsSync(target), `${relative(src, path)} imports ${spec}: ${relative(src, target)} missing`);
      assert.ok(!relative(src, target).startsWith(".."), `${spec} leaves src/`);
    }
  }
  assert.ok(count > 10);
});

test("index.js loads its styles through ./static/", () => {
  const text = readFileSync(join(src, "index.js"), "utf8");
  for (const m of text.matchAll(/addStylesheet\("(\.[^"]+)"\)/g)) {
    assert.ok(m[1].startsWith("./static/"), m[1]);
    assert.ok(existsSync(join(src, m[1].slice("./static/".length))), m[1]);
  }
  assert.match(text, /export async function render\(/);
});
