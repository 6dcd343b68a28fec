// The Sparsity dashboard: the page's state (selection, highlight, tab, groups) and its wiring.
// The store (store.js) fetches and holds every resource; view_models/ shapes what the views
// draw; the views draw.
import { collectDiagnostics, comparisonSummary } from "./view_models/diagnostics.js";
import { SORT_MODES } from "./view_models/layers.js";
import { assignSlots, compileFilter, expectedLegendText, natural, runLabels, slotColors } from "./view_models/runs.js";
import { FAILED, LOADED, LOADING, Store } from "./store.js";
import { familyColors, groupRunsBy } from "./view_models/sweeps.js";
import { diagnosticId, renderDiagnostics } from "./views/diagnostics.js";
import { el, replaceChildren } from "./views/dom.js";
import { LayersView } from "./views/layers.js";
import { banner, emptyMessage, errorMessage, fillFailedRunsBanner, loadingMessage, noScheduleNote } from "./views/messages.js";
import { renderRunList } from "./views/runs.js";
import { HeatmapView } from "./views/heatmap.js";
import { BlocksView } from "./views/blocks.js";
import { hasBlocks } from "./view_models/blocks.js";
import { QualityView } from "./views/quality.js";
import { runPicker, section, TabBar } from "./views/sections.js";
import { TableView } from "./views/table.js";
import { WhatIfView } from "./views/whatif.js";
import { TABS } from "./view_models/sections.js";
import { connectToHost, DATA_RELOADED } from "./tb_host.js";
import { DARK_CLASS, followTheme } from "./theme.js";
import { UrlState } from "./url_state.js";

export const REFRESH_SECONDS = 30;
// While data arrives, the page is redrawn at most this often (ms).
export const PROGRESS_RENDER_MS = 150;

const INTRO = {
  quality: "A metric of each selected run against whole-model sparsity: where quality starts to fall, and how runs compare at equal sparsity.",
  heatmap: "Every layer of one run at every logged step, coloured by its sparsity (or by how far it is from its schedule).",
  blocks: "Transformers read from checkpoints: every block \u00d7 module type of one run at one step, coloured by sparsity, by its deviation from what the recipe declared, or by N:M compliance; then each selected run block by block.",
  table: "Every layer of one run at one step. Click a point on any chart to pick the step; the default is the run's last step.",
  whatif: "Try a schedule before training with it: the curves tfmot (PolynomialDecay, ConstantSparsity) or torch.ao (CubicSL) would apply, over the run's measured curves.",
};

function filterBox(placeholder, label, onInput) {
  return el("input", {
    class: "filter",
    attrs: { type: "search", placeholder, "aria-label": label, spellcheck: "false" },
    on: { input: onInput },
  });
}

export class Dashboard {
  /** @param {{earlyRuns?: Promise<Response>}} options earlyRuns: `GET runs`, asked for by index.js */
  constructor(root, { refreshSeconds = REFRESH_SECONDS, earlyRuns = null, store = new Store({ earlyRuns }) } = {}) {
    this.root = root;
    this.refreshSeconds = refreshSeconds;
    this.store = store;
    this.runSlots = new Map(); // run -> its colour's slot, kept for the page's life (runs.js)
    this.groupSlots = new Map(); // group of the "group by" regex -> its family's slot
    this.groupColors = new Map(); // group -> base colour (its family's, or its first run's)
    this.colors = new Map(); // run -> colour: its own, or a shade of its group's family
    this.deselected = new Set(); // runs the user unticked (new runs start ticked)
    this.refreshError = null; // a later refresh failed (what is drawn stays)
    this.lastUpdated = null;
    this.inFlight = null;
    this.again = false;
    this.cancelRender = null; // cancels the render scheduleRender() queued, if any
    this.activeDiagnostic = null;
    this.activeLayer = null;
    this.highlightedRun = null;
    this.timer = null;
    this.tab = "layers"; // the section shown (view_models.TABS)
    this.focusRun = null; // the run of the single-run views (heatmap, table, what-if)
    this.chosenRun = null; // that run as the user (or a link) chose it; kept while it loads
    this.urlState = null; // the view in TensorBoard's URL (url_state.js), from start()
    this.viewRead = false; // the URL's view was applied: from now on the URL follows the page
    this.pickedStep = null; // the table's step, picked on a chart (null: the last step)
    this.pickedFrom = null;
    // Series of cards in view are drawn as they arrive (those cards only); anything else the
    // store loaded redraws the page, coalesced.
    this.store.subscribe((what) => {
      if (what && what.series && this.tab === "layers" && !this.cancelRender) this.layersView.redraw(what.series);
      else this.scheduleRender();
    });
    this.build();
  }

