import assert from "node:assert/strict";
import test from "node:test";

import { DARK_CLASS, followTheme } from "../src/theme.js";

function classList() {
  const set = new Set();
  return { contains: (c) => set.has(c), toggle: (c, on) => (on ? set.add(c) : set.delete(c)), set };
}

test("followTheme follows the parent TensorBoard's body class, live", () => {
  const hostBody = { classList: classList() };
  let observe = null;
  class MutationObserver {
    constructor(fn) {
      observe = fn;
    }
    observe(node, options) {
      assert.equal(node, hostBody);
      assert.deepEqual(options.attributeFilter, ["class"]);
    }
    disconnect() {}
  }
  const root = { classList: classList() };
  const win = { document: { documentElement: root }, MutationObserver };
  win.parent = { document: { body: hostBody } };
  const seen = [];
  followTheme((dark) => seen.push(dark), win);
  assert.equal(root.classList.contains(DARK_CLASS), false);
  hostBody.classList.toggle(DARK_CLASS, true);
  observe();
  assert.equal(root.classList.contains(DARK_CLASS), true);
  observe(); // another class change: no second call
  assert.deepEqual(seen, [true]);
});

test("followTheme uses prefers-color-scheme when opened on its own", () => {
  let listener = null;
  const media = { matches: true, addEventListener: (type, fn) => (listener = fn), removeEventListener() {} };
  const root = { classList: classList() };
  const win = { document: { documentElement: root }, matchMedia: (q) => (assert.equal(q, "(prefers-color-scheme: dark)"), media) };
  win.parent = win;
  const seen = [];
  followTheme((dark) => seen.push(dark), win);
  assert.equal(root.classList.contains(DARK_CLASS), true);
  media.matches = false;
  listener();
  assert.equal(root.classList.contains(DARK_CLASS), false);
  assert.deepEqual(seen, [false]);
});
