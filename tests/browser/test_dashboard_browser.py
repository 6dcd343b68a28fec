"""The Sparsity dashboard in a real headless Chromium against a real `tensorboard` process.

TensorBoard serves real tfmot logs (tests/generated/tfmot_runs.py, the `tfmot_logdir` fixture) plus a
run directory named like an HTML tag. The browser is Debian's `chromium` driven by Playwright
for Python (`playwright install` cannot download browsers here). A missing browser FAILS these
tests: CI installs it (`apt-get install -y chromium`).

The plugin must be installed in the Python that runs TensorBoard (`pip install -e .`), so
TensorBoard finds it through its `tensorboard_plugins` entry point as a user's would.
"""

import json
import re
import os
import shutil
import urllib.parse

import pytest

from conftest import HOSTILE_RUN, copy_logdir

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]
TIMEOUT_MS = 60_000


# -- fixtures (the browser and the TensorBoard are conftest's, shared by the session) -------------


@pytest.fixture
def tb(dashboard_tb):
    return dashboard_tb


class Console:
    """Console errors, page errors, CSP violations and dialogs of a page and its frames."""

    def __init__(self, page):
        self.errors = []
        self.dialogs = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.errors.append("pageerror: %s" % err))
        page.on("dialog", self._on_dialog)

    def _on_console(self, msg):
        text = msg.text
        where = (msg.location or {}).get("url", "")
        if where.endswith("/favicon.ico"):  # asked by Chromium for a page opened on its own
            return
        if msg.type == "error" or "Content Security Policy" in text or "Refused to" in text:
            self.errors.append("%s: %s (%s)" % (msg.type, text, where))

    def _on_dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.console = Console(p)
    yield p
    context.close()


def open_dashboard(page, url):
    """TensorBoard's Sparsity tab: the iframe TensorBoard creates, once the charts are drawn."""
    page.goto(url + "/#sparsity")
    tab = page.wait_for_selector("text=Sparsity", timeout=TIMEOUT_MS)
    assert tab is not None
    iframe = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]',
                                    timeout=TIMEOUT_MS)
    frame = iframe.content_frame()
    frame.wait_for_selector(".layer-card canvas", timeout=TIMEOUT_MS)
    frame.wait_for_function("() => !document.querySelector('.banner-info')"
                            " || ![...document.querySelectorAll('.banner-info')]"
                            ".some(b => b.textContent.startsWith('Loading run'))",
                            timeout=TIMEOUT_MS)
    return frame


def backend_json(tb, route, **params):
    query = "?" + urllib.parse.urlencode(params) if params else ""
    return tb.get_json("/data/plugin/sparsity/" + route + query)


def layer_keys(tb, runs):
    keys = set()
    for run in runs:
        keys.update(layer["key"] for layer in backend_json(tb, "run", run=run)["layers"])
    return keys


def card(frame, key):
    handle = frame.evaluate_handle(
        "(key) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)",
        key)
    return handle.as_element()


def readout_runs(frame, key):
    """The runs in the readout table of a layer's card (one row per drawn run)."""
    return frame.evaluate(
        "(key) => [...[...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelectorAll('.readout tbody tr')].map(tr => tr.dataset.run)",
        key)


def toggle_run(frame, run):
    frame.evaluate(
        "(run) => [...document.querySelectorAll('.run-item')].find(li => li.dataset.run === run)"
        "  .querySelector('input[type=checkbox]').click()",
        run)


def assert_clean(page):
    assert page.console.errors == [], page.console.errors
    assert page.console.dialogs == [], page.console.dialogs


# -- tests --------------------------------------------------------------------------------------


