// Entry point of the Sparsity tab. TensorBoard loads this module in an iframe whose document
// base is `<tensorboard>/data/plugin/sparsity/` and calls `render()`.
// The plugin serves this file as `index.js` and every other file of frontend/src/ as
// `static/<path>`, so sibling modules live under `./static/`. Relative URLs in import() and
// `new URL(..., import.meta.url)` resolve against this module's own URL
// (`.../data/plugin/sparsity/index.js`).

function addStylesheet(path) {
  // A <link> made from JS: TensorBoard's CSP allows styles from 'self', not inline scripts.
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL(path, import.meta.url).href;
  document.head.appendChild(link);
  return new Promise((resolve) => {
    link.addEventListener("load", resolve, { once: true });
    link.addEventListener("error", resolve, { once: true }); // draw anyway, unstyled
  });
}

// Every module the dashboard imports (frontend/test/source.test.mjs checks the list). Asked for
// at once with <link rel="modulepreload">: the import chain alone (index -> dashboard -> views
// -> chart -> uPlot) fetched them in five rounds, 260 ms of the tab's first draw.
export const MODULES = [
  "dashboard.js", "data.js", "store.js", "tb_host.js", "theme.js", "url_state.js",
  "vendor/uPlot.esm.js", "view_models/blocks.js", "view_models/diagnostics.js", "view_models/format.js",
  "view_models/heatmap.js", "view_models/layers.js", "view_models/quality.js",
  "view_models/runs.js", "view_models/sections.js", "view_models/series.js",
  "view_models/sweeps.js", "view_models/table.js", "view_models/whatif.js",
  "view_models/xy_chart.js", "views/blocks.js", "views/cards.js", "views/chart.js", "views/diagnostics.js",
  "views/dom.js", "views/heatmap.js", "views/layers.js", "views/messages.js",
  "views/quality.js", "views/runs.js", "views/sections.js", "views/table.js",
  "views/whatif.js", "views/xy_chart.js",
];

function preloadModules() {
  for (const path of MODULES) {
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.href = new URL(`./static/${path}`, import.meta.url).href;
    document.head.appendChild(link);
  }
}

function say(text) {
  const p = document.createElement("p");
  p.className = "boot-message";
  p.textContent = text;
  document.body.replaceChildren(p);
  return p;
}

export async function render() {
  document.body.classList.add("sparsity-dashboard");
  // The run list is asked for now, while the dashboard's code loads: the store's first `runs`
  // request takes this answer (its failure is the store's to show).
  const earlyRuns = fetch("./runs", { cache: "no-store", credentials: "same-origin" });
  earlyRuns.catch(() => {});
  preloadModules();
  say("Loading the Sparsity dashboard\u2026");
  let dashboard;
  try {
    // Loaded here, not with a static import, so a missing file shows a message, not a blank tab.
    [dashboard] = await Promise.all([
      import(new URL("./static/dashboard.js", import.meta.url).href),
      addStylesheet("./static/vendor/uPlot.min.css"),
      addStylesheet("./static/theme.css"),
      addStylesheet("./static/style.css"),
    ]);
  } catch (err) {
    say(`The Sparsity dashboard could not load its code: ${err && err.message ? err.message : err}. Reinstall tb-sparsity-plugin and reload.`).setAttribute("role", "alert");
    throw err;
  }
  return dashboard.renderDashboard(document.body, { earlyRuns });
}
