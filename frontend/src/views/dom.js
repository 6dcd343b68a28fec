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
