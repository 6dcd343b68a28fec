// What-if schedule: a form for a pruning schedule (class, parameters, training length) whose
// expected and target curves the backend's `schedule` route computes; drawn over the measured
// curves of the chosen run's layers, with the schedule's diagnostics.
import { formatPercent } from "../view_models/format.js";
import { PALETTE } from "../view_models/runs.js";
import { pointAt } from "../view_models/series.js";
import { prefillSchedule, pruningStepsText, SCHEDULE_FIELDS, scheduleParams } from "../view_models/whatif.js";
import { SparsityChart } from "./chart.js";
import { el, replaceChildren, swatch } from "./dom.js";

const WHATIF_COLOR = "#f57c00";
// Layer colours: the run palette without its oranges, which the what-if curves use.
const LAYER_COLORS = PALETTE.filter((c) => !["#e69f00", "#d55e00"].includes(c));
const MAX_LAYER_LINES = 12;

export class WhatIfView {
  /**
   * @param {{controls: HTMLElement, body: HTMLElement}} parts
   * @param {{onPick?: (step: number) => void, store: import("../store.js").Store}} options
   */
  constructor({ controls, body }, { onPick = () => {}, onSchedule = () => {}, store }) {
    this.store = store; // asks the backend for the typed-in schedule's curves
    this.onPick = onPick;
    this.onSchedule = onSchedule; // the user drew a schedule of their own (the URL keeps it)
    this.userSchedule = null; // that schedule's form values, or null (the run's own schedule)
    this.pendingSchedule = null; // a schedule from a link, filled in when the run arrives
    this.runPickerBox = el("div", { class: "control" });
    replaceChildren(controls, this.runPickerBox);
    this.classSelect = el(
      "select",
      { attrs: { name: "class_name", "aria-label": "schedule class" }, on: { change: () => this.renderFields(this.classSelect.value, {}) } },
      Object.keys(SCHEDULE_FIELDS).map((c) => el("option", { attrs: { value: c }, text: c })),
    );
    this.fieldsBox = el("div", { class: "form-fields" });
    this.maxStepInput = el("input", { attrs: { type: "number", name: "max_step", min: "1", step: "1", "aria-label": "training length in steps" } });
    this.paramsInput = el("input", { attrs: { type: "number", name: "params", min: "1", step: "1", placeholder: "unknown", "aria-label": "weights in the tensor" } });
    this.formErrors = el("div", { class: "filter-error form-errors", attrs: { "aria-live": "polite" } });
    this.prefillNote = el("p", { class: "muted small" });
    this.form = el(
      "form",
      { class: "whatif-form", on: { submit: (e) => { e.preventDefault(); this.userSubmit(); } } },
      el("label", { class: "field" }, el("span", { text: "schedule" }), this.classSelect),
      this.fieldsBox,
      el("label", { class: "field" }, el("span", { text: "training length (steps)" }), this.maxStepInput),
      el("label", { class: "field", attrs: { title: "quantises the expected curve to 1 − k/n; leave empty for the unquantised curve" } }, el("span", { text: "weights (optional)" }), this.paramsInput),
      el("div", { class: "field field-buttons" }, el("button", { class: "button primary", attrs: { type: "submit" }, text: "Draw" }), el("button", { class: "button", attrs: { type: "button" }, text: "Reset to the run's schedule", on: { click: () => this.prefill(true) } })),
    );
    this.message = el("div", { class: "view-message" });
    this.summary = el("p", { class: "whatif-summary" });
    this.readout = el("div", { class: "whatif-readout small" });
    this.plotBox = el("div", { class: "plot whatif-plot" });
    this.legend = el("div", { class: "whatif-legend small" });
    this.diagnostics = el("div", { class: "whatif-diagnostics" });
    replaceChildren(body, this.prefillNote, this.form, this.formErrors, this.message, this.summary, this.readout, this.plotBox, this.legend, this.diagnostics);
    this.chart = new SparsityChart(this.plotBox, { height: 300, onCursor: (step) => this.showStep(step) });
    this.plotBox.addEventListener("click", () => {
      if (this.hoverStep !== null && this.hoverStep !== undefined) this.onPick(this.hoverStep);
    });
    this.run = null;
    this.data = null;
    this.result = null;
    this.hoverStep = null;
    this.seq = 0;
  }

  get runPickerContainer() {
    return this.runPickerBox;
  }

  renderFields(className, values) {
    replaceChildren(
      this.fieldsBox,
      SCHEDULE_FIELDS[className].map((f) => {
        const input = el("input", { attrs: { type: "number", name: f.key, step: "any", "aria-label": f.label } });
        const v = values[f.key] ?? f.value;
        input.value = v === null || v === undefined ? "" : String(v);
        return el("label", { class: "field" }, el("span", { text: f.label }), input);
      }),
    );
  }

  prefill(draw) {
    const p = prefillSchedule(this.data);
    this.classSelect.value = p.className;
    this.renderFields(p.className, p.values);
    this.maxStepInput.value = String(p.maxStep);
    const params = this.data && Array.isArray(this.data.layers) ? this.data.layers.map((l) => l.params).filter(Number.isFinite) : [];
    this.paramsInput.value = params.length ? String(Math.max(...params)) : "";
    this.prefillNote.textContent = `Type in a schedule to see what its framework would apply over the measured curves of ${this.data ? this.data.run : "the run"}. Started from ${p.from}${params.length ? `, quantised for the largest layer (${Math.max(...params)} weights)` : ""}.`;
    if (draw) this.submit();
  }

