"""`tb-sparsity inspect`'s output: an aligned table, Markdown or JSON of the checkpoint
documents (the JSON is the documents themselves, the contract tests and tools rely on)."""

import json

from tb_sparsity_plugin import words
from tb_sparsity_plugin.checkpoints import inspection


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


def _diagnostic_line(d):
    return "%-7s %s%s: %s" % (d["severity"], d["code"],
                              " (%s)" % d["layer"] if d.get("layer") else "", d["message"])


def format_table(docs):
    out = []
    for doc in docs:
        header, rows = _rows(doc)
        widths = [max(len(c) for c in col) for col in zip(header, *rows)]
        numeric = [False, False, False] + [True] * 5

        def line(cells):
            return "  " + "  ".join(c.rjust(w) if num else c.ljust(w)
                                    for c, w, num in zip(cells, widths, numeric)).rstrip()

        out.append(heading(doc))
        out.append(line(header))
        out.append("  " + "  ".join("-" * w for w in widths))
        out.extend(line(r) for r in rows)
        if doc["diagnostics"]:
            out.append("  diagnostics:")
            out.extend("    " + _diagnostic_line(d) for d in doc["diagnostics"])
        else:
            out.append("  diagnostics: none")
        out.append("")
    return "\n".join(out)


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_markdown(docs):
    out = []
    for doc in docs:
        header, rows = _rows(doc)
        out.append("### %s" % _md(doc["path"]))
        out.append("")
        out.append(_md(heading(doc)[len(doc["path"]):].strip()))
        out.append("")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|")
        out.extend("| " + " | ".join(_md(c) for c in r) + " |" for r in rows)
        out.append("")
        for d in doc["diagnostics"]:
            out.append("- **%s** `%s`%s: %s" % (d["severity"], d["code"],
                                               " (`%s`)" % d["layer"] if d.get("layer") else "",
                                               _md(d["message"])))
        if doc["diagnostics"]:
            out.append("")
    return "\n".join(out)


def format_json(docs):
    return json.dumps({"checkpoints": docs}, indent=1, allow_nan=False) + "\n"


FORMATTERS = {"table": format_table, "markdown": format_markdown, "json": format_json}
