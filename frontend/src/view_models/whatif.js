// The What-if schedule's view model: the form's fields, its prefill from a run, its request parameters.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

/** The form of each schedule class: tfmot's config keys, with tfmot's defaults where it has them. */
export const SCHEDULE_FIELDS = {
  PolynomialDecay: [
    { key: "initial_sparsity", label: "initial sparsity", kind: "fraction", value: 0 },
    { key: "final_sparsity", label: "final sparsity", kind: "fraction", value: 0.8 },
    { key: "begin_step", label: "begin step", kind: "step", value: 0 },
    { key: "end_step", label: "end step", kind: "step", value: null },
    { key: "power", label: "power", kind: "number", value: 3 },
    { key: "frequency", label: "frequency", kind: "step", value: 100 },
  ],
  ConstantSparsity: [
    { key: "target_sparsity", label: "target sparsity", kind: "fraction", value: 0.5 },
    { key: "begin_step", label: "begin step", kind: "step", value: 0 },
    { key: "end_step", label: "end step (−1: never)", kind: "step", value: -1 },
    { key: "frequency", label: "frequency", kind: "step", value: 100 },
  ],
  // torch.ao: steps are scheduler.step() calls, the loop is sparsifier.step(); scheduler.step()
  CubicSL: [
    { key: "sparsity_level", label: "sparsity level", kind: "fraction", value: 0.8 },
    { key: "init_sl", label: "init_sl", kind: "fraction", value: 0 },
    { key: "init_t", label: "init_t", kind: "step", value: 0 },
    { key: "delta_t", label: "delta_t", kind: "step", value: 10 },
    { key: "total_t", label: "total_t", kind: "step", value: 100 },
  ],
};

/** A recorded schedule's class and config: tfmot's as logged, PyTorch's from its source
 * (CubicSL's group level `base_sl` is the form's `sparsity_level`). */
function scheduleConfig(schedule) {
  if (!schedule || typeof schedule !== "object") return null;
  if (SCHEDULE_FIELDS[schedule.class_name]) return { className: schedule.class_name, config: schedule.config || {} };
  const source = schedule.source && typeof schedule.source === "object" ? schedule.source : {};
  if (source.class_name !== "CubicSL") return null;
  const config = { ...(source.config || {}) };
  if (Number.isFinite(config.base_sl)) config.sparsity_level = config.base_sl;
  return { className: "CubicSL", config };
}

/**
 * Starting values of the what-if form for a run: its first layer's recorded schedule when it has
 * one, else tfmot's defaults over the run's length.
 * @returns {{className: string, values: Object<string, number>, maxStep: number, from: string}}
 */
export function prefillSchedule(runData) {
  const last = runData ? Math.max(runData.last_step || 0, runData.training_last_step || 0) : 0;
  const maxStep = last > 0 ? last : 1000;
  const layer = runData && Array.isArray(runData.layers) ? runData.layers.find((l) => scheduleConfig(l.schedule)) : null;
  if (layer) {
    const { className, config } = scheduleConfig(layer.schedule);
    const values = {};
    for (const f of SCHEDULE_FIELDS[className]) {
      const v = config[f.key];
      values[f.key] = Number.isFinite(v) ? v : f.value;
    }
    return { className, values, maxStep, from: `the schedule of ${layer.name || layer.key}` };
  }
  const className = "PolynomialDecay";
  const values = {};
  for (const f of SCHEDULE_FIELDS[className]) values[f.key] = f.value;
  values.end_step = maxStep;
  return { className, values, maxStep, from: "tfmot's defaults (no schedule on record)" };
}

/**
 * The `schedule` route's parameters from the form's texts, or the errors to show.
 * @returns {{params: Object<string, string|number>|null, errors: string[]}}
 */
export function scheduleParams(className, texts, maxStepText, paramsText = "") {
  const fields = SCHEDULE_FIELDS[className];
  const errors = [];
  if (!fields) return { params: null, errors: [`unknown schedule class ${className}`] };
  const params = { class_name: className };
  for (const f of fields) {
    const text = String(texts[f.key] ?? "").trim();
    if (text === "") continue; // the backend uses tfmot's default
    const n = Number(text);
    if (!Number.isFinite(n)) errors.push(`${f.label}: not a number`);
    else if (f.kind === "fraction" && !(n >= 0 && n < 1)) errors.push(`${f.label}: a fraction in [0, 1), e.g. 0.8`);
    else if (f.kind === "step" && !Number.isInteger(n)) errors.push(`${f.label}: a whole number of steps`);
    else params[f.key] = n;
  }
  const maxStep = Number(String(maxStepText ?? "").trim());
  if (!Number.isInteger(maxStep) || maxStep < 1) errors.push("training length: a whole number of steps ≥ 1");
  else params.max_step = maxStep;
  const p = String(paramsText ?? "").trim();
  if (p !== "") {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1) errors.push("weights: a whole number ≥ 1, or empty");
    else params.params = n;
  }
  return errors.length ? { params: null, errors } : { params, errors };
}

/** A short summary of the pruning steps the `schedule` route lists. */
export function pruningStepsText(steps) {
  if (!Array.isArray(steps) || steps.length === 0) return "no pruning step inside the training run";
  if (steps.length <= 6) return `pruning at step${steps.length === 1 ? "" : "s"} ${steps.join(", ")}`;
  return `pruning at ${steps.length}${steps.length >= 1000 ? "+" : ""} steps (${steps.slice(0, 3).join(", ")}, …, ${steps[steps.length - 1]})`;
}
