// The Sparsity dashboard: state, data loading and the page layout. Views draw, model.js shapes,
// data.js fetches.
import { fetchRun, fetchRuns } from "./data.js";
import {
  assignColors,
  collectDiagnostics,
  compileFilter,
  scheduleLine,
  filterLayerRows,
  formatCompactCount,
  formatCount,
  formatPercent,
  groupRuns,
  layerBadges,
  lineUpLayers,
  runLabels,
  SORT_MODES,
  sortLayerRows,
  weightingText,
} from "./model.js";
import { badge, ChartCard } from "./views/cards.js";
import { diagnosticId, renderDiagnostics } from "./views/diagnostics.js";
import { el, replaceChildren, swatch } from "./views/dom.js";
import { banner, emptyMessage, errorMessage, loadingMessage, noScheduleNote } from "./views/messages.js";
import { renderRunList } from "./views/runs.js";
import { HeatmapView } from "./views/heatmap.js";
import { QualityView } from "./views/quality.js";
import { runPicker, section, TabBar } from "./views/sections.js";
import { TableView } from "./views/table.js";
import { WhatIfView } from "./views/whatif.js";
import { TABS } from "./view_models.js";
import { connectToHost, DATA_RELOADED } from "./tb_host.js";

export const REFRESH_SECONDS = 30;
const FETCH_CONCURRENCY = 4;
// While runs load, the page is redrawn at most this often (ms).
export const PROGRESS_RENDER_MS = 300;

export class Dashboard {
  constructor(root, { refreshSeconds = REFRESH_SECONDS } = {}) {
    this.root = root;
    this.refreshSeconds = refreshSeconds;
    this.runs = null; // [{run, group, ...}] once loaded
    this.colors = new Map();
    this.deselected = new Set(); // runs the user unticked (new runs start ticked)
    this.runData = new Map(); // run -> analysis JSON
    this.runDataStep = new Map(); // run -> last_step the cached analysis was fetched at
    this.runErrors = new Map(); // run -> BackendError
    this.loadError = null; // the first load failed
    this.refreshError = null; // a later refresh failed (what is drawn stays)
    this.lastUpdated = null;
    this.inFlight = null;
    this.again = false;
    this.cancelRender = null; // cancels the render scheduleRender() queued, if any
    this.cards = new Map(); // layer key -> ChartCard
    this.zooms = new Map(); // layer key -> zoom of a card that was taken down
    this.modelCard = null;
    this.activeDiagnostic = null;
    this.highlightedRun = null;
    this.timer = null;
    this.tab = "layers"; // the section shown (view_models.TABS)
    this.focusRun = null; // the run of the single-run views (heatmap, table, what-if)
    this.pickedStep = null; // the table's step, picked on a chart (null: the last step)
    this.pickedFrom = null;
    this.build();
  }

  // ---- layout ------------------------------------------------------------------------------

  build() {
    this.runFilter = el("input", {
      class: "filter",
      attrs: { type: "search", placeholder: "Filter runs (regex)", "aria-label": "filter runs by regular expression", spellcheck: "false" },
      on: { input: () => this.render() },
    });
    this.runFilterError = el("div", { class: "filter-error", attrs: { "aria-live": "polite" } });
    this.runList = el("div", { class: "run-list" });
    this.layerFilter = el("input", {
      class: "filter",
      attrs: { type: "search", placeholder: "Filter layers (regex)", "aria-label": "filter layers by regular expression", spellcheck: "false" },
      on: { input: () => this.render() },
    });
    this.layerFilterError = el("div", { class: "filter-error", attrs: { "aria-live": "polite" } });
    this.sortSelect = el(
      "select",
      { class: "sort", attrs: { "aria-label": "sort layers" }, on: { change: () => this.render() } },
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
        el("p", {}, el("span", { class: "key-line key-expected" }), "expected: what the schedule makes tfmot apply (changes only on pruning steps)"),
        el("p", {}, el("span", { class: "key-line key-target" }), "schedule target (continuous)"),
        el("p", { class: "muted", text: "Drag on a chart to zoom into steps, double-click to zoom out. \u0394 is measured minus expected in percentage points." }),
      ),
    );