  /**
   * @param {object|null} data the full `run` document of the chosen run
   * @param {string|null} note what to say instead while there is none (loading, failed)
   */
  update(data, note = null) {
    const changed = !data || !this.data || data.run !== this.data.run;
    this.data = data;
    if (!data) {
      replaceChildren(this.message, el("p", { class: "view-message-text", text: note || "Select a run on the left: its measured curves are drawn under the schedule you type in." }));
      this.form.hidden = true;
      return;
    }
    this.form.hidden = false;
    if (changed && this.pendingSchedule) {
      this.fill(this.pendingSchedule);
      this.pendingSchedule = null;
      this.submit();
    } else if (changed) this.prefill(true);
    else this.draw();
  }

  /** The form's values as the URL keeps them. */
  formValues() {
    return { class_name: this.classSelect.value, fields: this.texts(), max_step: this.maxStepInput.value, params: this.paramsInput.value };
  }

  /** A schedule from a link (formValues()' shape), or null for the run's own. */
  restore(schedule) {
    this.userSchedule = schedule && SCHEDULE_FIELDS[schedule.class_name] ? schedule : null;
    this.pendingSchedule = this.userSchedule;
    if (this.pendingSchedule && this.data) {
      this.fill(this.pendingSchedule);
      this.pendingSchedule = null;
      this.submit();
    }
  }

  fill(s) {
    this.classSelect.value = s.class_name;
    this.renderFields(s.class_name, s.fields && typeof s.fields === "object" ? s.fields : {});
    this.maxStepInput.value = String(s.max_step ?? "");
    this.paramsInput.value = String(s.params ?? "");
  }

  userSubmit() {
    this.userSchedule = this.formValues();
    this.submit();
    this.onSchedule();
  }

  texts() {
    const out = {};
    for (const input of this.fieldsBox.querySelectorAll("input")) out[input.name] = input.value;
    return out;
  }

  submit() {
    const { params, errors } = scheduleParams(this.classSelect.value, this.texts(), this.maxStepInput.value, this.paramsInput.value);
    this.formErrors.textContent = errors.join("; ");
    if (!params) return;
    const seq = ++this.seq;
    this.store
      .schedule(params)
      .then((result) => {
        if (seq !== this.seq) return;
        this.result = result;
        this.error = null;
        this.draw();
      })
      .catch((error) => {
        if (seq !== this.seq) return;
        this.result = null;
        this.error = error;
        this.draw();
      });
  }

  draw() {
    const messages = [];
    const data = this.data;
    const layers = data && Array.isArray(data.layers) ? data.layers.filter((l) => Array.isArray(l.measured) && l.measured.length) : [];
    if (data && !layers.length) messages.push(`Run ${data.run} has no measured sparsity: only the schedule's curves are drawn.`);
    if (this.error) messages.push(`The schedule could not be computed: ${this.error.message}`);
    replaceChildren(this.message, messages.map((text) => el("p", { class: `view-message-text${this.error ? " error-text" : ""}`, text })));
    const r = this.result;
    if (!r) {
      this.summary.textContent = "";
      replaceChildren(this.diagnostics);
      return;
    }
    const lines = [];
    const shown = layers.slice(0, MAX_LAYER_LINES);
    shown.forEach((l, i) => lines.push({ run: l.name || l.key, color: LAYER_COLORS[i % LAYER_COLORS.length], kind: "measured", series: l.measured }));
    if (r.expected) lines.push({ run: "what-if", color: WHATIF_COLOR, kind: "expected", series: r.expected });
    if (r.target) lines.push({ run: "what-if", color: WHATIF_COLOR, kind: "target", series: r.target });
    this.lines = lines;
    this.chart.update(lines);
    const final = r.expected && r.expected.length ? r.expected[r.expected.length - 1][1] : null;
    this.summary.textContent = `${r.schedule && r.schedule.class_name ? r.schedule.class_name : "Schedule"} over ${r.max_step} steps: ${pruningStepsText(r.pruning_steps)}; the mask ends at ${formatPercent(final)}.`;
    replaceChildren(
      this.legend,
      el("span", { class: "legend-item" }, el("span", { class: "key-line key-expected key-whatif" }), "what-if expected (what the schedule's framework would apply)"),
      el("span", { class: "legend-item" }, el("span", { class: "key-line key-target key-whatif" }), "what-if target"),
      shown.map((l, i) => el("span", { class: "legend-item" }, swatch(LAYER_COLORS[i % LAYER_COLORS.length]), `${l.name || l.key} measured`)),
      layers.length > shown.length ? el("span", { class: "legend-item muted", text: `(${shown.length} of ${layers.length} layers drawn)` }) : null,
    );
    const diags = Array.isArray(r.diagnostics) ? r.diagnostics : [];
    replaceChildren(
      this.diagnostics,
      el("h3", { text: diags.length ? "Diagnostics of this schedule" : "Diagnostics: none, this schedule reaches its target within the training run." }),
      diags.length
        ? el(
            "ul",
            { class: "diag-list" },
            diags.map((d) => el("li", { class: `diag-item diag-${d.severity}` }, el("span", { class: `badge badge-${d.severity}`, text: d.severity }), " ", el("span", { text: d.message }))),
          )
        : null,
    );
    this.showStep(this.hoverStep);
  }

  showStep(step) {
    this.hoverStep = step;
    const r = this.result;
    if (!r) return;
    if (step === null || step === undefined) {
      this.readout.textContent = "Hover the chart for the values at a step; click to open the table at that step.";
      return;
    }
    const e = pointAt(r.expected, step);
    const t = pointAt(r.target, step);
    const model = this.data && this.data.model ? pointAt(this.data.model.measured, step) : null;
    this.readout.textContent = `step ${step}: what-if expected ${formatPercent(e ? e.value : null)}, target ${formatPercent(t ? t.value : null)}${model ? `; the run's whole model measured ${formatPercent(model.value)} (logged at ${model.step})` : ""}`;
  }

  resize() {
    this.chart.resize();
  }
}
