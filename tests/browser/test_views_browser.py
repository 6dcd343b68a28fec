"""The Quality, Heatmap, Table and What-if views in a real headless Chromium against a real
`tensorboard` process on real tfmot logs (and a synthetic 300-layer run for the heatmap).

Same setup as tests/browser/test_dashboard_browser.py (Debian's chromium driven by Playwright for
Python; a missing browser fails). Every test ends with no console error and no CSP violation.
"""

import csv
import io
import json
import os

import pytest

from conftest import NO_TENSORFLOW, TensorBoardProcess
from test_dashboard_browser import (  # noqa: F401  (page, tb: fixtures)
    TIMEOUT_MS,
    assert_clean,
    backend_json,
    card,
    open_dashboard,
    page,
    tb,
)

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]


def open_tab(frame, tab):
    frame.click('.tab[data-tab="%s"]' % tab)
    frame.wait_for_selector('.view-%s:not([hidden])' % tab, timeout=TIMEOUT_MS)


def pick_run(frame, tab, run):
    frame.wait_for_selector(".view-%s .run-picker" % tab, timeout=TIMEOUT_MS)
    frame.select_option(".view-%s .run-picker" % tab, run)


def pct(value, digits=1):
    return "%.*f%%" % (digits, 100.0 * value)


def backend_text(tb, route, **params):
    import urllib.parse

    return tb.get("/data/plugin/sparsity/%s?%s" % (route, urllib.parse.urlencode(params)))[1].decode()


# -- quality vs sparsity --------------------------------------------------------------------------


def test_quality_view_marks_where_accuracy_first_falls(tb, page):
    frame = open_dashboard(page, tb.url)
    open_tab(frame, "quality")
    runs = [r["run"] for r in tb.runs]
    with_metrics = [r for r in runs if backend_json(tb, "metrics", run=r)["metrics"]]
    without = sorted(set(runs) - set(with_metrics))
    assert without == ["callback_only/metrics"]
    frame.wait_for_function(
        "(n) => { const c = document.querySelector('.view-quality .xy-canvas');"
        " return c && Number(c.dataset.lines) === n; }", arg=len(with_metrics), timeout=TIMEOUT_MS)
    metric = frame.eval_on_selector(".metric-picker", "s => s.value")
    assert metric == "validation/evaluation_accuracy_vs_iterations"
    # Each run's first drop, as the backend computes it, in the summary table.
    for run in with_metrics:
        doc = backend_json(tb, "quality", run=run, metric=metric)
        row = frame.evaluate(
            "(run) => [...document.querySelectorAll('.quality-summary tbody tr')]"
            ".find(tr => tr.dataset.run === run).innerText", run)
        if doc["first_drop"]:
            assert "at %s sparsity (step %d)" % (pct(doc["first_drop"]["sparsity"]),
                                                  doc["first_drop"]["step"]) in row
        else:
            assert "never fell below its best by more than 1 pt" in row
        assert doc["alignment"]["text"] in row
    # The run without a metric says why, in a sentence.
    lacking = frame.evaluate(
        "() => [...document.querySelectorAll('.quality-summary tr.lacking')]"
        ".map(tr => [tr.dataset.run, tr.innerText])")
    assert [r for r, _ in lacking] == without
    assert "no other run with scalars" in lacking[0][1]
    points = int(frame.get_attribute(".view-quality .xy-canvas", "data-points"))
    assert points == sum(len(backend_json(tb, "quality", run=r, metric=metric)["points"])
                         for r in with_metrics)

    # An epoch-indexed metric states its alignment; a huge tolerance finds no drop.
    frame.select_option(".metric-picker", "train/epoch_loss")
    frame.wait_for_function(
        "() => [...document.querySelectorAll('.quality-summary td.alignment')]"
        ".some(td => td.textContent.includes('steps per epoch'))", timeout=TIMEOUT_MS)
    assert frame.input_value(".tolerance") == "0.01"
    frame.fill(".tolerance", "1000")
    frame.dispatch_event(".tolerance", "change")
    frame.wait_for_function(
        "() => { const tds = [...document.querySelectorAll('.quality-summary td.first-drop')];"
        " return tds.length && tds.every(td => td.textContent.startsWith('never rose above')); }",
        timeout=TIMEOUT_MS)
    assert_clean(page)