  // ---- layout ------------------------------------------------------------------------------

  build() {
    const render = () => this.render();
    this.runFilter = filterBox("Filter runs (regex)", "filter runs by regular expression", render);
    this.runFilterError = el("div", { class: "filter-error", attrs: { "aria-live": "polite" } });
    this.groupBy = filterBox("Group runs by regex, e.g. _s([0-9.]+)_", "group runs by the first capture group of a regular expression", render);
    this.groupByError = el("div", { class: "filter-error", attrs: { "aria-live": "polite" } });
    this.meanBox = el("input", { attrs: { type: "checkbox", "aria-label": "draw each group as its mean with a min-max band" }, on: { change: render } });
    this.runList = el("div", { class: "run-list" });
    this.expectedLegend = el("p", {}); // names the shown runs' frameworks (render)
    this.layerFilter = filterBox("Filter layers (regex)", "filter layers by regular expression", render);
    this.layerFilterError = el("div", { class: "filter-error", attrs: { "aria-live": "polite" } });
    this.sortSelect = el(
      "select",
      { class: "sort", attrs: { "aria-label": "sort layers" }, on: { change: render } },
      Object.entries(SORT_MODES).map(([value, label]) => el("option", { attrs: { value }, text: label })),
    );
    this.reloadButton = el("button", {
      class: "button reload",
      attrs: { type: "button", title: "Re-read the logs now" },
      text: "Reload",
      on: { click: () => this.refresh({ force: true }) },
    });
    this.status = el("div", { class: "status muted small", attrs: { "aria-live": "polite" } });

    const sidebar = el(
      "aside",
      { class: "sidebar" },
      el("div", { class: "sidebar-top" }, el("h1", { text: "Sparsity" }), this.reloadButton),
      this.status,
      el("h3", { text: "Runs" }),
      this.runFilter,
      this.runFilterError,
      this.groupBy,
      this.groupByError,
      el("label", { class: "mean-label small" }, this.meanBox, el("span", { text: " draw each group as its mean and min\u2013max band" })),
      this.runList,
      el("h3", { text: "Layers" }),
      this.layerFilter,
      this.layerFilterError,
      el("label", { class: "sort-label" }, el("span", { text: "Sort by " }), this.sortSelect),
      el(
        "div",
        { class: "legend-help small" },
        el("h3", { text: "How to read the charts" }),
        el("p", {}, el("span", { class: "key-line key-measured" }), "measured mask sparsity (as logged, drawn as steps; dots are logged points)"),
        this.expectedLegend,
        el("p", {}, el("span", { class: "key-line key-target" }), "schedule target (continuous)"),
        el("p", { class: "muted", text: "Drag on a chart to zoom into steps, double-click to zoom out. \u0394 is measured minus expected in percentage points. Click a run's name to highlight it." }),
      ),
    );

    this.banners = el("div", { class: "banners" });
    this.stateBox = el("div", { class: "state-box" });
    this.failedBanner = el("div");
    this.layersView = new LayersView({ store: this.store, onPick: (step, from) => this.pickStep(step, from), onLayout: () => this.render() });
    this.diagnosticsBox = el("section", { class: "diagnostics", attrs: { "aria-label": "diagnostics" } });
    this.overview = el("section", { class: "overview" }, this.layersView.modelBox, this.diagnosticsBox);
    this.buildViews();
    this.main = el(
      "main",
      { class: "content" },
      this.banners,
      this.stateBox,
      this.tabBar.root,
      this.overview,
      this.layersView.root,
      [...this.viewSections.values()].map((v) => v.root),
    );
    replaceChildren(this.root, el("div", { class: "app" }, sidebar, this.main));

    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => this.resizeCharts(), 150);
    });
  }

  buildViews() {
    this.tabBar = new TabBar(TABS, { active: this.tab, onSelect: (id) => this.selectTab(id) });
    this.viewSections = new Map();
    for (const tab of TABS) {
      if (tab.id === "layers") continue;
      const parts = section(tab.id, tab.label, INTRO[tab.id]);
      parts.root.hidden = true;
      this.viewSections.set(tab.id, parts);
    }
    const store = this.store;
    this.views = {
      quality: new QualityView(this.viewSections.get("quality"), { store, onPick: (step, run) => this.pickStep(step, "the quality chart", run, true) }),
      heatmap: new HeatmapView(this.viewSections.get("heatmap"), { onPick: (step) => this.pickStep(step, "the heatmap", null, true) }),
      blocks: new BlocksView(this.viewSections.get("blocks"), {
        store,
        onStep: (step) => {
          this.pickStep(step, step === null ? null : "the blocks' step box");
          this.render();
        },
        onRun: (run) => {
          this.focusRun = this.chosenRun = run;
          this.render();
        },
      }),
      table: new TableView(this.viewSections.get("table"), { store, onStep: (step) => this.pickStep(step, step === null ? null : "the step box") }),
      whatif: new WhatIfView(this.viewSections.get("whatif"), {
        store,
        onPick: (step) => this.pickStep(step, "the what-if chart", null, true),
        onSchedule: () => this.saveView(),
      }),
    };
  }

  start() {
    // A theme switch: canvases read the new colours at their next draw; uPlot's axes need one.
    followTheme(() => {
      this.layersView.repaint();
      this.render();
    });
    this.render();
    this.refresh({ force: true });
    this.scheduleRefresh();
    const host = connectToHost((type) => {
      if (type === DATA_RELOADED) {
        this.refresh({ force: false });
        this.scheduleRefresh();
      }
    });
    this.urlState = new UrlState({ host, onRestore: (view) => this.applyView(view) });
    this.urlState
      .read()
      .then((view) => this.applyView(view))
      .catch((err) => console.error("The view in the URL could not be shown:", err))
      .finally(() => {
        this.viewRead = true;
      });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.lastUpdated && Date.now() - this.lastUpdated.getTime() > this.refreshSeconds * 1000) {
        this.refresh({ force: false });
      }
    });
  }

  scheduleRefresh() {
    clearInterval(this.timer);
    if (this.refreshSeconds > 0) {
      this.timer = setInterval(() => {
        if (!document.hidden) this.refresh({ force: false });
      }, this.refreshSeconds * 1000);
    }
  }

  // ---- data: the store fetches, this only says when and what --------------------------------

  /** Re-reads the run list and the documents of the selected runs (all when `force`). */
  refresh({ force = false } = {}) {
    if (this.inFlight) {
      this.again = { force: force || Boolean(this.again && this.again.force) };
      return this.inFlight;
    }
    this.status.textContent = "Refreshing\u2026";
    this.reloadButton.disabled = true;
    this.inFlight = (async () => {
      try {
        await this.store.refresh({ force, wanted: () => this.selectedRuns().map((r) => r.run) });
        this.refreshError = null;
        this.lastUpdated = new Date();
      } catch (err) {
        this.refreshError = this.store.runList && this.store.runList.value ? err : null;
      } finally {
        this.inFlight = null;
        this.reloadButton.disabled = false;
      }
      this.render();
      if (this.again) {
        const next = this.again;
        this.again = false;
        await this.refresh(next);
      }
    })();
    return this.inFlight;
  }

  // ---- selections --------------------------------------------------------------------------

  runs() {
    return this.store.runList && this.store.runList.value;
  }

  /** The runs the run filter lets through, in groups (by directory or by the group regex). */
  shownGroups() {
    const matcher = compileFilter(this.runFilter.value);
    return groupRunsBy((this.runs() || []).filter((r) => matcher.test(r.run)), this.groupBy.value);
  }

  shownRuns() {
    return this.shownGroups().groups.flatMap((g) => g.runs);
  }

  selectedRuns() {
    return this.shownRuns().filter((r) => !this.deselected.has(r.run));
  }

  setSelected(names, on) {
    for (const name of names) {
      if (on) this.deselected.delete(name);
      else this.deselected.add(name);
    }
    this.render();
    if (on) this.store.loadDocs(names);
  }

  highlight(run) {
    this.highlightedRun = this.highlightedRun === run ? null : run;
    this.render();
  }

  // ---- rendering ---------------------------------------------------------------------------

  /**
   * Renders once within PROGRESS_RENDER_MS (or twice the last render's time, when that is
   * longer) however many times it is asked before then: resources arriving together cost one
   * render. A direct render() supersedes it.
   */
  scheduleRender() {
    if (this.cancelRender) return;
    const id = setTimeout(() => {
      this.cancelRender = null;
      this.render();
    }, Math.max(PROGRESS_RENDER_MS, 2 * (this.lastRenderMs || 0)));
    this.cancelRender = () => clearTimeout(id);
  }

  render() {
    const started = performance.now();
    try {
      this.renderNow();
    } finally {
      this.lastRenderMs = performance.now() - started;
    }
    this.saveView();
  }

  // ---- the view in the URL (url_state.js keeps it in TensorBoard's hash) ----------------------

  viewState() {
    return {
      tab: this.tab,
      run: this.chosenRun,
      step: this.pickedStep,
      runs: this.runFilter.value,
      group: this.groupBy.value,
      mean: this.meanBox.checked,
      layers: this.layerFilter.value,
      sort: this.sortSelect.value === Object.keys(SORT_MODES)[0] ? null : this.sortSelect.value,
      whatif: this.views.whatif.userSchedule,
      ...this.layersView.layout(),
    };
  }

  saveView() {
    if (this.viewRead && this.urlState) this.urlState.save(this.viewState());
  }

  /** Shows the view a link (or the back button) holds. */
  applyView(view) {
    this.runFilter.value = view.runs;
    this.groupBy.value = view.group;
    this.meanBox.checked = view.mean;
    this.layerFilter.value = view.layers;
    this.sortSelect.value = view.sort in SORT_MODES ? view.sort : Object.keys(SORT_MODES)[0];
    this.chosenRun = view.run;
    this.pickedStep = view.step;
    this.pickedFrom = null; // the table says "chosen step"
    this.tabBar.setNote("table", view.step === null ? "" : `· step ${view.step}`);
    this.views.whatif.restore(view.whatif);
    this.layersView.setLayout(view);
    this.selectTab(TABS.some((t) => t.id === view.tab) ? view.tab : "layers");
  }

  renderNow() {
    if (this.cancelRender) {
      this.cancelRender();
      this.cancelRender = null;
    }
    this.renderStatus();
    const runFilter = compileFilter(this.runFilter.value);
    this.runFilter.classList.toggle("invalid", !runFilter.valid);
    this.runFilterError.textContent = runFilter.error || "";
    const runs = this.runs();
    const list = this.store.runList;
    if (!runs) {
      // Drawn again only when it changes: a re-inserted alert is read out again by screen
      // readers (and a test holding it would hold a detached copy).
      const shows = list && list.state === FAILED ? list.error : LOADING;
      if (this.stateShows !== shows) {
        replaceChildren(this.stateBox, shows === LOADING ? loadingMessage() : errorMessage(list.error, () => this.refresh({ force: true })));
        this.stateShows = shows;
      }
      replaceChildren(this.runList);
      this.showSections(false);
      return;
    }
    if (runs.length === 0) {
      replaceChildren(this.stateBox, emptyMessage());
      this.stateShows = null;
      replaceChildren(this.runList, el("p", { class: "muted small", text: "No runs with pruning data." }));
      replaceChildren(this.banners, this.refreshError ? banner("error", "Refreshing failed:", this.refreshError.message) : null);
      this.bannersText = null;
      this.showSections(false);
      return;
    }

    const { groups, error: groupError } = this.shownGroups();
    this.groupBy.classList.toggle("invalid", Boolean(groupError));
    this.groupByError.textContent = groupError || "";
    this.colorRuns(runs, groupError);
    const errors = new Map();
    for (const r of runs) {
      const doc = this.store.doc(r.run);
      if (doc && doc.state === FAILED) errors.set(r.run, doc.error);
    }
    renderRunList(this.runList, {
      groups,
      labels: runLabels(groups.flatMap((g) => g.runs.map((r) => r.run))),
      colors: this.colors,
      isSelected: (name) => !this.deselected.has(name),
      errors,
      highlighted: this.highlightedRun,
      onToggle: (name, on) => this.setSelected([name], on),
      onToggleMany: (names, on) => this.setSelected(names, on),
      onHighlight: (name) => this.highlight(name),
    });

    const shown = groups.flatMap((g) => g.runs);
    replaceChildren(this.expectedLegend, el("span", { class: "key-line key-expected" }), expectedLegendText(shown));
    const selected = shown.filter((r) => !this.deselected.has(r.run));
    this.store.loadDocs(selected.map((r) => r.run)); // runs new to the list or the selection
    const withDoc = selected.filter((r) => this.store.doc(r.run)?.value);
    const labels = runLabels(withDoc.map((r) => r.run));
    const runDatas = withDoc.map((r) => ({ run: r.run, color: this.colors.get(r.run), label: labels.get(r.run), data: this.store.doc(r.run).value, info: r }));

    const banners = [];
    if (this.refreshError) banners.push(banner("error", "Refreshing failed; showing the data read before.", this.refreshError.message));
    const failures = selected.filter((r) => errors.has(r.run)).map((r) => ({ run: r.run, error: errors.get(r.run) }));
    if (failures.length) banners.push(fillFailedRunsBanner(this.failedBanner, failures));
    const loading = selected.filter((r) => !errors.has(r.run) && this.store.doc(r.run)?.state !== LOADED && !this.store.doc(r.run)?.value).map((r) => r.run);
    // One banner for the runs still loading: one each would shift the charts at every arrival.
    if (loading.length === 1) banners.push(banner("info", `Loading run ${loading[0]}\u2026`));
    else if (loading.length > 1) banners.push(banner("info", "Loading runs\u2026", `${loading.length} of ${selected.length} to go`));
    if (shown.length === 0) banners.push(banner("info", "No run matches the run filter."));
    else if (selected.length === 0) banners.push(banner("info", "No run selected: tick a run on the left to draw it."));
    // The note's advice (keep the `train` run, or log with SparsitySummaries) is for tfmot's
    // logs; PyTorch runs and other tools' tags say what they have in their cards.
    const tfmotLogs = (r) => r.data.schedule_source === "none" || r.data.schedule_source === "keras_model_config";
    const withoutSchedule = runDatas.filter((r) => tfmotLogs(r) && (r.data.schedule_source === "none" || (r.data.model && r.data.model.expected === null)));
    if (withoutSchedule.length) banners.push(noScheduleNote(withoutSchedule.map((r) => r.run)));
    // Kept when unchanged: an opened "which runs" stays open, and nothing flickers.
    const text = banners.map((b) => b.textContent).join("\u0000");
    if (text !== this.bannersText) replaceChildren(this.banners, banners);
    this.bannersText = text;
    // Nothing to draw yet, runs on their way: the spinner (kept, so it does not restart).
    this.stateShows = null;
    if (runDatas.length > 0 || loading.length === 0) replaceChildren(this.stateBox);
    else if (!this.stateBox.querySelector(".state-loading")) replaceChildren(this.stateBox, loadingMessage());

    this.showSections(runDatas.length > 0);
    // The Blocks section only where it has something to show (transformers read from checkpoints).
    this.tabBar.buttons.get("blocks").hidden = this.tab !== "blocks" && !runDatas.some((r) => hasBlocks(r.data.layers));
    this.renderView(runDatas);
    if (runDatas.length === 0) {
      this.layersView.clear();
      return;
    }
    if (this.tab !== "layers") return;
    renderDiagnostics(this.diagnosticsBox, {
      items: collectDiagnostics(runDatas),
      comparison: comparisonSummary(runDatas),
      activeId: this.activeDiagnostic,
      onSelect: (item) => this.selectDiagnostic(item),
    });
    const { filterError } = this.layersView.update({
      runs: runDatas.map((r) => ({ run: r.run, color: r.color, label: r.label, doc: r.data })),
      groups: groups.map((g) => ({ group: g.group, label: g.label, color: this.groupColors.get(g.group), runs: g.runs.map((r) => r.run) })),
      mean: this.meanBox.checked,
      highlighted: this.highlightedRun,
      activeLayer: this.activeDiagnostic !== null ? this.activeLayer : null,
      filter: this.layerFilter.value,
      sort: this.sortSelect.value,
      loadingRuns: loading,
    });
    this.layerFilter.classList.toggle("invalid", Boolean(filterError));
    this.layerFilterError.textContent = filterError || "";
  }

  /**
   * Every run its own colour (TensorBoard's Time Series does the same), over all the logdir's
   * runs in natural order so that filters do not change it; colour families only for the
   * groups the user asks for with the "group by" regex.
   */
  colorRuns(runs, groupError) {
    const dark = document.documentElement.classList.contains(DARK_CLASS);
    this.runSlots = assignSlots(runs.map((r) => r.run).sort(natural), this.runSlots);
    if (this.groupBy.value.trim() && !groupError) {
      const families = familyColors(groupRunsBy(runs, this.groupBy.value).groups, this.groupSlots, dark);
      this.groupSlots = families.slots;
      this.groupColors = families.groups;
      this.colors = families.runs;
      return;
    }
    this.colors = slotColors(this.runSlots, dark);
    // A directory's mean line (the "mean and band" box) takes its first run's colour.
    this.groupColors = new Map(groupRunsBy(runs, "").groups.map((g) => [g.group, this.colors.get(g.runs[0].run)]));
  }

  renderStatus() {
    if (this.inFlight) return;
    const parts = [];
    if (this.lastUpdated) parts.push(`Updated ${this.lastUpdated.toLocaleTimeString()}`);
    if (this.refreshSeconds > 0) parts.push(`re-read every ${this.refreshSeconds} s`);
    this.status.textContent = parts.join(" \u00b7 ");
  }

  showSections(on) {
    const runs = this.runs();
    const hasRuns = Boolean(runs && runs.length);
    this.tabBar.root.hidden = !hasRuns;
    this.overview.hidden = !on || this.tab !== "layers";
    this.layersView.root.hidden = !on || this.tab !== "layers";
    for (const [id, v] of this.viewSections) v.root.hidden = !hasRuns || this.tab !== id;
  }

  // ---- the other views: quality vs sparsity, heatmap, table, what-if ------------------------

  selectTab(id) {
    this.tab = id;
    this.tabBar.setActive(id);
    this.render();
    if (id === "layers") this.resizeCharts();
  }

  /** A step picked on a chart: the table shows it (and opens, when `open`). */
  pickStep(step, from, run = null, open = false) {
    // The same step again (e.g. the step box's change event on blur): nothing to redraw.
    if (step === this.pickedStep && (!run || run === this.focusRun) && !(open && this.tab !== "table")) return;
    this.pickedStep = step;
    this.pickedFrom = step === null ? null : from;
    if (run) this.focusRun = this.chosenRun = run;
    this.tabBar.setNote("table", step === null ? "" : `· step ${step}`);
    const button = this.tabBar.buttons.get("table");
    button.classList.remove("flash");
    void button.offsetWidth; // restart the flash animation
    button.classList.add("flash");
    if (open && this.tab !== "table") this.selectTab("table");
    else if (this.tab === "table") this.render();
  }

  renderView(runDatas) {
    const view = this.views[this.tab];
    if (!view) return;
    if (this.tab === "quality") {
      view.update(runDatas);
      return;
    }
    if (this.tab === "blocks") {
      view.update({ runs: runDatas, chosenRun: this.chosenRun, step: this.pickedStep, colors: this.colors });
      return;
    }
    const names = runDatas.map((r) => r.run);
    // The chosen run while it is drawn; else the first (a chosen run still loading comes back).
    this.focusRun = names.includes(this.chosenRun) ? this.chosenRun : names.length ? names[0] : null;
    if (this.focusRun) {
      runPicker(view.runPickerContainer, {
        runs: names,
        current: this.focusRun,
        colors: this.colors,
        onChange: (run) => {
          this.focusRun = this.chosenRun = run;
          this.render();
        },
      });
    } else replaceChildren(view.runPickerContainer);
    if (this.tab === "table") {
      const doc = this.focusRun ? this.store.doc(this.focusRun) : null;
      view.update({ run: this.focusRun, step: this.pickedStep, pickedFrom: this.pickedFrom, layers: doc && doc.value ? doc.value.layers : null });
      return;
    }
    // The heatmap and the what-if view draw every series of one run: its full document.
    const full = this.focusRun ? this.store.fullRun(this.focusRun) : null;
    if (full && full.value) view.update(full.value);
    else view.update(null, full ? (full.error ? full.error.message : `Loading run ${this.focusRun}\u2026`) : null);
  }

  resizeCharts() {
    if (this.tab === "layers") this.layersView.resize();
    else if (this.views[this.tab] && this.views[this.tab].resize) this.views[this.tab].resize();
  }

  // ---- diagnostics navigation --------------------------------------------------------------

  selectDiagnostic(item) {
    this.activeDiagnostic = diagnosticId(item);
    this.activeLayer = item.layer;
    this.highlightedRun = item.layer === null ? item.run : this.highlightedRun;
    if (item.layer !== null && !this.layersView.cardOf(item.layer) && this.layerFilter.value) {
      this.layerFilter.value = ""; // the layer was filtered out: show it
    }
    this.render();
    const target = this.layersView.cardOf(item.layer)?.root;
    if (!target) return;
    for (const card of this.main.querySelectorAll(".card.highlight, .card.flash")) {
      if (card !== target) card.classList.remove("highlight", "flash");
    }
    target.classList.add("highlight");
    target.classList.remove("flash");
    void target.offsetWidth; // restart the flash animation
    target.classList.add("flash");
    target.scrollIntoView({ block: "center", behavior: "smooth" });
    if (item.layer === null) {
      const runItem = [...this.runList.querySelectorAll(".run-item")].find((li) => li.dataset.run === item.run);
      if (runItem) runItem.scrollIntoView({ block: "nearest" });
    }
  }
}

export function renderDashboard(root = document.body, options = {}) {
  const dashboard = new Dashboard(root, options);
  dashboard.start();
  return dashboard;
}
