// The run list: a colour per run, a check box per run, grouped (by directory or by the user's
// regex); a click on a run's name highlights it in every chart and readout.
import { el, replaceChildren, swatch } from "./dom.js";

/**
 * Fills `container` with the run list.
 * @param {HTMLElement} container
 * @param {{groups: {group, label, runs: object[]}[], colors: Map<string,string>,
 *          isSelected: (run: string) => boolean, errors: Map<string, Error>,
 *          onToggle: (run: string, on: boolean) => void, onToggleMany: (runs: string[], on: boolean) => void,
 *          highlighted: string|null, onHighlight: (run: string) => void, labels: Map<string,string>}} props
 */
export function renderRunList(container, props) {
  const { colors, isSelected, errors, onToggle, onToggleMany, highlighted, onHighlight, labels } = props;
  if (props.groups.length === 0) {
    replaceChildren(container, el("p", { class: "muted small", text: "No run matches the filter." }));
    return;
  }
  const groups = props.groups.map(({ group, label, runs: groupRuns_ }) => {
    const names = groupRuns_.map((r) => r.run);
    const selected = names.filter((n) => isSelected(n)).length;
    const groupBox = el("input", {
      attrs: { type: "checkbox", "aria-label": `select all runs of ${label}` },
      on: { change: (e) => onToggleMany(names, e.target.checked) },
    });
    groupBox.checked = selected === names.length;
    groupBox.indeterminate = selected > 0 && selected < names.length;
    return el(
      "section",
      { class: "run-group", dataset: { group } },
      el("label", { class: "run-group-title", attrs: { title: label } }, groupBox, el("span", { text: label })),
      el(
        "ul",
        { class: "run-items" },
        groupRuns_.map((run) => {
          const box = el("input", {
            attrs: { type: "checkbox" },
            on: { change: (e) => onToggle(run.run, e.target.checked) },
          });
          box.checked = isSelected(run.run);
          const meta = [];
          if (Number.isFinite(run.num_layers)) meta.push(`${run.num_layers} layer${run.num_layers === 1 ? "" : "s"}`);
          if (Number.isFinite(run.last_step)) meta.push(`step ${run.last_step}`);
          if (run.framework) meta.push(run.framework);
          if (run.schedule_source === "none") meta.push("no schedule");
          const error = errors.get(run.run);
          return el(
            "li",
            {
              class: `run-item${highlighted === run.run ? " highlight" : ""}${error ? " has-error" : ""}`,
              dataset: { run: run.run },
            },
            el(
              "label",
              { attrs: { title: `${run.run}${run.source_label ? ` (${run.source_label})` : ""}` } },
              box,
              swatch(colors.get(run.run) || "#999"),
            ),
            el("button", {
              class: "run-name",
              attrs: { type: "button", title: `${run.run}: highlight in every chart (click again to stop)`, "aria-pressed": highlighted === run.run ? "true" : "false" },
              text: labels.get(run.run) || run.run,
              on: { click: () => onHighlight(run.run) },
            }),
            el("div", { class: "run-meta", text: meta.join(" · ") }),
            error ? el("div", { class: "run-error", text: error.message }) : null,
          );
        }),
      ),
    );
  });
  replaceChildren(container, groups);
}