def test_tab_appears_and_every_layer_has_a_chart(tb, page):
    frame = open_dashboard(page, tb.url)
    assert page.locator("text=Sparsity").first.is_visible()
    runs = [r["run"] for r in tb.runs]
    keys = layer_keys(tb, runs)
    frame.wait_for_function("(n) => document.querySelectorAll('.layer-card').length === n",
                            arg=len(keys), timeout=TIMEOUT_MS)
    shown = set(frame.eval_on_selector_all(".layer-card", "cs => cs.map(c => c.dataset.key)"))
    assert shown == keys
    # Charts are drawn as their cards come near the view: scroll through all of them, as a
    # user would. Then every chart is a drawn canvas of real size.
    for each in frame.query_selector_all(".layer-card"):
        each.scroll_into_view_if_needed()
    frame.wait_for_function(
        "() => [...document.querySelectorAll('.layer-card')].every(c => c.querySelector('canvas'))",
        timeout=TIMEOUT_MS)
    sizes = frame.eval_on_selector_all(
        ".layer-card canvas", "cs => cs.map(c => [c.width, c.height])")
    assert len(sizes) == len(keys)
    assert all(w > 100 and h > 50 for w, h in sizes), sizes
    assert frame.locator(".model-card canvas").count() == 1
    # The run list shows every run with its colour; the model chart states its weighting.
    listed = frame.eval_on_selector_all(".run-item", "ls => ls.map(l => l.dataset.run)")
    assert sorted(listed) == sorted(runs)
    assert "weighted by weight count" in frame.inner_text(".model-card .weighting")
    # Sparsity is shown as percent; the frequency-trap run is flagged on its layers.
    trap = backend_json(tb, "run", run="trap/metrics")
    layer = trap["layers"][0]
    trap_row = frame.evaluate(
        "([key, run]) => [...[...document.querySelectorAll('.layer-card')]"
        ".find(c => c.dataset.key === key).querySelectorAll('.readout tbody tr')]"
        ".find(tr => tr.dataset.run === run).innerText",
        [layer["key"], "trap/metrics"])
    assert "%.1f%%" % (layer["final_sparsity"] * 100) in trap_row
    badges = card(frame, layer["key"]).inner_text()
    assert "frequency trap" in badges
    assert_clean(page)


def test_the_first_screen_needs_no_series_request(tb, page):
    # Each run's summary brings its first cards' series (summaries?first_layers=12): the
    # first screen's charts are drawn without a `series` request.
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    frame = open_dashboard(page, tb.url)
    keys = layer_keys(tb, [r["run"] for r in tb.runs])
    assert len(keys) <= 12, "every card of this logdir is a first card"
    frame.wait_for_function(
        "(n) => { const cs = [...document.querySelectorAll('.layer-card')];"
        "  return cs.length === n && cs.filter(c => c.getBoundingClientRect().top < innerHeight)"
        "    .every(c => c.querySelector('canvas') && c.dataset.waiting === 'false'); }",
        arg=len(keys), timeout=TIMEOUT_MS)
    summaries = [u for u in asked if "/data/plugin/sparsity/summaries?" in u]
    assert summaries and all("first_layers=12" in u for u in summaries), summaries
    assert not [u for u in asked if "/data/plugin/sparsity/series?" in u]
    assert_clean(page)


def test_toggling_runs_changes_the_overlay(tb, page):
    frame = open_dashboard(page, tb.url)
    key = backend_json(tb, "run", run="poly/metrics")["layers"][0]["key"]
    before = readout_runs(frame, key)
    assert "poly/metrics" in before and "trap/metrics" in before
    plot = card(frame, key).query_selector(".plot")
    series_before = int(plot.get_attribute("data-series-count"))
    pixels_before = plot.query_selector("canvas").screenshot()

    toggle_run(frame, "trap/metrics")
    frame.wait_for_function(
        "(key) => ![...[...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelectorAll('.readout tbody tr')].some(tr => tr.dataset.run === 'trap/metrics')",
        arg=key, timeout=TIMEOUT_MS)
    after = readout_runs(frame, key)
    assert set(after) == set(before) - {"trap/metrics"}
    plot = card(frame, key).query_selector(".plot")
    assert int(plot.get_attribute("data-series-count")) < series_before
    assert plot.query_selector("canvas").screenshot() != pixels_before

    toggle_run(frame, "trap/metrics")
    frame.wait_for_function(
        "([key, n]) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelectorAll('.readout tbody tr').length === n",
        arg=[key, len(before)], timeout=TIMEOUT_MS)
    assert_clean(page)


def test_readout_numbers_fit_their_columns(tb, page):
    # The narrowest cards: "83.3% @160" and "none" fit their cells (they used to run into the
    # next column: "@14" under "no schedule").
    frame = open_dashboard(page, tb.url)
    frame.wait_for_selector(".layer-card .readout td.measured", timeout=TIMEOUT_MS)
    width = "() => document.querySelector('.layer-card').getBoundingClientRect().width"
    medium = frame.evaluate(width)
    frame.select_option("select[aria-label='card width']", "small")
    frame.wait_for_function("(w) => (%s)() < w" % width, arg=medium, timeout=TIMEOUT_MS)
    clipped = frame.evaluate(
        "() => [...document.querySelectorAll('.layer-card .readout td.num')]"
        ".filter(td => td.textContent && td.scrollWidth > td.clientWidth + 1)"
        ".map(td => [td.className, td.textContent, td.scrollWidth, td.clientWidth])")
    checked = frame.evaluate("() => document.querySelectorAll('.layer-card .readout td.num').length")
    assert checked > 0 and clipped == [], clipped
    assert_clean(page)


