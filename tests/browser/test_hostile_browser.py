"""Hostile data in the real browser (issue 8, item 7): a real TensorBoard, the real dashboard
in headless Chromium (Playwright). No script runs from data, no console errors, no CSP
violations, and a backend error is shown to the user as a message.
"""

import json
import os
import re

import pytest

from conftest import NO_TENSORFLOW
import hostile_util as hu

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]

# Each payload, if it ever ran as script or markup, sets window.__pwned or opens a dialog.
PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '"><svg onload="window.__pwned=3">',
    "{{constructor.constructor('window.__pwned=4')()}}",
    "javascript:window.__pwned=5",
    "'; window.__pwned=6; '",
]
RUN_PAYLOADS = [p for p in PAYLOADS if "/" not in p]  # a run name is a directory name

# Recorded in every frame (TensorBoard shell and the plugin's iframe).
INIT_SCRIPT = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def hostile_logdir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("browser") / "logdir")
    layers = [(p, hu.poly()) for p in PAYLOADS]
    hu.experiment(root, "layers", layers, [(0, 0.0), (50, 0.3), (100, 0.8)])
    for i, payload in enumerate(RUN_PAYLOADS):
        hu.experiment(root, payload, [("dense_%d" % i, hu.poly())], [(0, 0.0), (50, 0.4)])
    values = os.path.join(root, "values", "metrics")
    hu.write_series(values, {hu.SPARSITY % "nan": [(0, 0.0), (10, float("nan")), (20, 0.5)],
                             hu.SPARSITY % "big": [(0, 0.0), (2**53 - 1, 0.5)]})
    return root


class Page:
    """A page with every console message, page error, dialog and request failure recorded."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.context.add_init_script(INIT_SCRIPT)
        self.page = self.context.new_page()
        self.console, self.errors, self.dialogs = [], [], []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def plugin_frame(self, timeout=60):
        """The iframe TensorBoard loads the dashboard into."""
        deadline = timeout * 1000
        waited = 0
        while waited < deadline:
            for frame in self.page.frames:
                if frame != self.page.main_frame and frame.url and "plugin" in frame.url:
                    try:
                        if frame.evaluate("() => !!document.body"):
                            return frame
                    except Exception:  # frame still navigating
                        pass
            self.page.wait_for_timeout(250)
            waited += 250
        raise AssertionError("no plugin iframe: %s" % [f.url for f in self.page.frames])

    def pwned(self):
        out = []
        for frame in self.page.frames:
            try:
                out.append(frame.evaluate(
                    "() => [window.__pwned || null, (window.__violations || []).slice()]"))
            except Exception:
                pass
        return out

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def tensorboard(hostile_logdir):
    from conftest import TensorBoardProcess

    tb = TensorBoardProcess(hostile_logdir, load_fast="false", env=NO_TENSORFLOW)
    try:
        tb.wait_ready(runs_expected=1 + len(RUN_PAYLOADS) + 1)
        yield tb
    finally:
        tb.stop()


def open_dashboard(browser, tb):
    page = Page(browser)
    page.page.goto(tb.url + "/#sparsity", wait_until="load")
    frame = page.plugin_frame()
    return page, frame


def test_no_script_runs_from_data(browser, tensorboard):
    page, frame = open_dashboard(browser, tensorboard)
    try:
        # the run list shows every hostile run name as text
        frame.wait_for_function(
            "(n) => document.body.innerText.includes(n)", arg="values", timeout=60000)
        text = frame.evaluate("() => document.body.innerText")
        for payload in RUN_PAYLOADS:
            assert payload in text, payload
        # select every run and let the charts draw
        frame.evaluate("""() => { for (const box of document.querySelectorAll(
            'input[type=checkbox]')) { if (!box.checked) box.click(); } }""")
        frame.wait_for_function(
            "(n) => document.body.innerText.includes(n)", arg=PAYLOADS[0], timeout=60000)
        page.page.wait_for_timeout(2000)
        text = frame.evaluate("() => document.body.innerText")
        for payload in PAYLOADS:  # layer names, drawn as text
            assert payload in text, payload
        # nothing from the data became markup
        assert frame.evaluate("() => document.querySelectorAll('script:not([src]), "
                              "img[onerror], svg[onload], [onload], [onerror]').length") == 0
        for pwned, violations in page.pwned():
            assert pwned is None
            assert violations == []
        assert page.dialogs == []
        assert page.errors == []
        console_errors = [t for kind, t in page.console if kind == "error"]
        assert console_errors == []
        assert not [t for _, t in page.console if re.search("Content Security Policy", t)]
    finally:
        page.close()


@pytest.mark.parametrize("route,status", [("runs", 500), ("summaries", 500), ("runs", 400)])
def test_backend_error_is_shown_as_a_message(browser, tensorboard, route, status):
    page = Page(browser)
    message = "hostile-test: the backend says no <b>bold</b>"

    def fail(r):
        r.fulfill(status=status, content_type="application/json",
                  body=json.dumps({"error": message}))

    page.context.route(re.compile(r".*/data/plugin/sparsity/%s(\?.*)?$" % route), fail)
    try:
        page.page.goto(tensorboard.url + "/#sparsity", wait_until="load")
        frame = page.plugin_frame()
        if route == "summaries":
            frame.wait_for_function(
                "() => document.querySelectorAll('input[type=checkbox]').length > 0",
                timeout=60000)
            frame.evaluate("""() => { const box = [...document.querySelectorAll(
                'input[type=checkbox]')].find((b) => !b.checked);
                if (box) box.click(); }""")
        alert = frame.wait_for_selector("[role=alert]", timeout=60000)
        frame.wait_for_function(
            "(m) => [...document.querySelectorAll('[role=alert]')].some("
            "(a) => a.innerText.includes(m))", arg=message, timeout=30000)
        assert alert.is_visible()
        assert frame.evaluate("() => document.querySelectorAll('b').length") == 0
        assert page.errors == []
        for pwned, violations in page.pwned():
            assert pwned is None and violations == []
        # the only console errors are the browser's notes of the failed request
        others = [t for kind, t in page.console
                  if kind == "error" and not re.search(r"status of %d|Failed to load" % status, t)]
        assert others == []
    finally:
        page.close()
