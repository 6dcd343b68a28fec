// The dashboard's progressive loading: renders as runs arrive, at most one per PROGRESS_RENDER_MS. The
// methods run on a stand-in object (no DOM in Node); the page itself is tested in a browser
// (tests/test_dashboard_browser.py).
import assert from "node:assert/strict";
import test from "node:test";

import { Dashboard, PROGRESS_RENDER_MS } from "../src/dashboard.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in with the state loadRuns and scheduleRender use; `render` records what it saw. */
function standIn(runs) {
  const d = {
    runs: runs.map((run) => ({ run, last_step: 10 })),
    runData: new Map(),
    runDataStep: new Map(),
    runErrors: new Map(),
    cancelRender: null,
    seen: [],
    render() {
      d.seen.push({ data: [...d.runData.keys()].sort(), errors: [...d.runErrors.keys()].sort() });
    },
  };
  d.scheduleRender = Dashboard.prototype.scheduleRender.bind(d);
  d.loadRuns = Dashboard.prototype.loadRuns.bind(d);
  return d;
}

function withFetch(delays, fn) {
  const saved = globalThis.fetch;
  globalThis.fetch = async (url) => {
    const run = new URLSearchParams(url.split("?")[1]).get("run");
    if (run in delays) await sleep(delays[run]);
    if (run === "broken") return new Response(JSON.stringify({ error: "boom" }), { status: 500 });
    return new Response(JSON.stringify({ run, layers: [] }), { status: 200 });
  };
  return fn().finally(() => {
    globalThis.fetch = saved;
  });
}

test("scheduleRender coalesces many requests into one render", async () => {
  const d = standIn([]);
  for (let i = 0; i < 20; i++) d.scheduleRender();
  assert.equal(d.seen.length, 0);
  await sleep(PROGRESS_RENDER_MS + 40);
  assert.equal(d.seen.length, 1);
  assert.equal(d.cancelRender, null);
  d.scheduleRender(); // a later request renders again
  await sleep(PROGRESS_RENDER_MS + 40);
  assert.equal(d.seen.length, 2);
});

test("loadRuns renders each run as it arrives, errors included, not only at the end", async () => {
  const d = standIn(["fast", "broken", "slow"]);
  const gap = PROGRESS_RENDER_MS + 200;
  await withFetch({ fast: 0, broken: gap, slow: 3 * gap }, () => d.loadRuns(["fast", "broken", "slow"], true));
  await sleep(PROGRESS_RENDER_MS + 40); // the render queued by the last arrival
  assert.ok(d.seen.length >= 2 && d.seen.length <= 3, JSON.stringify(d.seen));
  assert.deepEqual(d.seen[0], { data: ["fast"], errors: [] });
  assert.ok(d.seen.some((s) => s.errors.includes("broken") && !s.data.includes("slow")), JSON.stringify(d.seen));
  assert.deepEqual(d.seen.at(-1), { data: ["fast", "slow"], errors: ["broken"] });
});

test("runs arriving together cost one render", async () => {
  const names = Array.from({ length: 20 }, (_, i) => `run${i}`);
  const d = standIn(names);
  await withFetch({}, () => d.loadRuns(names, true));
  await sleep(PROGRESS_RENDER_MS + 40);
  assert.equal(d.seen.length, 1, JSON.stringify(d.seen.map((s) => s.data.length)));
  assert.equal(d.seen[0].data.length, 20);
});
