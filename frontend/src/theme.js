// Light or dark, as TensorBoard is.
//
// TensorBoard 2.21 has no plugin message for its theme: its `dark-mode-supporter` component
// toggles the class `dark-mode` on its own <body>, and its Polymer dashboards follow that class
// with a MutationObserver on the body (checked in TensorBoard's webfiles bundle). The plugin's
// iframe is served from TensorBoard's origin, so it watches the parent's body the same way. Opened
// on its own (or if the parent cannot be read), the tab follows the browser's
// `prefers-color-scheme`. The tab's own <html> gets the class `dark-mode`; every colour is a
// custom property of theme.css that this class switches, and canvases read them with themeColor().

export const DARK_CLASS = "dark-mode";

/** The parent TensorBoard's <body>, or null (opened on its own, or another origin). */
function hostBody(win) {
  try {
    if (!win.parent || win.parent === win) return null;
    return win.parent.document.body || null;
  } catch (_) {
    return null; // cross-origin parent
  }
}

/**
 * Keeps `dark-mode` on this document's <html> in step with TensorBoard (or the browser) and calls
 * `onChange(dark)` after each switch (not for the first state).
 * @returns {() => void} stops following
 */
export function followTheme(onChange = () => {}, win = globalThis.window) {
  if (!win || !win.document) return () => {};
  const root = win.document.documentElement;
  const body = hostBody(win);
  const media = !body && win.matchMedia ? win.matchMedia("(prefers-color-scheme: dark)") : null;
  const isDark = () => (body ? body.classList.contains(DARK_CLASS) : Boolean(media && media.matches));
  let dark = isDark();
  root.classList.toggle(DARK_CLASS, dark);
  const update = () => {
    const now = isDark();
    if (now === dark) return;
    dark = now;
    root.classList.toggle(DARK_CLASS, dark);
    onChange(dark);
  };
  if (body) {
    const observer = new win.MutationObserver(update);
    observer.observe(body, { attributes: true, attributeFilter: ["class"] });
    return () => observer.disconnect();
  }
  if (media) {
    media.addEventListener("change", update);
    return () => media.removeEventListener("change", update);
  }
  return () => {};
}

// Custom properties by theme: getComputedStyle per axis and per draw was 0.16 s of the
// 300-layer first screen. theme.css switches them only with the `dark-mode` class.
const colorCache = new Map();

/** The value of a colour custom property of theme.css (e.g. "--chart-grid") in the current theme. */
export function themeColor(name, fallback = "#888") {
  if (typeof document === "undefined" || typeof getComputedStyle === "undefined") return fallback;
  const key = `${document.documentElement.classList.contains(DARK_CLASS)}\u0000${name}`;
  let value = colorCache.get(key);
  if (value === undefined) {
    value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    if (value) colorCache.set(key, value); // not before the style sheet has loaded
  }
  return value || fallback;
}
