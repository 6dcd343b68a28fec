// The page's sections (tabs) and the run picker of the single-run views.
import { el, replaceChildren, swatch } from "./dom.js";

/**
 * A row of tab buttons. `onSelect(id)` is called on click; `setActive(id)` marks one;
 * `setNote(id, text)` adds a short note to a tab's label (e.g. the picked step).
 */
export class TabBar {
  constructor(tabs, { active, onSelect }) {
    this.buttons = new Map();
    this.notes = new Map();
    this.root = el("nav", { class: "tabs", attrs: { role: "tablist", "aria-label": "views" } });
    for (const tab of tabs) {
      const note = el("span", { class: "tab-note" });
      const button = el(
        "button",
        {
          class: "tab",
          attrs: { type: "button", role: "tab", id: `tab-${tab.id}` },
          dataset: { tab: tab.id },
          on: { click: () => onSelect(tab.id) },
        },
        el("span", { text: tab.label }),
        note,
      );
      this.buttons.set(tab.id, button);
      this.notes.set(tab.id, note);
      this.root.appendChild(button);
    }
    this.setActive(active);
  }

  setActive(id) {
    for (const [tab, button] of this.buttons) {
      const on = tab === id;
      button.classList.toggle("active", on);
      button.setAttribute("aria-selected", on ? "true" : "false");
    }
  }

  setNote(id, text) {
    const note = this.notes.get(id);
    if (note) note.textContent = text ? ` ${text}` : "";
  }
}

/** A titled section with an intro sentence; `body` is where the view draws. */
export function section(id, title, intro) {
  const body = el("div", { class: "view-body" });
  const controls = el("div", { class: "view-controls" });
  const root = el(
    "section",
    { class: `view view-${id}`, attrs: { role: "tabpanel", "aria-labelledby": `tab-${id}` }, dataset: { view: id } },
    el("div", { class: "view-head" }, el("h2", { text: title }), intro ? el("p", { class: "muted small view-intro", text: intro }) : null),
    controls,
    body,
  );
  return { root, controls, body };
}

/** A <select> of the selected runs for the single-run views (heatmap, table, what-if). */
export function runPicker(container, { runs, current, colors, onChange }) {
  const select = el(
    "select",
    { class: "run-picker", attrs: { "aria-label": "run" }, on: { change: (e) => onChange(e.target.value) } },
    runs.map((r) => el("option", { attrs: { value: r }, text: r })),
  );
  select.value = current;
  replaceChildren(container, el("label", { class: "run-picker-label" }, el("span", { text: "Run " }), swatch(colors.get(current) || "#999"), select));
  return select;
}
