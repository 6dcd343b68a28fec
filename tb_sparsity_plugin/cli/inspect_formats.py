"""`tb-sparsity inspect`'s output: an aligned table, Markdown or JSON of the checkpoint
documents (the JSON is the documents themselves, the contract tests and tools rely on)."""

import json

from tb_sparsity_plugin import words
from tb_sparsity_plugin.checkpoints import inspection
from tb_sparsity_plugin.cli import report


def _nm(layer):
    return "%d:%d" % tuple(layer["n_m"])


def _rows(doc):
    nm = _nm(doc["layers"][0]) if doc["layers"] else "N:M"
    header = ["layer", "shape", "dtype", "weights", "sparsity", "%s groups ok" % nm,
              "zero rows", "declared"]
    model = doc.get("model") or inspection.model_figures(doc["layers"])
    rows = [[words.MODEL_NAME, "", "", str(model["params"]), words.pct(model["sparsity"], 2),
             "", "", ""]]
    for layer in doc["layers"]:
        if layer.get("unsupported"):
            rows.append([layer["name"], "x".join(map(str, layer["shape"])), layer["dtype"],
                         str(layer["params"]), "not counted", "", "", ""])
            continue
        declared = layer.get("declared_sparsity")
        structure = layer.get("declared_structure")
        text = "" if declared is None else words.pct(declared, 1)
        if structure:
            text = ("%s %s" % (text, "%s:%s" % tuple(structure)
                               if isinstance(structure, (list, tuple)) else structure)).strip()
        if layer.get("ignored"):
            text = "ignored"
        rows.append([layer["name"], "x".join(map(str, layer["shape"])), layer["dtype"],
                     str(layer["params"]), words.pct(layer["sparsity"], 2),
                     words.pct(layer["n_m_compliance"], 1),
                     "%d/%d" % (layer["zero_rows"], layer["rows"]), text])
    return header, rows


def heading(doc):
    parts = [doc.get("format") or "checkpoint"]
    if doc.get("step") is not None:
        parts.insert(0, "step %d" % doc["step"])
    declared = doc.get("declared")
    parts.append("declared in %s" % declared.get("source", "?") if declared
                 else "nothing declared")
    return "%s  (%s)" % (doc["path"], ", ".join(parts))


NUMERIC = [False, False, False] + [True] * 5  # layer, shape, dtype; then figures


def _table_lines(doc):
    header, rows = _rows(doc)
    return ([heading(doc)] + report.aligned_table(header, rows, NUMERIC)
            + report.diagnostics_block(doc["diagnostics"], "none") + [""])


def _markdown_lines(doc):
    header, rows = _rows(doc)
    diagnostics = [report.diagnostic_item(d) for d in doc["diagnostics"]]
    return (report.markdown_section(doc["path"], heading(doc)[len(doc["path"]):].strip(),
                                    header, rows, NUMERIC)
            + diagnostics + ([""] if diagnostics else []))


def format_table(docs):
    return report.joined(docs, _table_lines)


def format_markdown(docs):
    return report.joined(docs, _markdown_lines)


def format_json(docs):
    return json.dumps({"checkpoints": docs}, indent=1, allow_nan=False) + "\n"


FORMATTERS = {"table": format_table, "markdown": format_markdown, "json": format_json}