def test_quality_point_hover_and_click_opens_the_table_at_its_step(tb, page):
    frame = open_dashboard(page, tb.url)
    frame.evaluate("() => { const i = document.querySelector('.sidebar input.filter');"
                   " i.value = '^trap/'; i.dispatchEvent(new Event('input')); }")
    open_tab(frame, "quality")
    frame.wait_for_selector(".view-quality .xy-canvas[data-lines='1']", timeout=TIMEOUT_MS)
    doc = backend_json(tb, "quality", run="trap/metrics",
                       metric="validation/evaluation_accuracy_vs_iterations")
    step, sparsity, _ = doc["points"][-2]
    canvas = frame.query_selector(".view-quality .xy-canvas")
    box = canvas.bounding_box()
    # Scan the plot area for the point (the hover says which point is under the mouse).
    found = None
    for fx in [i / 60 for i in range(61)]:
        for fy in [i / 30 for i in range(31)]:
            page.mouse.move(box["x"] + 58 + fx * (box["width"] - 74),
                            box["y"] + 14 + fy * (box["height"] - 54))
            text = frame.evaluate("() => { const t = document.querySelector('.view-quality .chart-tooltip');"
                                  " return t.hidden ? '' : t.textContent; }")
            if ("step %d " % step) in text:
                found = text
                break
        if found:
            break
    assert found, "no hover found the point of step %d" % step
    assert pct(sparsity) in found
    page.mouse.down()
    page.mouse.up()
    frame.wait_for_selector(".view-table:not([hidden])", timeout=TIMEOUT_MS)
    frame.wait_for_function(
        "(s) => document.querySelector('.table-heading').textContent.includes('at step ' + s)",
        arg=step, timeout=TIMEOUT_MS)
    assert "picked on the quality chart" in frame.inner_text(".table-heading")
    assert "step %d" % step in frame.inner_text('.tab[data-tab="table"]')
    assert_clean(page)


# -- heatmap --------------------------------------------------------------------------------------


def test_heatmap_view_draws_layers_by_steps_with_hover_and_deviation(tb, page):
    frame = open_dashboard(page, tb.url)
    open_tab(frame, "heatmap")
    pick_run(frame, "heatmap", "trap/metrics")
    run = backend_json(tb, "run", run="trap/metrics")
    steps = sorted({p[0] for layer in run["layers"] for p in layer["measured"]})
    frame.wait_for_function(
        "([rows, run]) => { const c = document.querySelector('.heatmap-canvas');"
        " return c && c.dataset.run === run && c.dataset.rows === String(rows)"
        " && c.dataset.mode === 'measured'; }",
        arg=[len(run["layers"]), "trap/metrics"], timeout=TIMEOUT_MS)
    assert int(frame.get_attribute(".heatmap-canvas", "data-cols")) == len(steps)
    # Hover the last cell of the first row: the layer's last measured value.
    overlay = frame.query_selector(".heatmap-overlay")
    box = overlay.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 12, box["y"] + 6)
    frame.wait_for_selector(".heatmap-tooltip:not([hidden])", timeout=TIMEOUT_MS)
    text = frame.inner_text(".heatmap-tooltip")
    first = run["layers"][0]
    assert first["name"] in text and "step %d" % steps[-1] in text
    assert "measured %s" % pct(first["measured"][-1][1]) in text
    # Colour by deviation.
    frame.click('.view-heatmap button[data-mode="deviation"]')
    frame.wait_for_selector(".heatmap-canvas[data-mode='deviation']", timeout=TIMEOUT_MS)
    assert "measured \u2212 expected" in frame.inner_text(".heatmap-scale")
    # A run without a schedule says so and falls back to measured sparsity.
    pick_run(frame, "heatmap", "plain/metrics")
    frame.wait_for_function(
        "() => document.querySelector('.view-heatmap .view-message').textContent"
        ".includes('no schedule on record')", timeout=TIMEOUT_MS)
    assert frame.get_attribute(".heatmap-canvas", "data-mode") == "measured"
    assert_clean(page)


