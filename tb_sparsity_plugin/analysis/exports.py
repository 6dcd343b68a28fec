"""CSV writers shared by the command line (`tb-sparsity report/export`) and the plugin's
`table` and `export` routes, so a file downloaded from the dashboard and one written by the
CLI hold the same bytes for the same data.

Pure functions over the documents of run_document.py; no HTTP, no TensorBoard.
"""

import csv
import io
import json

from tb_sparsity_plugin.words import MODEL_KEY, MODEL_NAME

# Per-layer series of the run document: the report drops them, export writes them.
LAYER_SERIES = ("measured", "expected", "target", "threshold", "weight_zeros", "n_m_compliance")
MODEL_SERIES = ("measured", "expected")

# Columns of the per-layer state at one step (analysis.state_at rows plus the run).
STATE_CSV_FIELDS = ["run", "key", "name", "params", "step", "measured", "expected", "target",
                    "deviation", "threshold", "n_m_compliance"]
EXPORT_CSV_FIELDS = ["run", "key", "name", "series", "step", "value"]


def csv_value(value):
    """A cell: "" for None, repr() for floats (round-trips exactly), JSON for containers."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def format_state_csv(states):
    """CSV of per-layer states: `states` is [(run, analysis.state_at rows)], header first."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=STATE_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for run, rows in states:
        for row in rows:
            writer.writerow({k: csv_value(v) for k, v in dict(row, run=run).items()
                             if k in STATE_CSV_FIELDS})
    return buf.getvalue()


def export_rows(run_doc):
    """Long format: (run, key, name, series, step, value), the whole model first."""
    run = run_doc["run"]
    model = run_doc["model"]
    for series in MODEL_SERIES:
        for step, value in model.get(series) or []:
            yield run, MODEL_KEY, MODEL_NAME, series, step, value
    for layer in run_doc["layers"]:
        for series in LAYER_SERIES:
            for step, value in layer.get(series) or []:
                yield run, layer["key"], layer["name"], series, step, value


def format_export_csv(run_doc):
    """The full series of one run (analysis.analyze_run document) in long format."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_CSV_FIELDS)
    for run, key, name, series, step, value in export_rows(run_doc):
        writer.writerow([run, key, name, series, step, repr(float(value))])
    return buf.getvalue()