    this.banners = el("div", { class: "banners" });
    this.stateBox = el("div", { class: "state-box" });
    this.modelBox = el("div", { class: "model-box" });
    this.diagnosticsBox = el("section", { class: "diagnostics", attrs: { "aria-label": "diagnostics" } });
    this.overview = el("section", { class: "overview" }, this.modelBox, this.diagnosticsBox);
    this.layersHeading = el("div", { class: "layers-heading" });
    this.layerGrid = el("div", { class: "layer-grid" });
    this.layersSection = el("section", { class: "layers" }, this.layersHeading, this.layerGrid);
    this.buildViews();
    this.main = el(
      "main",
      { class: "content" },
      this.banners,
      this.stateBox,
      this.tabBar.root,
      this.overview,
      this.layersSection,
      [...this.viewSections.values()].map((v) => v.root),
    );
    replaceChildren(this.root, el("div", { class: "app" }, sidebar, this.main));

    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => this.resizeCharts(), 150);
    });
  }

  start() {
    this.render();
    this.refresh({ force: true });
    this.scheduleRefresh();
    connectToHost((type) => {
      if (type === DATA_RELOADED) {
        this.refresh({ force: false });
        this.scheduleRefresh();
      }
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

  // ---- data --------------------------------------------------------------------------------

  /** Re-reads the run list and the analysis of the shown, selected runs. */
  refresh({ force = false } = {}) {
    if (this.inFlight) {
      this.again = { force: force || Boolean(this.again && this.again.force) };
      return this.inFlight;
    }
    this.status.textContent = "Refreshing\u2026";
    this.reloadButton.disabled = true;
    this.inFlight = (async () => {
      try {
        const runs = await fetchRuns();
        this.runs = runs;
        this.colors = assignColors(runs.map((r) => r.run), this.colors);
        const names = new Set(runs.map((r) => r.run));
        for (const cache of [this.runData, this.runDataStep, this.runErrors]) {
          for (const key of [...cache.keys()]) if (!names.has(key)) cache.delete(key);
        }
        this.loadError = null;
        this.refreshError = null;
        // Draw the run list now and each analysis as it arrives (loadRuns schedules those
        // renders): on a big logdir the first run is ready long before the last.
        this.scheduleRender();
        await this.loadRuns(this.selectedRuns().map((r) => r.run), force);
        this.lastUpdated = new Date();
      } catch (err) {
        if (this.runs === null) this.loadError = err;
        else this.refreshError = err;
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

  /** Fetches the analysis of `names` (all when `force`, else those with new steps or none). */
  async loadRuns(names, force) {
    const byName = new Map((this.runs || []).map((r) => [r.run, r]));
    const todo = names.filter(
      (name) => force || !this.runData.has(name) || this.runDataStep.get(name) !== byName.get(name)?.last_step,
    );
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const name = todo[next++];
        try {
          const data = await fetchRun(name);
          this.runData.set(name, data);
          this.runDataStep.set(name, byName.get(name)?.last_step);
          this.runErrors.delete(name);
        } catch (err) {
          this.runErrors.set(name, err);
        }
        this.scheduleRender();
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, todo.length) }, worker));
  }

  // ---- selections --------------------------------------------------------------------------

  shownRuns() {
    if (!this.runs) return [];
    const matcher = compileFilter(this.runFilter.value);
    return groupRuns(this.runs.filter((r) => matcher.test(r.run))).flatMap((g) => g.runs);
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
    const missing = names.filter((n) => on && !this.runData.has(n));
    if (missing.length) this.loadRuns(missing, false).then(() => this.render());
  }

  // ---- rendering ---------------------------------------------------------------------------

  /**
   * Renders once within PROGRESS_RENDER_MS (or twice the last render's time, when that is
   * longer) however many times it is asked before then: runs arriving together cost one
   * render, not one each, and a slow page spends at most a third of its time re-rendering
   * while runs load. A direct render() supersedes it.
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

    if (this.runs === null) {
      replaceChildren(this.stateBox, this.loadError ? errorMessage(this.loadError, () => this.refresh({ force: true })) : loadingMessage());
      replaceChildren(this.runList);
      this.showSections(false);
      return;
    }
    if (this.runs.length === 0) {
      replaceChildren(this.stateBox, emptyMessage());
      replaceChildren(this.runList, el("p", { class: "muted small", text: "No runs with pruning data." }));
      replaceChildren(this.banners, this.refreshError ? banner("error", "Refreshing failed:", this.refreshError.message) : null);
      this.showSections(false);
      return;
    }

    const shown = this.shownRuns();
    renderRunList(this.runList, {
      runs: shown,
      colors: this.colors,
      isSelected: (name) => !this.deselected.has(name),
      errors: this.runErrors,
      highlighted: this.highlightedRun,
      onToggle: (name, on) => this.setSelected([name], on),
      onToggleMany: (names, on) => this.setSelected(names, on),
    });

    const selected = this.selectedRuns();
    const runDatas = selected
      .filter((r) => this.runData.has(r.run))
      .map((r) => ({ run: r.run, color: this.colors.get(r.run), data: this.runData.get(r.run), info: r }));

    const banners = [];
    const loading = [];
    if (this.refreshError) banners.push(banner("error", "Refreshing failed; showing the data read before.", this.refreshError.message));
    for (const r of selected) {
      const err = this.runErrors.get(r.run);
      if (err) banners.push(banner("error", `Run ${r.run} could not be loaded:`, err.message));
      else if (!this.runData.has(r.run)) loading.push(r.run);
    }
    // One banner for the runs still loading: one each would shift the charts at every arrival.
    if (loading.length === 1) banners.push(banner("info", `Loading run ${loading[0]}\u2026`));
    else if (loading.length > 1) banners.push(banner("info", "Loading runs\u2026", `${loading.length} of ${selected.length} to go`));
    if (shown.length === 0) banners.push(banner("info", "No run matches the run filter."));
    else if (selected.length === 0) banners.push(banner("info", "No run selected: tick a run on the left to draw it."));
    const withoutSchedule = runDatas.filter((r) => r.data.schedule_source === "none" || (r.data.model && r.data.model.expected === null));
    if (withoutSchedule.length) banners.push(noScheduleNote(withoutSchedule.map((r) => r.run)));
    replaceChildren(this.banners, banners);
    // Nothing to draw yet, runs on their way: the spinner (kept, so it does not restart).
    if (runDatas.length > 0 || loading.length === 0) replaceChildren(this.stateBox);
    else if (!this.stateBox.querySelector(".state-loading")) replaceChildren(this.stateBox, loadingMessage());

    this.showSections(runDatas.length > 0);
    this.renderViews(runDatas);
    if (runDatas.length === 0) {
      this.clearCharts();
      return;
    }
    this.renderModel(runDatas);
    this.renderDiagnosticsPanel(runDatas);
    this.renderLayers(runDatas);
  }

  renderStatus() {
    if (this.inFlight) return;
    const parts = [];
    if (this.lastUpdated) parts.push(`Updated ${this.lastUpdated.toLocaleTimeString()}`);
    if (this.refreshSeconds > 0) parts.push(`re-read every ${this.refreshSeconds} s`);
    this.status.textContent = parts.join(" \u00b7 ");
  }

  showSections(on) {
    const hasRuns = Boolean(this.runs && this.runs.length);
    this.tabBar.root.hidden = !hasRuns;
    this.overview.hidden = !on || this.tab !== "layers";
    this.layersSection.hidden = !on || this.tab !== "layers";
    for (const [id, v] of this.viewSections) v.root.hidden = !hasRuns || this.tab !== id;
  }

  // ---- the other views: quality vs sparsity, heatmap, table, what-if ------------------------

  buildViews() {
    this.tabBar = new TabBar(TABS, { active: this.tab, onSelect: (id) => this.selectTab(id) });
    const intro = {
      quality: "A metric of each selected run against whole-model sparsity: where quality starts to fall, and how runs compare at equal sparsity.",
      heatmap: "Every layer of one run at every logged step, coloured by its sparsity (or by how far it is from its schedule).",
      table: "Every layer of one run at one step. Click a point on any chart to pick the step; the default is the run's last step.",
      whatif: "Try a schedule before training with it: the curves tfmot would apply, over the run's measured curves.",
    };
    this.viewSections = new Map();
    for (const tab of TABS) {
      if (tab.id === "layers") continue;
      const parts = section(tab.id, tab.label, intro[tab.id]);
      parts.root.hidden = true;
      this.viewSections.set(tab.id, parts);
    }
    this.qualityView = new QualityView(this.viewSections.get("quality"), {
      onPick: (step, run) => this.pickStep(step, "the quality chart", run, true),
    });
    this.heatmapView = new HeatmapView(this.viewSections.get("heatmap"), {
      onPick: (step) => this.pickStep(step, "the heatmap", null, true),
    });
    this.tableView = new TableView(this.viewSections.get("table"), {
      onStep: (step) => this.pickStep(step, step === null ? null : "the step box"),
    });
    this.whatIfView = new WhatIfView(this.viewSections.get("whatif"), {
      onPick: (step) => this.pickStep(step, "the what-if chart", null, true),
    });
  }

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
    if (run) this.focusRun = run;
    this.tabBar.setNote("table", step === null ? "" : `· step ${step}`);
    const button = this.tabBar.buttons.get("table");
    button.classList.remove("flash");
    void button.offsetWidth; // restart the flash animation
    button.classList.add("flash");
    if (open && this.tab !== "table") this.selectTab("table");
    else if (this.tab === "table") this.render();
  }

  renderViews(runDatas) {
    if (this.tab === "layers" || !this.viewSections.has(this.tab)) return;
    const labels = runLabels(runDatas.map((r) => r.run));
    if (this.tab === "quality") {
      this.qualityView.update(runDatas.map((r) => ({ ...r, label: labels.get(r.run) })));
      return;
    }
    const names = runDatas.map((r) => r.run);
    if (!names.includes(this.focusRun)) this.focusRun = names.length ? names[0] : null;
    const focus = runDatas.find((r) => r.run === this.focusRun) || null;
    const view = { heatmap: this.heatmapView, table: this.tableView, whatif: this.whatIfView }[this.tab];
    if (focus) {
      runPicker(view.runPickerContainer, {
        runs: names,
        current: this.focusRun,
        colors: this.colors,
        onChange: (run) => {
          this.focusRun = run;
          this.render();
        },
      });
    } else replaceChildren(view.runPickerContainer);
    if (this.tab === "table") {
      view.update({ run: focus ? focus.run : null, step: this.pickedStep, lastStep: focus ? focus.info.last_step : null, pickedFrom: this.pickedFrom });
    } else view.update(focus ? focus.data : null);
  }

  clearCharts() {
    for (const [key, card] of this.cards) {
      this.zooms.set(key, card.chart.zoom);
      card.destroy();
    }
    this.cards.clear();
    if (this.modelCard) {
      this.zooms.set("\u0000model", this.modelCard.chart.zoom);
      this.modelCard.destroy();
      this.modelCard = null;
    }
  }

  renderModel(runDatas) {
    let fresh = false;
    if (!this.modelCard) {
      this.modelCard = new ChartCard({ id: "\u0000model", className: "model-card", height: 190, onPick: (step) => this.pickStep(step, "the whole-model chart") });
      this.modelCard.root.id = "model-card";
      fresh = true;
    }
    const labels = runLabels(runDatas.map((r) => r.run));
    const weighting = weightingText(runDatas, labels);
    const header = [
      el(
        "div",
        { class: "card-title" },
        el("h2", { text: "Whole model" }),
        weighting ? el("span", { class: "weighting", text: `sparsity of all pruned weights, ${weighting}` }) : null,
      ),
    ];
    this.modelCard.update(
      {
        header,
        entries: runDatas.map((r) => ({
          run: r.run,
          label: labels.get(r.run),
          color: r.color,
          measured: r.data.model ? r.data.model.measured : null,
          expected: r.data.model ? r.data.model.expected : null,
          target: null,
          finalTarget: r.data.model ? r.data.model.target_sparsity : null,
          tooltip: r.run,
        })),
      },
      fresh ? this.zooms.get("\u0000model") ?? null : undefined,
    );
    if (!this.modelCard.root.isConnected) {
      this.modelBox.appendChild(this.modelCard.root);
      this.modelCard.attached();
    }
  }

  renderDiagnosticsPanel(runDatas) {
    const items = collectDiagnostics(runDatas);
    renderDiagnostics(this.diagnosticsBox, {
      items,
      activeId: this.activeDiagnostic,
      onSelect: (item) => this.selectDiagnostic(item),
    });
  }

  renderLayers(runDatas) {
    const layerFilter = compileFilter(this.layerFilter.value);
    this.layerFilter.classList.toggle("invalid", !layerFilter.valid);
    this.layerFilterError.textContent = layerFilter.error || "";
    const all = lineUpLayers(runDatas);
    const rows = sortLayerRows(filterLayerRows(all, layerFilter), this.sortSelect.value);
    const keep = new Set(rows.map((r) => r.key));
    for (const [key, card] of [...this.cards]) {
      if (!keep.has(key)) {
        this.zooms.set(key, card.chart.zoom);
        card.destroy();
        this.cards.delete(key);
      }
    }
    const multi = runDatas.length > 1;
    const labels = runLabels(runDatas.map((r) => r.run));
    const dataOf = new Map(runDatas.map((r) => [r.run, r.data]));
    replaceChildren(
      this.layersHeading,
      el("h2", { text: rows.length === all.length ? `Layers (${all.length})` : `Layers (${rows.length} of ${all.length} shown)` }),
      el(
        "span",
        { class: "legend-inline small" },
        el("span", { class: "key-line key-measured" }),
        "measured ",
        el("span", { class: "key-line key-expected" }),
        "expected ",
        el("span", { class: "key-line key-target" }),
        "target",
      ),
    );
    if (rows.length === 0) {
      replaceChildren(this.layerGrid, el("p", { class: "muted", text: all.length ? "No layer matches the layer filter." : "The selected runs log no pruned layer." }));
      return;
    }
    const empty = this.layerGrid.querySelector(":scope > p");
    if (empty) empty.remove();

    rows.forEach((row, index) => {
      let card = this.cards.get(row.key);
      const fresh = !card;
      if (fresh) {
        card = new ChartCard({ id: row.key, className: "layer-card", onPick: (step) => this.pickStep(step, `the chart of ${row.key}`) });
        this.cards.set(row.key, card);
      }
      card.root.classList.toggle("highlight", this.activeDiagnostic !== null && this.activeLayer === row.key);
      const badges = [];
      for (const entry of row.entries) {
        for (const b of layerBadges(dataOf.get(entry.run), row.key)) {
          badges.push(badge({ ...b, message: `${entry.run}: ${b.message}`, color: multi ? entry.color : null }));
        }
      }
      const params = row.params.length ? `${row.params.map(formatCompactCount).join(" / ")} weights` : "weight count not logged";
      const single = row.names.length === 1;
      const header = [
        el(
          "div",
          { class: "card-title" },
          el("h3", { class: "layer-name", text: single ? row.names[0] : row.key, attrs: { title: `${row.names.join(", ")} (key ${row.key})` } }),
          el("span", {
            class: "layer-facts",
            text: `${single ? (row.key !== row.names[0] ? `${row.key} \u00b7 ` : "") : `${row.names.join(", ")} \u00b7 `}${params}`,
            attrs: { title: `${row.names.join(", ")}: ${row.params.map(formatCount).join(" / ") || "?"} weights` },
          }),
        ),
        badges.length ? el("div", { class: "badges" }, badges) : null,
      ];
      const footer = row.entries.map((entry) =>
        el(
          "div",
          { class: "schedule-line" },
          multi ? swatch(entry.color, "swatch swatch-small") : null,
          el("span", { class: "schedule-text", text: scheduleLine(entry.layer) }),
        ),
      );
      card.update(
        {
          header,
          footer,
          entries: row.entries.map((entry) => ({
            run: entry.run,
            label: labels.get(entry.run),
            color: entry.color,
            finalTarget: entry.layer.target_sparsity,
            measured: entry.layer.measured,
            expected: entry.layer.expected || null,
            target: entry.layer.target || null,
            tooltip: `${entry.run}: ${scheduleLine(entry.layer)}${Number.isFinite(entry.layer.target_sparsity) ? `; final target ${formatPercent(entry.layer.target_sparsity)}` : ""}`,
          })),
        },
        fresh ? this.zooms.get(row.key) ?? null : undefined,
      );
      const at = this.layerGrid.children[index];
      if (at !== card.root) this.layerGrid.insertBefore(card.root, at || null);
      if (fresh) card.attached();
    });
  }

  resizeCharts() {
    if (this.tab !== "layers") {
      const view = { quality: this.qualityView, heatmap: this.heatmapView, whatif: this.whatIfView }[this.tab];
      if (view) view.resize();
      return;
    }
    if (this.modelCard) this.modelCard.resize();
    for (const card of this.cards.values()) card.resize();
  }

  // ---- diagnostics navigation --------------------------------------------------------------

  selectDiagnostic(item) {
    this.activeDiagnostic = diagnosticId(item);
    this.activeLayer = item.layer;
    this.highlightedRun = item.layer === null ? item.run : null;
    if (item.layer !== null && !this.cards.has(item.layer) && this.layerFilter.value) {
      this.layerFilter.value = ""; // the layer was filtered out: show it
    }
    this.render();
    const target = item.layer === null ? this.modelCard && this.modelCard.root : this.cards.get(item.layer)?.root;
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