# -- table and downloads --------------------------------------------------------------------------


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def download(page, frame, selector):
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        frame.click(selector)
    path = info.value.path()
    with open(path, encoding="utf-8") as f:
        return info.value.suggested_filename, f.read()


def test_table_view_sorts_and_downloads_the_backends_csv(tb, page):
    frame = open_dashboard(page, tb.url)
    open_tab(frame, "table")
    pick_run(frame, "table", "poly/metrics")
    frame.fill(".step-input", "16")
    frame.dispatch_event(".step-input", "change")
    frame.wait_for_function(
        "() => document.querySelector('.table-heading').textContent.startsWith('poly/metrics at step 16')",
        timeout=TIMEOUT_MS)
    want = backend_json(tb, "table", run="poly/metrics", step=16)
    shown = frame.evaluate(
        "() => [...document.querySelectorAll('.layer-table tbody tr')].map(tr => [tr.dataset.key,"
        " Object.fromEntries([...tr.cells].map(td => [td.dataset.column, td.textContent]))])")
    assert [k for k, _ in shown] == [r["key"] for r in want["rows"]]
    for (_, cells), row in zip(shown, want["rows"]):
        assert cells["name"] == row["name"]
        assert cells["measured"] == (pct(row["measured"], 2) if row["measured"] is not None else "\u2014")
    # Sorting by measured (largest first) keeps the whole model on top.
    frame.click('.layer-table th[data-column="measured"] button')
    frame.wait_for_selector('.layer-table th[data-column="measured"][aria-sort="descending"]',
                            timeout=TIMEOUT_MS)
    keys = frame.eval_on_selector_all(".layer-table tbody tr", "trs => trs.map(tr => tr.dataset.key)")
    assert keys[0] == "(model)"
    assert sorted(keys[1:]) == sorted(r["key"] for r in want["rows"][1:])
    shown_measured = [next(r["measured"] for r in want["rows"] if r["key"] == k) for k in keys[1:]]
    assert shown_measured == sorted(shown_measured, reverse=True)

    # The CSV download is the backend's table, value for value.
    name, text = download(page, frame, "a.download-csv")
    assert name.endswith(".csv") and "step16" in name
    rows = parse_csv(text)
    assert [r["key"] for r in rows] == [r["key"] for r in want["rows"]]
    for got, row in zip(rows, want["rows"]):
        assert got["run"] == "poly/metrics" and int(got["step"]) == 16
        for field in ("measured", "expected", "target", "deviation", "threshold"):
            assert (float(got[field]) if got[field] else None) == row[field], field
        assert (int(got["params"]) if got["params"] else None) == row["params"]
    # The full series: CSV equals the export route, JSON the run route with thresholds.
    _, series_csv = download(page, frame, "a.series-csv")
    assert series_csv == backend_text(tb, "export", run="poly/metrics", format="csv")
    _, series_json = download(page, frame, "a.series-json")
    assert json.loads(series_json) == backend_json(tb, "run", run="poly/metrics", threshold=1)
    assert all(layer["threshold"] for layer in json.loads(series_json)["layers"])
    assert_clean(page)


