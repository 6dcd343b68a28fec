"""The `tb-sparsity report` formats: table, markdown, CSV and JSON of analysed runs.

Pure functions over the run documents of run_document.py (`summary_doc` drops their long
series); the words (percentages, schedule text, weighting label) come from words.py and the
run document, so the report says what the dashboard says.
"""

import csv
import io
import json

from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin import words
from tb_sparsity_plugin.analysis.exports import LAYER_SERIES, MODEL_KEY, MODEL_SERIES
from tb_sparsity_plugin.analysis.exports import csv_value
from tb_sparsity_plugin.analysis.exports import format_state_csv

REPORT_CSV_FIELDS = ["run", "key", "name", "tag", "params", "schedule", "final_step",
                     "final_sparsity", "expected_final_sparsity", "target_sparsity",
                     "max_abs_deviation", "weighting", "errors", "warnings", "schedule_text",
                     "weighting_label", "nm", "final_n_m_compliance"]


def summary_doc(run_doc, step=None):
    """The report's JSON for one run: the run document without its long series."""
    out = {k: v for k, v in run_doc.items() if k not in ("layers", "model", "diagnostics", "series")}
    out["model"] = {k: v for k, v in run_doc["model"].items() if k not in MODEL_SERIES}
    out["layers"] = [{k: v for k, v in layer.items() if k not in LAYER_SERIES}
                     for layer in run_doc["layers"]]
    out["diagnostics"] = run_doc["diagnostics"]
    if step is not None:
        out["step"] = step
        out["state"] = run_document.state_at(run_doc, step)
    return out


def _int(value):
    return "n/a" if value is None else str(value)


def _nm_header(layers):
    """The N:M compliance column's title ("2:4 groups ok") when a layer logs it, else None."""
    patterns = sorted({tuple(l["nm"]) for l in layers if l.get("nm")})
    if not patterns:
        return None
    return "%s groups ok" % ("/".join("%d:%d" % p for p in patterns))


def layer_rows(summary):
    """(header, rows) of the per-layer table of one run (the whole model first)."""
    pct = words.pct
    nm = _nm_header(summary["layers"])
    if "state" in summary:
        header = ["layer", "key", "weights", "step", "measured", "expected", "target",
                  "deviation", "threshold"] + ([nm] if nm else [])
        rows = [[r["name"], r["key"], _int(r["params"]), _int(r["step"]), pct(r["measured"]),
                 pct(r["expected"]), pct(r["target"]), words.points(r["deviation"]),
                 "n/a" if r["threshold"] is None else "%.4g" % r["threshold"]]
                + ([pct(r.get("n_m_compliance"))] if nm else [])
                for r in summary["state"]]
        return header, rows
    header = ["layer", "key", "weights", "schedule", "final step", "measured", "expected",
              "target", "max deviation"] + ([nm] if nm else [])
    model = summary["model"]
    params = [layer["params"] for layer in summary["layers"]]
    rows = [[words.model_name(model["weighting"]), MODEL_KEY,
             _int(sum(params)) if params and all(params) else "n/a", "", _int(summary["last_step"]),
             pct(model["final_sparsity"]), "", pct(model["target_sparsity"]), ""]
            + ([""] if nm else [])]
    for layer in summary["layers"]:
        rows.append([layer["name"], layer["key"], _int(layer["params"]), layer["schedule_text"],
                     _int(layer["final_step"]), pct(layer["final_sparsity"]),
                     pct(layer["expected_final_sparsity"]), pct(layer["target_sparsity"]),
                     pct(layer["max_abs_deviation"], 2)]
                    + ([pct(layer.get("final_n_m_compliance"))] if nm else []))
    return header, rows


def _count(n, noun):
    return "%d %s%s" % (n, noun, "" if n == 1 else "s")


# Layers a "not compared" line names before it counts the rest.
NAMED_LAYERS = 6


def comparison(summary):
    """What a run's diagnostics rest on, in words: (what to say when there are none, one line
    per reason some layers have no expected curve). "None" never claims that every layer
    follows its schedule unless every layer has one (the run document's `expected_missing`)."""
    layers = summary["layers"]
    why = {}
    for layer in layers:
        missing = layer.get("expected_missing")
        if missing:
            why.setdefault(missing["why"], []).append(layer["name"])
    lines = []
    for reason, names in why.items():
        shown = ", ".join(names[:NAMED_LAYERS])
        if len(names) > NAMED_LAYERS:
            shown += " and %d more" % (len(names) - NAMED_LAYERS)
        lines.append("%s (%s)" % (shown, reason))
    left = sum(len(names) for names in why.values())
    if not layers:
        headline = "none (no pruned layer logged)"
    elif not left:
        headline = ("none (the layer has an expected curve and follows its schedule)"
                    if len(layers) == 1 else "none (all %d layers have an expected curve, "
                    "each follows its schedule)" % len(layers))
    elif left == len(layers):
        headline = "none, but nothing was compared: no layer has an expected curve"
    else:
        headline = "none for the %s compared with an expected curve; %d not compared" % (
            _count(len(layers) - left, "layer"), left)
    return headline, lines


