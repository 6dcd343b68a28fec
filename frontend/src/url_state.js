// The view in the URL: which section, filters, run, step, schedule and pins are shown, kept in
// TensorBoard's hash keys `p.sparsity.<key>` so a link reopens the same view.
//
// TensorBoard's plugin API has the message "experimental.GetURLPluginData", answering the
// `p.<plugin>.*` keys of its hash (TensorBoard 2.21, `plugin_api_host` / `plugin_util`), but its
// answer can be stale (see read()); the API has no message to WRITE them, so the tab writes the parent's hash itself (the iframe has
// TensorBoard's origin), in TensorBoard's own format (`#<plugin>&key=value&...`, keys and values
// URI-encoded, other keys kept): assigning `location.hash` adds a history entry (the back button
// steps back through sections, runs, steps and pins), `location.replace` does not (typing in a
// filter). TensorBoard re-reads its hash dictionary on every `hashchange`, so its answers follow.
// Opened on its own, the tab keeps the same keys in its own hash.
import { GET_URL_DATA } from "./tb_host.js";

export const PLUGIN = "sparsity";
const PREFIX = `p.${PLUGIN}.`;
const TAB_KEY = "__tab__"; // TensorBoard's name for the hash's first, bare item (the plugin)

// The view's keys; a change of one marked `step` is a history entry of its own.
const FIELDS = {
  tab: { step: true, empty: "layers" },
  run: { step: true, empty: null },
  step: { step: true, empty: null },
  pins: { step: true, empty: [] },
  wide: { step: true, empty: null },
  width: { step: true, empty: null },
  sort: { step: true, empty: null },
  mean: { step: true, empty: false },
  runs: { step: false, empty: "" },
  group: { step: false, empty: "" },
  layers: { step: false, empty: "" },
  whatif: { step: false, empty: null },
};
const JSON_FIELDS = new Set(["pins", "whatif"]);

/** The view with every key at its default. */
export function emptyView() {
  const out = {};
  for (const [key, f] of Object.entries(FIELDS)) out[key] = Array.isArray(f.empty) ? [] : f.empty;
  return out;
}