def test_a_click_on_a_layer_chart_picks_the_tables_step(tb, page):
    frame = open_dashboard(page, tb.url)
    key = backend_json(tb, "run", run="poly/metrics")["layers"][0]["key"]
    over = card(frame, key).query_selector(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    frame.wait_for_function(
        "(key) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelector('.readout th').textContent.startsWith('step ')", arg=key, timeout=TIMEOUT_MS)
    hovered = card(frame, key).query_selector(".readout th").inner_text()
    step = int(hovered.split()[1])
    page.mouse.down()
    page.mouse.up()
    frame.wait_for_function(
        "(s) => document.querySelector('.tab[data-tab=\"table\"]').textContent.includes('step ' + s)",
        arg=step, timeout=TIMEOUT_MS)
    assert frame.is_visible(".layer-card")  # the Layers view stays open
    open_tab(frame, "table")
    frame.wait_for_function(
        "(s) => document.querySelector('.table-heading').textContent.includes(' at step ' + s + ' ')",
        arg=step, timeout=TIMEOUT_MS)
    assert "picked on the chart of" in frame.inner_text(".table-heading")
    # "Last step" goes back to the default.
    frame.click(".view-table button:has-text('Last step')")
    frame.wait_for_function(
        "() => document.querySelector('.table-heading').textContent.includes(\"the run's last step\")",
        timeout=TIMEOUT_MS)
    assert_clean(page)


# -- what-if ---------------------------------------------------------------------------------------


def test_whatif_view_draws_a_typed_in_schedule_with_its_diagnostics(tb, page):
    frame = open_dashboard(page, tb.url)
    open_tab(frame, "whatif")
    pick_run(frame, "whatif", "trap/metrics")
    # Prefilled from the run's own schedule: the frequency trap.
    frame.wait_for_function(
        "() => document.querySelector('.whatif-summary').textContent.includes('pruning at steps 36, 136')",
        timeout=TIMEOUT_MS)
    assert frame.input_value('.whatif-form input[name="frequency"]') == "100"
    assert "frequency 100 with a 148-step window" in frame.inner_text(".whatif-diagnostics")
    run = backend_json(tb, "run", run="trap/metrics")
    assert int(frame.get_attribute(".whatif-plot", "data-series-count")) == len(run["layers"]) + 2
    # A frequency that divides the window fixes it.
    frame.fill('.whatif-form input[name="frequency"]', "4")
    frame.click('.whatif-form button[type="submit"]')
    frame.wait_for_function(
        "() => document.querySelector('.whatif-diagnostics h3').textContent.startsWith('Diagnostics: none')",
        timeout=TIMEOUT_MS)
    assert "ends at 87.5%" in frame.inner_text(".whatif-summary")
    # A bad value is reported next to the form, not sent.
    frame.fill('.whatif-form input[name="final_sparsity"]', "87.5")
    frame.click('.whatif-form button[type="submit"]')
    frame.wait_for_function(
        "() => document.querySelector('.form-errors').textContent.includes('final sparsity: a fraction')",
        timeout=TIMEOUT_MS)
    # A run without a schedule starts from tfmot's defaults and says so.
    pick_run(frame, "whatif", "plain/metrics")
    frame.wait_for_function(
        "() => document.querySelector('.view-whatif').textContent.includes('no schedule on record')",
        timeout=TIMEOUT_MS)
    assert_clean(page)


# -- a 300-layer run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_logdir(tmp_path_factory):
    from benchmarks import synthetic

    out = str(tmp_path_factory.mktemp("big") / "logs")
    synthetic.generate(out, 1, 300, 1000)
    return out


def test_heatmap_of_300_layers_by_1000_steps_renders_and_hovers(big_logdir, page):
    process = TensorBoardProcess(big_logdir, load_fast="auto", env=NO_TENSORFLOW)
    try:
        process.wait_ready(timeout=300, runs_expected=1)
        page.goto(process.url + "/data/plugin_entry.html?name=sparsity")
        page.wait_for_selector(".layer-card canvas", timeout=180_000)
        page.click('.tab[data-tab="heatmap"]')
        page.wait_for_selector(".heatmap-canvas[data-rows='300'][data-cols='1000']", timeout=TIMEOUT_MS)
        box = page.query_selector(".heatmap-overlay").bounding_box()
        assert box["height"] >= 300 * 2
        # Hover several cells: each answers with its own layer and step.
        seen = set()
        for fx, fy in ((0.1, 0.1), (0.5, 0.5), (0.9, 0.9), (0.3, 0.7)):
            page.mouse.move(box["x"] + 8 + fx * (box["width"] - 16), box["y"] + 2 + fy * (box["height"] - 36))
            page.wait_for_function(
                "(seen) => { const t = document.querySelector('.heatmap-tooltip');"
                " return !t.hidden && !seen.includes(t.textContent); }", arg=sorted(seen), timeout=10_000)
            seen.add(page.inner_text(".heatmap-tooltip"))
        assert all("step" in s and "measured" in s for s in seen)
        page.click('.view-heatmap button[data-mode="deviation"]')
        page.wait_for_selector(".heatmap-canvas[data-mode='deviation']", timeout=TIMEOUT_MS)
        assert_clean(page)
    finally:
        process.stop()