def _run_heading(summary):
    parts = ["schedule from %s" % summary["schedule_source"],
             "last record at step %s" % summary["last_step"]]
    if summary.get("training"):
        parts.insert(0, "training %d of %d in this directory" % (
            summary["training"]["index"], summary["training"]["count"]))
    if summary.get("training_last_step") is not None:
        parts.append("training ran to step %s" % summary["training_last_step"])
    return "%s  (%s)" % (summary["run"], ", ".join(parts))


# -- the tables both reports share (this one and `inspect`'s: inspect_formats.py) ---------


def aligned_table(header, rows, numeric):
    """Lines of a plain-text table, indented: the header, a rule, the rows; columns whose
    `numeric` is true are right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        return "  " + "  ".join((str(c).rjust(w) if num else str(c).ljust(w))
                                for c, w, num in zip(cells, widths, numeric)).rstrip()

    return [line(header), "  " + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def markdown_table(header, rows, numeric):
    """Lines of a Markdown table; `numeric` columns right-aligned."""
    return (["| " + " | ".join(md_cell(c) for c in header) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
            + ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows])


def markdown_section(title, subtitle, header, rows, numeric):
    """Lines of a Markdown section: `### title`, the subtitle, the table, a blank line."""
    return (["### %s" % md_cell(title), "", md_cell(subtitle), ""]
            + markdown_table(header, rows, numeric) + [""])


def diagnostic_line(d):
    """A diagnostic in one line of text: "warning code (layer): message"."""
    return "%-7s %s%s: %s" % (d["severity"], d["code"],
                              " (%s)" % d["layer"] if d.get("layer") else "", d["message"])


def joined(items, lines_of):
    """The lines `lines_of(item)` makes of every item, as one text."""
    return "\n".join(line for item in items for line in lines_of(item))


def diagnostics_block(diagnostics, none_text):
    """The plain-text table's diagnostics: one line each, or `none_text` when there are none."""
    if not diagnostics:
        return ["  diagnostics: %s" % none_text]
    return ["  diagnostics:"] + ["    " + diagnostic_line(d) for d in diagnostics]


def diagnostic_item(d):
    """A diagnostic as a Markdown list item."""
    return "- **%s** `%s`%s: %s" % (d["severity"], d["code"],
                                   " (`%s`)" % d["layer"] if d.get("layer") else "",
                                   md_cell(d["message"]))


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _numeric_columns(summary, header):
    numeric = [i >= 2 for i in range(len(header))]
    numeric[3] = "state" in summary  # the schedule column is text
    return numeric


def format_table(summaries):
    out = []
    for summary in summaries:
        header, rows = layer_rows(summary)
        out.append(_run_heading(summary))
        out.extend(aligned_table(header, rows, _numeric_columns(summary, header)))
        headline, missing = comparison(summary)
        out.extend(diagnostics_block(summary["diagnostics"], headline))
        out.extend("    not compared: %s" % line for line in missing)
        out.append("")
    return "\n".join(out)


def format_markdown(summaries):
    out = []
    for summary in summaries:
        header, rows = layer_rows(summary)
        out.extend(markdown_section(summary["run"],
                                    _run_heading(summary)[len(summary["run"]):].strip(),
                                    header, rows, _numeric_columns(summary, header)))
        headline, missing = comparison(summary)
        out.extend(diagnostic_item(d) for d in summary["diagnostics"])
        if not summary["diagnostics"]:
            out.append("- diagnostics: %s" % md_cell(headline))
        out.extend("- not compared: %s" % md_cell(line) for line in missing)
        out.append("")
    return "\n".join(out)


def format_csv(summaries):
    if any("state" in s for s in summaries):  # the same CSV as the plugin's `table` route
        return format_state_csv([(s["run"], s["state"]) for s in summaries])
    buf = io.StringIO()
    fields = REPORT_CSV_FIELDS
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for summary in summaries:
        counts = {}
        for d in summary["diagnostics"]:
            counts[(d["layer"], d["severity"])] = counts.get((d["layer"], d["severity"]), 0) + 1
        model = summary["model"]
        params = [layer["params"] for layer in summary["layers"]]
        writer.writerow({
            "run": summary["run"], "key": MODEL_KEY, "name": words.model_name(model["weighting"]),
            "params": csv_value(sum(params) if params and all(params) else None),
            "final_step": summary["last_step"],
            "final_sparsity": csv_value(model["final_sparsity"]),
            "target_sparsity": csv_value(model["target_sparsity"]),
            "weighting": model["weighting"],
            "weighting_label": model["weighting_label"],
            "errors": counts.get((None, "error"), 0),
            "warnings": counts.get((None, "warning"), 0),
        })
        for layer in summary["layers"]:
            row = {k: csv_value(layer.get(k)) for k in fields if k in layer}
            row.update(run=summary["run"], schedule=csv_value(layer["schedule"]),
                       errors=counts.get((layer["key"], "error"), 0),
                       warnings=counts.get((layer["key"], "warning"), 0))
            writer.writerow(row)
    return buf.getvalue()


def format_json(summaries):
    return json.dumps({"runs": summaries}, indent=1, allow_nan=False) + "\n"


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv,
              "markdown": format_markdown}