def test_hover_shows_step_measured_expected_and_difference(tb, page):
    frame = open_dashboard(page, tb.url)
    key = backend_json(tb, "run", run="poly/metrics")["layers"][0]["key"]
    over = card(frame, key).query_selector(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    frame.wait_for_function(
        "(key) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelector('.readout th').textContent.startsWith('step ')",
        arg=key, timeout=TIMEOUT_MS)
    head = card(frame, key).query_selector(".readout thead").inner_text()
    for word in ("measured", "expected", "\u0394", "target"):
        assert word in head
    assert "%" in card(frame, key).query_selector(".readout tbody").inner_text()
    assert_clean(page)


def test_a_diagnostic_click_reaches_its_layer(tb, page):
    frame = open_dashboard(page, tb.url)
    # The last layer-level diagnostic: its chart is likely off screen at first.
    buttons = frame.query_selector_all(".diag-item")
    layered = [b for b in buttons if b.get_attribute("data-layer")]
    assert layered, "no layer diagnostic on the tfmot runs (the trap run should have some)"
    button = layered[-1]
    key = button.get_attribute("data-layer")
    frame.evaluate("() => window.scrollTo(0, 0)")
    in_view = """(key) => {
             const c = [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key);
             const r = c.getBoundingClientRect();
             return r.top >= 0 && r.bottom <= window.innerHeight + 1;
           }"""
    assert not frame.evaluate(in_view, key), "the layer's chart is in view before the click"
    button.click()
    frame.wait_for_function(
        """(key) => {
             const c = [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key);
             if (!c || !c.classList.contains('highlight')) return false;
             const r = c.getBoundingClientRect();
             return r.top >= 0 && r.bottom <= window.innerHeight + 1;
           }""",
        arg=key, timeout=TIMEOUT_MS)
    highlighted = frame.eval_on_selector_all(".layer-card.highlight", "cs => cs.map(c => c.dataset.key)")
    assert highlighted == [key]
    # A run-level diagnostic highlights its run.
    run_level = [b for b in frame.query_selector_all(".diag-item") if not b.get_attribute("data-layer")]
    assert run_level
    run = run_level[0].get_attribute("data-run")
    run_level[0].click()
    frame.wait_for_selector(".run-item.highlight", timeout=TIMEOUT_MS)
    assert frame.eval_on_selector(".run-item.highlight", "l => l.dataset.run") == run
    # The trap run's schedule hits every layer: one finding, with links to the other layers.
    links = frame.query_selector_all(".diag-layer-link")
    assert links, "the frequency trap should be grouped across the trap run's layers"
    other = links[-1].get_attribute("data-layer")
    links[-1].click()
    frame.wait_for_function(
        "(key) => [...document.querySelectorAll('.layer-card.highlight')].some(c => c.dataset.key === key)",
        arg=other, timeout=TIMEOUT_MS)
    assert_clean(page)


def test_html_named_run_is_text(tb, page):
    frame = open_dashboard(page, tb.url)
    hostile = HOSTILE_RUN + "/metrics"
    names = frame.eval_on_selector_all(".run-item", "ls => ls.map(l => l.dataset.run)")
    assert hostile in names
    titles = frame.eval_on_selector_all(".run-group-title span", "ss => ss.map(s => s.textContent)")
    assert HOSTILE_RUN in titles
    assert frame.locator("img").count() == 0
    assert HOSTILE_RUN in frame.inner_text("body")
    # Its charts are drawn too (it is a copy of `poly`).
    key = backend_json(tb, "run", run="poly/metrics")["layers"][0]["key"]
    assert hostile in readout_runs(frame, key)
    page.wait_for_timeout(500)
    assert page.console.dialogs == []
    assert_clean(page)


def test_reload_keeps_selection_zoom_and_scroll_and_shows_new_runs(tensorboard_process, tfmot_logdir,
                                                                    tmp_path, page):
    # Its own logdir and TensorBoard: the run it adds must not reach the shared one.
    logdir = copy_logdir(tfmot_logdir, str(tmp_path / "logs"))
    tb = tensorboard_process(logdir)
    tb.wait_ready(runs_expected=len(os.listdir(logdir)))
    frame = open_dashboard(page, tb.url)
    toggle_run(frame, "plain/metrics")
    key = backend_json(tb, "run", run="poly/metrics")["layers"][0]["key"]
    # Zoom into the first chart by dragging across it.
    over = card(frame, key).query_selector(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=5)
    page.mouse.up()
    frame.wait_for_function(
        "(key) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelector('.plot').dataset.zoom", arg=key, timeout=TIMEOUT_MS)
    zoom = card(frame, key).query_selector(".plot").get_attribute("data-zoom")
    frame.evaluate("() => window.scrollTo(0, 300)")
    scroll = frame.evaluate("() => window.scrollY")
    assert scroll > 0

    # A new experiment appears in the logdir while TensorBoard runs.
    shutil.copytree(os.path.join(tfmot_logdir, "poly"), os.path.join(logdir, "late_run"))
    deadline_ms = TIMEOUT_MS
    waited = 0
    while waited < deadline_ms:
        frame.click(".reload")
        try:
            frame.wait_for_selector('.run-item[data-run="late_run/metrics"]', timeout=3000)
            break
        except Exception:
            waited += 3000
    frame.wait_for_selector('.run-item[data-run="late_run/metrics"]', timeout=1000)
    frame.wait_for_function("() => !document.querySelector('.reload').disabled", timeout=TIMEOUT_MS)

    plain_box = frame.evaluate(
        "() => [...document.querySelectorAll('.run-item')].find(l => l.dataset.run === 'plain/metrics')"
        ".querySelector('input').checked")
    assert plain_box is False, "the unticked run got ticked again by the reload"
    assert "plain/metrics" not in readout_runs(frame, key)
    frame.wait_for_function(
        "(key) => [...[...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === key)"
        ".querySelectorAll('.readout tbody tr')].some(tr => tr.dataset.run === 'late_run/metrics')",
        arg=key, timeout=TIMEOUT_MS)
    assert card(frame, key).query_selector(".plot").get_attribute("data-zoom") == zoom
    # The page was not re-built: the scroll position stays where the user left it (Chromium's
    # scroll anchoring may shift it by the height a new run's readout rows add above).
    assert scroll - 2 <= frame.evaluate("() => window.scrollY") < scroll + 80
    assert_clean(page)


def test_tensorboards_reload_button_refreshes_the_dashboard(tb, page):
    frame = open_dashboard(page, tb.url)
    frame.wait_for_function("() => !document.querySelector('.reload').disabled", timeout=TIMEOUT_MS)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/data/plugin/sparsity/runs") else None)
    page.click("app-header-reload button.reload-button")
    deadline = 10_000  # well before the dashboard's own 30 s timer
    while not asked and deadline > 0:
        page.wait_for_timeout(250)
        deadline -= 250
    assert asked, "TensorBoard's reload did not reach the dashboard"
    assert_clean(page)


def test_backend_errors_show_as_messages(tb, page):
    # The run list answers 500: a message and a Retry button, not a blank tab.
    def fail_runs(route):
        route.fulfill(status=500, content_type="application/json",
                      body=json.dumps({"error": "internal error in the sparsity plugin: Boom"}))

    page.route("**/data/plugin/sparsity/runs", fail_runs)
    page.goto(tb.url + "/#sparsity")
    frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]',
                                   timeout=TIMEOUT_MS).content_frame()
    frame.wait_for_selector(".state-error", timeout=TIMEOUT_MS)
    text = frame.inner_text(".state-error")
    assert "HTTP 500" in text and "Boom" in text
    page.unroute("**/data/plugin/sparsity/runs")
    frame.click(".state-error button")
    frame.wait_for_selector(".layer-card canvas", timeout=TIMEOUT_MS)
    # The console shows the failed request; nothing else.
    errors = [e for e in page.console.errors if "500" not in e]
    assert errors == []

    # A run the backend does not know (a real 404 of the real backend): a banner, the rest stays.
    page.console.errors.clear()

    def missing_run(route):
        # The real backend's answer for a run it does not know, in trap/metrics' place.
        url = route.request.url
        if "run=trap%2Fmetrics" not in url:
            route.continue_()
            return
        answer = route.fetch(url=url.replace("run=trap%2Fmetrics", "run=no_such%2Fmetrics"))
        body = answer.json()
        body["runs"] = {("trap/metrics" if k == "no_such/metrics" else k): v
                        for k, v in body["runs"].items()}
        route.fulfill(response=answer, json=body)

    page.route("**/data/plugin/sparsity/summaries?*", missing_run)
    frame.click(".reload")
    frame.wait_for_selector(".banner-error", timeout=TIMEOUT_MS)
    banner = frame.inner_text(".banner-error")
    assert "trap/metrics" in banner and "no sparsity data for run 'no_such/metrics'" in banner
    assert frame.locator(".layer-card canvas").count() > 0
    assert page.console.errors == []


