import assert from "node:assert/strict";
import test from "node:test";

import { connectToHost, DATA_RELOADED, GET_URL_DATA } from "../src/tb_host.js";

test("connectToHost does nothing outside an iframe", () => {
  const win = {};
  win.parent = win;
  assert.equal(connectToHost(() => {}, win), false);
  assert.equal(connectToHost(() => {}, undefined), false);
});

test("connectToHost bootstraps TensorBoard's channel and answers DataReloaded", async () => {
  let hostPort = null;
  const parent = {
    postMessage(message, origin, ports) {
      assert.equal(message, "experimental.bootstrap");
      hostPort = ports[0];
    },
  };
  const seen = [];
  assert.ok(connectToHost((type, payload) => seen.push([type, payload]), { parent }));
  assert.ok(hostPort);
  const reply = new Promise((resolve) => {
    hostPort.onmessage = (event) => resolve(JSON.parse(event.data));
  });
  hostPort.postMessage(JSON.stringify({ type: DATA_RELOADED, id: 7, payload: null, error: null, isReply: false }));
  const answer = await reply;
  assert.deepEqual(answer, { type: DATA_RELOADED, id: 7, payload: null, error: null, isReply: true });
  assert.deepEqual(seen, [[DATA_RELOADED, null]]);
  hostPort.close();
});

test("request sends a message and resolves with TensorBoard's reply", async () => {
  let hostPort = null;
  const parent = { postMessage: (message, origin, ports) => (hostPort = ports[0]) };
  const host = connectToHost(() => {}, { parent });
  hostPort.onmessage = (event) => {
    const m = JSON.parse(event.data);
    assert.equal(m.type, GET_URL_DATA);
    hostPort.postMessage(JSON.stringify({ type: m.type, id: m.id, payload: { tab: "heatmap" }, error: null, isReply: true }));
  };
  assert.deepEqual(await host.request(GET_URL_DATA, { pluginName: "sparsity" }), { tab: "heatmap" });
  hostPort.close();
});