/** The view as URL values (strings), defaults left out. */
export function encodeView(view) {
  const out = {};
  for (const [key, f] of Object.entries(FIELDS)) {
    const v = view[key];
    if (v === undefined || v === null || v === f.empty || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    if (JSON_FIELDS.has(key)) out[key] = JSON.stringify(v);
    else if (typeof v === "boolean") out[key] = v ? "1" : "0";
    else out[key] = String(v);
  }
  return out;
}

/** URL values back into a view; what does not parse keeps its default (a bad link opens the default view). */
export function decodeView(values) {
  const view = emptyView();
  if (!values || typeof values !== "object") return view;
  for (const key of Object.keys(FIELDS)) {
    const text = values[key];
    if (typeof text !== "string") continue;
    if (JSON_FIELDS.has(key)) {
      try {
        const v = JSON.parse(text);
        if (key === "pins" && Array.isArray(v)) view.pins = v.filter((p) => typeof p === "string");
        if (key === "whatif" && v && typeof v === "object" && !Array.isArray(v)) view.whatif = v;
      } catch (_) {
        // left at its default
      }
    } else if (key === "step" || key === "width") {
      const n = Number(text);
      if (text !== "" && Number.isFinite(n)) view[key] = n;
    } else if (key === "mean") view.mean = text === "1";
    else view[key] = text;
  }
  return view;
}

/** TensorBoard's hash (without "#") as a Map in its order (tf_storage's parsing). */
export function parseHash(hash) {
  const out = new Map();
  for (const part of hash.replace(/^#/, "").split("&")) {
    if (part === "") continue;
    const kv = part.split("=");
    try {
      if (kv.length === 1) out.set(TAB_KEY, kv[0]);
      else if (kv.length === 2) out.set(decodeURIComponent(kv[0]), decodeURIComponent(kv[1]));
    } catch (_) {
      // a malformed escape: skipped, as TensorBoard would fail on it too
    }
  }
  return out;
}

/** `hash` with the tab's keys replaced by `values` (other keys kept, in TensorBoard's format). */
export function hashWith(hash, values) {
  const dict = parseHash(hash);
  for (const key of [...dict.keys()]) if (key.startsWith(PREFIX)) dict.delete(key);
  for (const [key, value] of Object.entries(values)) dict.set(PREFIX + key, value);
  const head = dict.has(TAB_KEY) ? dict.get(TAB_KEY) : "";
  const rest = [...dict].filter(([k]) => k !== TAB_KEY).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return rest.length ? `${head}&${rest.join("&")}` : head;
}

/** The tab's values in `hash` (what GetURLPluginData answers). */
export function valuesIn(hash) {
  const out = {};
  for (const [k, v] of parseHash(hash)) if (k.startsWith(PREFIX)) out[k.slice(PREFIX.length)] = v;
  return out;
}

/** Whether two sets of URL values are the same (in any key order). */
export function sameValues(a, b) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Whether going from URL values `before` to `after` is a history entry (a `step` key changed). */
export function isHistoryStep(before, after) {
  return Object.entries(FIELDS).some(([key, f]) => f.step && before[key] !== after[key]);
}

export class UrlState {
  /**
   * @param {{host: false | {request: Function}, win?: Window, onRestore: (view: object) => void}} options
   *   onRestore: the URL changed under the tab (back/forward, an edited link)
   */
  constructor({ host, win = globalThis.window, onRestore }) {
    this.host = host;
    this.win = win;
    this.onRestore = onRestore;
    this.written = null; // URL values last written or read
    this.afterRead = false;
    // The window whose hash holds the view: TensorBoard's (same origin), or the tab's own.
    let target = win;
    try {
      if (host && win.parent && win.parent !== win && win.parent.location.hash !== undefined) target = win.parent;
    } catch (_) {
      target = null; // a parent of another origin: the view is not kept
    }
    this.target = target;
    if (target) {
      const onHashChange = () => {
        const values = valuesIn(target.location.hash);
        if (this.written && sameValues(values, this.written)) return; // our own write
        this.read().then((view) => this.onRestore(view));
      };
      target.addEventListener("hashchange", onHashChange);
      // TensorBoard drops the iframe when another tab is opened: its listener goes with it.
      if (target !== win) win.addEventListener("pagehide", () => target.removeEventListener("hashchange", onHashChange));
    }
  }

  /** The view in the URL: asked of TensorBoard, or read from the hash when it cannot answer. */
  async read() {
    let values = null;
    if (this.host) {
      try {
        values = await this.host.request(GET_URL_DATA, { pluginName: PLUGIN });
      } catch (_) {
        values = null;
      }
    }
    // TensorBoard 2.21 re-reads its hash dictionary only on `hashchange`: on a page opened from a
    // link it answers {} (checked in a real Chromium). The hash itself, readable from this origin,
    // is the truth; the message is what remains when it cannot be read.
    const inHash = this.target ? valuesIn(this.target.location.hash) : null;
    if (inHash) values = inHash;
    else if (!values || typeof values !== "object") values = {};
    this.written = values;
    this.afterRead = true; // the save that shows this view only corrects the URL (a bad link), no history entry
    return decodeView(values);
  }

  /** Puts `view` into the URL if it differs from what is there. */
  save(view) {
    if (!this.target) return;
    const correcting = this.afterRead;
    this.afterRead = false;
    const values = encodeView(view);
    const before = this.written || valuesIn(this.target.location.hash);
    if (sameValues(values, before)) return;
    this.written = values;
    const loc = this.target.location;
    const hash = hashWith(loc.hash, values);
    if (!correcting && isHistoryStep(before, values)) loc.hash = hash;
    else loc.replace(`${loc.href.split("#")[0]}#${hash}`);
  }
}