def test_empty_logdir_says_what_to_log(tmp_path, tensorboard_process, page):
    empty = tmp_path / "empty"
    empty.mkdir()
    process = tensorboard_process(str(empty))
    process.wait_ready(runs_expected=0)
    # Without data the tab is inactive; the plugin's own page is what its tab would show.
    page.goto(process.url + "/data/plugin_entry.html?name=sparsity")
    page.wait_for_selector(".state-empty", timeout=TIMEOUT_MS)
    text = page.inner_text(".state-empty")
    assert "tfmot.sparsity.keras.UpdatePruningStep()" in text
    assert 'tfmot.sparsity.keras.PruningSummaries(log_dir="logs/run1")' in text
    assert_clean(page)


def test_run_without_schedule_says_how_to_get_the_expected_curve(tb, page):
    frame = open_dashboard(page, tb.url)
    frame.fill(".sidebar input.filter >> nth=0", "^plain/")
    frame.wait_for_function("() => document.querySelectorAll('.run-item').length === 1",
                            timeout=TIMEOUT_MS)
    frame.wait_for_selector(".no-schedule-note", timeout=TIMEOUT_MS)
    note = frame.inner_text(".no-schedule-note")
    assert "plain/metrics" in note and "SparsitySummaries" in note and "train" in note
    # Measured only: the readout says so (its expected cells, and on hover why).
    cells = frame.eval_on_selector_all(".layer-card .readout td.expected",
                                       "tds => tds.map(t => [t.textContent, t.title])")
    assert cells and all(text == "none" and "no schedule recorded" in title
                         for text, title in cells), cells
    # An invalid regex is reported, not fatal.
    frame.fill(".sidebar input.filter >> nth=0", "plain(")
    frame.wait_for_selector(".filter.invalid", timeout=TIMEOUT_MS)
    assert "invalid regular expression" in frame.inner_text(".filter-error")
    assert_clean(page)


