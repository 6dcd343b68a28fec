// Listens for TensorBoard's reload (its reload button and its auto-reload timer).
//
// TensorBoard talks to iframed plugins over a MessageChannel: the iframe posts the string
// "experimental.bootstrap" to its parent with one port; TensorBoard then sends JSON messages
// `{type, id, payload, error, isReply}` on that port, among them "experimental.DataReloaded"
// after each reload, and waits for a reply with the same id. This is the protocol of
// TensorBoard's `tensorboard/components/experimental/plugin_lib`, reimplemented here in a few
// lines so the dashboard needs no build step. Outside TensorBoard (page opened on its own),
// nothing happens.

export const DATA_RELOADED = "experimental.DataReloaded";

/**
 * @param {(type: string, payload: any) => void} onMessage called for each host message
 * @param {Window} [win]
 * @returns {boolean} whether a host was found
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
  port.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (!message || message.isReply) return;
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
  return true;
}
