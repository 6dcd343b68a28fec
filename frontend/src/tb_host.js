// Listens for TensorBoard's reload (its reload button and its auto-reload timer) and asks it for
// the tab's URL data.
//
// TensorBoard talks to iframed plugins over a MessageChannel: the iframe posts the string
// "experimental.bootstrap" to its parent with one port; TensorBoard then sends JSON messages
// `{type, id, payload, error, isReply}` on that port, among them "experimental.DataReloaded"
// after each reload, and waits for a reply with the same id. This is the protocol of
// TensorBoard's `tensorboard/components/experimental/plugin_lib`, reimplemented here in a few
// lines so the dashboard needs no build step. Outside TensorBoard (page opened on its own),
// nothing happens.

export const DATA_RELOADED = "experimental.DataReloaded";
// Asked by the plugin: TensorBoard answers the `p.<plugin>.*` keys of its URL hash.
export const GET_URL_DATA = "experimental.GetURLPluginData";
const REQUEST_TIMEOUT_MS = 3000;

/**
 * @param {(type: string, payload: any) => void} onMessage called for each host message
 * @param {Window} [win]
 * @returns {false | {request: (type: string, payload?: any) => Promise<any>}} the host, or false
 *   when there is none; `request` sends a message and resolves with TensorBoard's reply (rejects
 *   on its error, or when no reply comes within a few seconds)
 */
export function connectToHost(onMessage, win = globalThis.window) {
  if (!win || !win.parent || win.parent === win || typeof MessageChannel === "undefined") return false;
  let channel;
  try {
    channel = new MessageChannel();
  } catch (_) {
    return false;
  }
  const port = channel.port1;
  const waiting = new Map(); // id -> {resolve, reject}
  let nextId = 0;
  port.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (!message) return;
    if (message.isReply) {
      const wait = waiting.get(message.id);
      if (!wait) return;
      waiting.delete(message.id);
      if (message.error) wait.reject(new Error(String(message.error)));
      else wait.resolve(message.payload);
      return;
    }
    try {
      onMessage(message.type, message.payload);
    } catch (err) {
      // A failing handler must not leave TensorBoard waiting for its reply.
      setTimeout(() => {
        throw err;
      });
    }
    port.postMessage(JSON.stringify({ type: message.type, id: message.id, payload: null, error: null, isReply: true }));
  });
  port.start();
  try {
    // TensorBoard serves the iframe from its own origin; "*" only names the parent window.
    win.parent.postMessage("experimental.bootstrap", "*", [channel.port2]);
  } catch (_) {
    return false;
  }
  const request = (type, payload = null) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`TensorBoard did not answer ${type}`));
      }, REQUEST_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      port.postMessage(JSON.stringify({ type, id, payload, error: null, isReply: false }));
    });
  return { request };
}