def test_a_card_says_loading_while_its_series_are_on_their_way(tb, page):
    # The series requests are held: the cards in view say "loading…" over their charts (an
    # empty chart read as a run without data), and stop saying it once the series arrive.
    # (The summaries are asked without their first cards' series, which would otherwise
    # arrive with them: as after a refresh, the cards ask `series` for their own.)
    held = []
    page.route("**/data/plugin/sparsity/series?*", lambda route: held.append(route))
    page.route("**/data/plugin/sparsity/summaries?*", lambda route: route.continue_(
        url=re.sub(r"&first_layers=\d+", "", route.request.url)))
    page.goto(tb.url + "/#sparsity")
    frame = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]',
                                   timeout=TIMEOUT_MS).content_frame()
    waiting = frame.wait_for_selector('.layer-card[data-waiting="true"]', timeout=TIMEOUT_MS)
    assert held, "the cards in view asked for their series"
    overlay = frame.evaluate(
        "(card) => getComputedStyle(card.querySelector('.plot'), '::after').content", waiting)
    assert "loading" in overlay, overlay
    # and its readout says the same, not "no schedule"
    expected = waiting.eval_on_selector_all(".readout td.expected", "tds => tds.map(t => t.textContent)")
    assert expected and all(t == "loading\u2026" for t in expected), expected
    for route in list(held):
        route.continue_()
    page.unroute("**/data/plugin/sparsity/series?*")  # lets through any asked since
    page.unroute("**/data/plugin/sparsity/summaries?*")
    frame.wait_for_function(
        "() => { const inView = [...document.querySelectorAll('.layer-card')]"
        "  .filter(c => c.getBoundingClientRect().top < innerHeight);"
        "  return inView.length > 0 && inView.every(c => c.dataset.waiting === 'false'"
        "    && c.querySelector('canvas')); }", timeout=TIMEOUT_MS)
    overlay = frame.evaluate(
        "(card) => getComputedStyle(card.querySelector('.plot'), '::after').content", waiting)
    assert overlay == "none", overlay
    expected = waiting.eval_on_selector_all(".readout td.expected", "tds => tds.map(t => t.textContent)")
    assert expected and "loading\u2026" not in expected, expected
    assert_clean(page)
