// Whole-page and banner messages: loading, empty logdir, backend errors, runs without schedule.
import { el, replaceChildren } from "./dom.js";

export const PRUNING_SNIPPET = [
  "model.fit(x, y, epochs=10, callbacks=[",
  "    tfmot.sparsity.keras.UpdatePruningStep(),",
  '    tfmot.sparsity.keras.PruningSummaries(log_dir="logs/run1"),',
  "])",
].join("\n");

export const PYTORCH_SNIPPET = [
  "from tb_sparsity_plugin.torch import SparsityWriter",
  "sparsity = SparsityWriter(summary_writer, model)   # torch.nn.utils.prune or torch.ao",
  "for step, batch in enumerate(batches):",
  "    train_step(batch); sparsity.log(step)",
].join("\n");

export const SPARSITY_SUMMARIES_SNIPPET = [
  "from tb_sparsity_plugin import SparsitySummaries",
  "",
  "callbacks=[tfmot.sparsity.keras.UpdatePruningStep(),",
  '           tfmot.sparsity.keras.PruningSummaries(log_dir="logs/run1"),',
  '           SparsitySummaries(log_dir="logs/run1/metrics")]',
].join("\n");

export function loadingMessage() {
  return el("div", { class: "state state-loading", attrs: { role: "status" } }, el("div", { class: "spinner" }), el("p", { text: "Loading sparsity data\u2026" }));
}

export function emptyMessage() {
  return el(
    "div",
    { class: "state state-empty" },
    el("h2", { text: "No pruning data in this logdir yet" }),
    el("p", {
      text: "The Sparsity tab draws the mask sparsity of pruned layers as they are logged while training. With TensorFlow Model Optimization (tfmot), train a model wrapped with tfmot.sparsity.keras.prune_low_magnitude with these two callbacks:",
    }),
    el("pre", { class: "code" }, el("code", { text: PRUNING_SNIPPET })),
    el("p", { text: "With PyTorch (torch.nn.utils.prune, torch.ao.pruning), log with the plugin's writer into the run of your SummaryWriter:" }),
    el("pre", { class: "code" }, el("code", { text: PYTORCH_SNIPPET })),
    el("p", { class: "muted small", text: "Lightning's ModelPruning, Transformers' Trainer and Keras 3 have callbacks of their own (see the README); SparseML's, Distiller's and NNCF's own tags show as they are." }),
    el("p", {}, "and point TensorBoard at the parent directory: ", el("code", { text: "tensorboard --logdir logs" }), ". Runs appear here as soon as the first epoch starts (this page re-reads the logs every 30 seconds)."),
    el("p", { class: "muted small" }, "For the expected curve of each layer's schedule, also log the model config with ", el("code", { text: "SparsitySummaries" }), " from tb_sparsity_plugin (see the README)."),
  );
}

export function errorMessage(error, onRetry) {
  return el(
    "div",
    { class: "state state-error", attrs: { role: "alert" } },
    el("h2", { text: "The sparsity data could not be loaded" }),
    el("p", { class: "error-text", text: error && error.message ? error.message : String(error) }),
    el("p", { class: "muted small", text: "Check the terminal that runs TensorBoard for details, then retry." }),
    el("button", { class: "button", attrs: { type: "button" }, text: "Retry", on: { click: onRetry } }),
  );
}

/** A banner above the charts (a refresh failed, one run failed) that keeps what is drawn. */
export function banner(kind, text, detail = null) {
  return el("div", { class: `banner banner-${kind}`, attrs: { role: kind === "error" ? "alert" : "note" } }, el("strong", { text }), detail ? el("span", { text: ` ${detail}` }) : null);
}

// Banners name at most this many runs; beyond, they give the count and list the names folded.
export const NAMED_RUNS = 3;

/** The runs a banner is about: named when few, else counted with the names folded away. */
function runsPart(runs) {
  if (runs.length <= NAMED_RUNS) return el("span", { class: "run-list-inline", text: runs.join(", ") });
  return el("details", { class: "run-list-folded" }, el("summary", { text: "which runs" }), el("span", { class: "run-list-inline", text: runs.join(", ") }));
}

/**
 * The banner for the runs that failed to load, filled into `node` (one element for the page's
 * life, so it does not flicker as more runs fail): their reasons, counted when many.
 */
export function fillFailedRunsBanner(node, failures) {
  node.className = "banner banner-error";
  node.setAttribute("role", "alert");
  if (failures.length === 1) {
    return replaceChildren(node, el("strong", { text: `Run ${failures[0].run} could not be loaded:` }), el("span", { text: ` ${failures[0].error.message}` }));
  }
  // The first reason in full (often all share it), the others folded.
  return replaceChildren(
    node,
    el("strong", { text: `${failures.length} runs could not be loaded.` }),
    el("span", { text: ` ${failures[0].run}: ${failures[0].error.message}` }),
    el(
      "details",
      { class: "run-list-folded" },
      el("summary", { text: `the other ${failures.length - 1}` }),
      el("ul", {}, failures.slice(1).map((f) => el("li", { text: `${f.run}: ${f.error.message}` }))),
    ),
  );
}

/** The note for runs that have no schedule on record. */
export function noScheduleNote(runs) {
  const few = runs.length <= NAMED_RUNS;
  return el(
    "div",
    { class: "banner banner-info no-schedule-note" },
    el("strong", { text: runs.length === 1 ? "No schedule on record for " : few ? "No schedule on record for these runs: " : `${runs.length} runs have no schedule on record` }),
    runsPart(runs),
    el("span", { text: `${few ? "." : ""} Only measured sparsity is drawn. To get the expected curve, keep the ` }),
    el("code", { text: "train" }),
    el("span", { text: " run that PruningSummaries writes next to " }),
    el("code", { text: "metrics" }),
    el("span", { text: " (it holds the model config with each layer's schedule), or log with SparsitySummaries:" }),
    el("pre", { class: "code" }, el("code", { text: SPARSITY_SUMMARIES_SNIPPET })),
  );
}
