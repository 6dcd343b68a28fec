// Tiny DOM helpers. Text goes through `textContent`, attributes through `setAttribute`:
// run and layer names are data and never become HTML.

/**
 * el("div", {class: "card", text: "hi", attrs: {title: "x"}, on: {click: fn}}, child1, ...)
 * Children may be nodes, strings (as text) or null/false (skipped); arrays are flattened.
 */
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  const { class: className, text, attrs, on, dataset } = options;
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (/^on/i.test(name) || name.toLowerCase() === "style") {
        throw new Error(`el(): attribute ${name} is not allowed`);
      }
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  if (dataset) {
    for (const [name, value] of Object.entries(dataset)) node.dataset[name] = String(value);
  }
  if (on) {
    for (const [type, handler] of Object.entries(on)) node.addEventListener(type, handler);
  }
  append(node, children);
  return node;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return parent;
}

/** Removes every child of `node` and appends the given ones. */
export function replaceChildren(node, ...children) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return append(node, children);
}

/** A coloured dot for a run (the colour goes through CSSOM, not a style attribute). */
export function swatch(color, className = "swatch") {
  const dot = el("span", { class: className, attrs: { "aria-hidden": "true" } });
  dot.style.backgroundColor = color;
  return dot;
}

/**
 * Sizes canvases to `width` × `height` CSS pixels at the screen's pixel ratio (sharp on HiDPI)
 * and returns the first one's 2-D context, cleared, drawing in CSS pixels.
 * @param {HTMLCanvasElement[]} canvases
 */
export function sizeCanvases(canvases, width, height) {
  const ratio = globalThis.devicePixelRatio || 1;
  for (const c of canvases) {
    c.width = Math.round(width * ratio);
    c.height = Math.round(height * ratio);
    c.style.width = `${width}px`;
    c.style.height = `${height}px`;
  }
  return clearedContext(canvases[0], width, height);
}

/** A sized canvas's 2-D context, cleared, drawing in CSS pixels (for redrawing an overlay). */
export function clearedContext(canvas, width, height) {
  const ratio = globalThis.devicePixelRatio || 1;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

/** `text` cut to fit `width` pixels on a canvas (binary search on its length), with "…". */
export function ellipsize(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}\u2026`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}\u2026`;
}

/**
 * A canvas with an overlay canvas for hover marks and a tooltip over it, in one stack: the
 * classes `<prefix>-canvas`, `-overlay`, `-tooltip` and `-stack` place them (style.css).
 * @returns {{canvas: HTMLCanvasElement, overlay: HTMLCanvasElement, tooltip: HTMLElement, stack: HTMLElement}}
 */
export function canvasStack(prefix) {
  const canvas = el("canvas", { class: `${prefix}-canvas` });
  const overlay = el("canvas", { class: `${prefix}-overlay` });
  const tooltip = el("div", { class: `chart-tooltip ${prefix}-tooltip`, attrs: { role: "status" } });
  tooltip.hidden = true;
  return { canvas, overlay, tooltip, stack: el("div", { class: `${prefix}-stack` }, canvas, overlay, tooltip) };
}

/** Shows `tooltip` with `text` beside the point (x, y) of its stack, its left edge at most `maxLeft`. */
export function showTooltip(tooltip, text, x, y, maxLeft) {
  tooltip.textContent = text;
  tooltip.hidden = false;
  tooltip.style.left = `${Math.max(0, Math.min(x + 10, maxLeft))}px`;
  tooltip.style.top = `${Math.max(0, y - 34)}px`;
}
