// The per-layer table of one run at one step (the backend's `table` route), sortable, the whole
// model on top, with links to the same table as CSV and to the run's full series.
import { exportUrl, tableCsvUrl } from "../data.js";
import { formatCell, sortTableRows, tableColumns, withSchedules } from "../view_models/table.js";
import { MODEL_KEY } from "../view_models/format.js";
import { el, replaceChildren } from "./dom.js";

export class TableView {
  /**
   * @param {{controls: HTMLElement, body: HTMLElement}} parts
   * @param {{onStep: (step: number|null) => void, store: import("../store.js").Store}} options
   */
  constructor({ controls, body }, { onStep = () => {}, store }) {
    this.store = store; // fetches and caches the tables
    this.onStep = onStep;
    this.sort = { column: null, descending: false };
    this.runPickerBox = el("div", { class: "control" });
    this.stepInput = el("input", {
      class: "step-input",
      attrs: { type: "number", min: "0", step: "1", "aria-label": "step", placeholder: "last" },
      on: { change: () => this.onStep(this.stepInput.value.trim() === "" ? null : Math.max(0, Math.floor(Number(this.stepInput.value)))) },
    });
    this.lastButton = el("button", { class: "button", attrs: { type: "button", title: "the table at the run's last step" }, text: "Last step", on: { click: () => this.onStep(null) } });
    this.csvLink = el("a", { class: "button download-csv", text: "Download CSV" });
    this.seriesCsv = el("a", { class: "series-csv", text: "CSV" });
    this.seriesJson = el("a", { class: "series-json", text: "JSON" });
    replaceChildren(
      controls,
      this.runPickerBox,
      el("label", { class: "control" }, el("span", { text: "Step " }), this.stepInput),
      this.lastButton,
      this.csvLink,
      el("span", { class: "control small" }, "Full series of the run: ", this.seriesCsv, " \u00b7 ", this.seriesJson),
    );
    this.heading = el("p", { class: "table-heading" });
    this.message = el("div", { class: "view-message" });
    this.tableBox = el("div", { class: "table-box" });
    replaceChildren(body, this.heading, this.message, this.tableBox);
    this.props = null;
  }

  get runPickerContainer() {
    return this.runPickerBox;
  }

  /** @param {{run: string|null, step: number|null, pickedFrom: string|null, layers?: object[]|null}} props
   *  layers: the run document's (for each layer's schedule in full) */
  update(props) {
    this.props = props;
    const { run, step } = props;
    if (!run) {
      replaceChildren(this.message, el("p", { class: "view-message-text", text: "Select a run on the left to see its per-layer table." }));
      replaceChildren(this.tableBox);
      this.heading.textContent = "";
      return;
    }
    if (document.activeElement !== this.stepInput) this.stepInput.value = step === null ? "" : String(step);
    const fileName = (s) => `${run.replace(/[^A-Za-z0-9._-]+/g, "_")}${s}`;
    this.csvLink.href = tableCsvUrl(run, step);
    this.csvLink.setAttribute("download", fileName(step === null ? "_last.csv" : `_step${step}.csv`));
    this.seriesCsv.href = exportUrl(run, "csv");
    this.seriesCsv.setAttribute("download", fileName("_series.csv"));
    this.seriesJson.href = exportUrl(run, "json");
    this.seriesJson.setAttribute("download", fileName("_series.json"));
    const got = this.store.table(run, step);
    if (got.error) {
      replaceChildren(this.message, el("p", { class: "view-message-text error-text", text: got.error.message }));
      replaceChildren(this.tableBox);
      return;
    }
    if (!got.value) {
      replaceChildren(this.message, el("p", { class: "muted", text: "Loading the table\u2026" }));
      return;
    }
    const doc = got.value;
    this.heading.textContent = `${run} at step ${doc.step} (${step === null ? "the run's last step" : props.pickedFrom ? `picked on ${props.pickedFrom}` : "chosen step"}): values held at that step, i.e. each series' last record at or before it.`;
    const layers = doc.rows.filter((r) => r.key !== MODEL_KEY);
    const messages = [];
    if (!layers.length) messages.push(`Run ${run} logs no pruned layer.`);
    else if (layers.every((r) => r.measured === null)) messages.push(`Run ${run} has no record at or before step ${doc.step}: pick a later step.`);
    if (layers.length && layers.every((r) => r.expected === null)) messages.push(`Run ${run} has no schedule on record: the expected, target and deviation columns are empty.`);
    replaceChildren(this.message, messages.map((text) => el("p", { class: "view-message-text", text })));
    this.renderTable(withSchedules(doc.rows, props.layers));
  }

  renderTable(rows) {
    const sorted = sortTableRows(rows, this.sort.column, this.sort.descending);
    const columns = tableColumns(rows);
    const head = el(
      "tr",
      {},
      columns.map((c) => {
        const active = this.sort.column === c.id;
        const arrow = active ? (this.sort.descending ? " \u25BC" : " \u25B2") : "";
        return el(
          "th",
          { class: c.kind === "text" ? "text" : "num", attrs: { "aria-sort": active ? (this.sort.descending ? "descending" : "ascending") : "none" }, dataset: { column: c.id } },
          el("button", { class: "sort-button", attrs: { type: "button", title: `sort by ${c.label}` }, text: `${c.label}${arrow}`, on: { click: () => this.sortBy(c.id) } }),
        );
      }),
    );
    const body = sorted.map((r) =>
      el(
        "tr",
        { class: r.key === MODEL_KEY ? "model-row" : "", dataset: { key: r.key } },
        columns.map((c) => {
          const text = formatCell(r[c.id], c.kind);
          const cls = [c.kind === "text" ? "text" : "num"];
          if (c.id === "deviation" && Number.isFinite(r.deviation) && Math.abs(r.deviation) >= 0.005) cls.push(r.deviation < 0 ? "diff-neg" : "diff-pos");
          const cell = el("td", { class: cls.join(" "), text, dataset: { column: c.id } });
          if (c.id === "name") cell.title = r.label && r.label !== r.key ? `${r.name} (${r.label}; key ${r.key})` : `${r.name} (key ${r.key})`;
          if (c.id === "schedule") cell.classList.add("schedule-cell");
          return cell;
        }),
      ),
    );
    replaceChildren(this.tableBox, el("table", { class: "layer-table" }, el("thead", {}, head), el("tbody", {}, body)));
  }

  sortBy(column) {
    if (this.sort.column === column) {
      if (!this.sort.descending) this.sort.descending = true;
      else this.sort = { column: null, descending: false }; // third click: model order
    } else this.sort = { column, descending: column !== "name" };
    if (this.props) this.update(this.props);
  }
}
