"""The tab feels native in TensorBoard (issue 17), in a real headless Chromium against a real
`tensorboard`: it follows TensorBoard's dark theme live, its view is kept in TensorBoard's URL
hash (`p.sparsity.*`) and reopens from a link, pinned layers survive a reload; also under
`--path_prefix`.
"""

import re

import pytest

from benchmarks.tb_launcher import TensorBoardProcess
from conftest import NO_TENSORFLOW
from test_dashboard_browser import TIMEOUT_MS, open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="light")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def prefixed_tb(dashboard_logdir, truth):
    """A second real TensorBoard on the same logs, served under `--path_prefix /tb`."""
    with TensorBoardProcess(dashboard_logdir, path_prefix="/tb/", env=NO_TENSORFLOW) as process:
        process.wait_ready(runs_expected=len(truth) + 1)
        assert process.url.rstrip("/").endswith("/tb")
        yield process


@pytest.fixture(params=["root", "path_prefix"])
def tb_url(request, dashboard_tb):
    if request.param == "root":
        return dashboard_tb.url.rstrip("/")
    return request.getfixturevalue("prefixed_tb").url.rstrip("/")


def luminance(css_color):
    """Relative luminance (0 black .. 1 white) of a computed `rgb(...)`/`rgba(...)` colour."""
    r, g, b = [int(v) for v in re.findall(r"[\d.]+", css_color)[:3]]

    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a, b):
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLOURS = """() => {
  const bg = (node) => getComputedStyle(node).backgroundColor;
  const card = document.querySelector('.layer-card');
  return {
    page: bg(document.body),
    card: bg(card),
    text: getComputedStyle(card.querySelector('.layer-name')).color,
    sidebar: bg(document.querySelector('.sidebar')),
    muted: getComputedStyle(document.querySelector('.sidebar h3')).color,
  };
}"""


def test_tab_follows_tensorboards_dark_theme_without_a_reload(page, dashboard_tb):
    frame = open_dashboard(page, dashboard_tb.url.rstrip("/"))
    light = frame.evaluate(COLOURS)
    assert luminance(light["page"]) > 0.8 and luminance(light["card"]) > 0.8, light
    assert luminance(light["text"]) < 0.1, light
    frame.evaluate("() => { window.__sameDocument = true; }")

    # TensorBoard's own control: the theme menu in its header, then "Dark".
    page.click('button[aria-label="Menu for changing light or dark theme"]')
    page.click('[title="Force dark TensorBoard theme."]')
    page.wait_for_function("() => document.body.classList.contains('dark-mode')", timeout=TIMEOUT_MS)
    frame.wait_for_function("() => document.documentElement.classList.contains('dark-mode')",
                            timeout=TIMEOUT_MS)
    dark = frame.evaluate(COLOURS)
    assert frame.evaluate("() => window.__sameDocument === true"), "the tab was reloaded"
    assert luminance(dark["page"]) < 0.05 and luminance(dark["card"]) < 0.05, dark
    assert luminance(dark["sidebar"]) < 0.05, dark
    assert contrast(dark["text"], dark["card"]) >= 7, dark
    assert contrast(dark["muted"], dark["sidebar"]) >= 4.5, dark

    # The charts' axes are drawn again in the dark theme's colour (uPlot reads it at each draw).
    axis = frame.evaluate("""() => {
      const canvas = document.querySelector('.layer-card canvas');
      const ctx = canvas.getContext('2d');
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let light = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 200 && data[i] > 150 && data[i + 1] > 150 && data[i + 2] > 150) light++;
      }
      return light;
    }""")
    assert axis > 20, "no light axis text on the dark chart"

    # And back to Light, still live.
    page.click('button[aria-label="Menu for changing light or dark theme"]')
    page.click('[title="Force light TensorBoard theme."]')
    frame.wait_for_function("() => !document.documentElement.classList.contains('dark-mode')",
                            timeout=TIMEOUT_MS)
    assert luminance(frame.evaluate(COLOURS)["card"]) > 0.8


def sparsity_frame(page):
    iframe = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]',
                                    timeout=TIMEOUT_MS)
    return iframe.content_frame()


def shown_section(frame):
    return frame.evaluate("""() => {
      const layers = document.querySelector('section.layers');
      if (layers && !layers.hidden) return 'layers';
      const view = [...document.querySelectorAll('section.view')].find((v) => !v.hidden);
      return view ? view.dataset.view : null;
    }""")


def test_a_link_reopens_the_heatmap_of_the_picked_run_and_back_steps_out(browser, tb_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        frame = open_dashboard(page, tb_url)
        frame.click('.tab[data-tab="heatmap"]')
        frame.wait_for_selector(".view-heatmap .run-picker", timeout=TIMEOUT_MS)
        first, run = frame.eval_on_selector(
            ".view-heatmap .run-picker",
            "s => [s.value, [...s.options].map(o => o.value).filter(v => v.startsWith('poly'))[0]]")
        assert run and run != first
        frame.select_option(".view-heatmap .run-picker", run)
        page.wait_for_function("r => location.hash.includes('p.sparsity.run=' + encodeURIComponent(r))",
                               arg=run, timeout=TIMEOUT_MS)
        url = page.url
        assert "#sparsity&" in url and "p.sparsity.tab=heatmap" in url, url
        if "/tb" in tb_url:
            assert "/tb/" in url

        # The link, in a browser context of its own: the Heatmap section of that run.
        other = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page2 = other.new_page()
            page2.goto(url)
            frame2 = sparsity_frame(page2)
            frame2.wait_for_selector(".view-heatmap:not([hidden]) .heatmap-facts:not([hidden])",
                                     timeout=TIMEOUT_MS)
            assert shown_section(frame2) == "heatmap"
            assert frame2.eval_on_selector(".view-heatmap .run-picker", "s => s.value") == run
            assert frame2.inner_text(".view-heatmap .heatmap-facts").startswith(run + ":")
        finally:
            other.close()

        # Back: first the run choice, then the section.
        page.go_back()
        page.wait_for_function("() => !location.hash.includes('p.sparsity.run=')", timeout=TIMEOUT_MS)
        frame.wait_for_function("f => document.querySelector('.view-heatmap .run-picker').value === f",
                                arg=first, timeout=TIMEOUT_MS)
        page.go_back()
        frame.wait_for_function("() => !document.querySelector('section.layers').hidden",
                                timeout=TIMEOUT_MS)
        assert shown_section(frame) == "layers"
        assert "p.sparsity.tab" not in page.url
    finally:
        context.close()


def test_a_pinned_layer_stays_pinned_after_a_reload(browser, tb_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        frame = open_dashboard(page, tb_url)
        keys = frame.eval_on_selector_all(".layer-card", "cards => cards.map(c => c.dataset.key)")
        last = keys[-1]
        assert len(keys) > 1 and keys[0] != last
        frame.click('.layer-card[data-key="%s"] .card-tool.pin' % last)
        frame.wait_for_function("k => document.querySelector('.layer-card').dataset.key === k", arg=last,
                                timeout=TIMEOUT_MS)
        page.wait_for_function("() => location.hash.includes('p.sparsity.pins=')", timeout=TIMEOUT_MS)

        page.reload()
        frame = sparsity_frame(page)
        frame.wait_for_selector(".layer-card.pinned", timeout=TIMEOUT_MS)
        first = frame.eval_on_selector(".layer-card", "c => [c.dataset.key, c.classList.contains('pinned')]")
        assert first == [last, True]
        assert frame.get_attribute('.layer-card[data-key="%s"] .card-tool.pin' % last, "aria-pressed") == "true"
    finally:
        context.close()


def test_full_width_card_width_and_keyboard(page, dashboard_tb):
    frame = open_dashboard(page, dashboard_tb.url.rstrip("/"))
    grid_width = frame.eval_on_selector(".layer-grid", "g => g.clientWidth")
    card = ".layer-card >> nth=1"
    before = frame.eval_on_selector(card, "c => c.clientWidth")
    assert before < grid_width / 2
    frame.click(card + " >> .card-tool.widen")
    frame.wait_for_function("() => document.querySelector('.layer-card.wide')", timeout=TIMEOUT_MS)
    assert frame.eval_on_selector(".layer-card.wide", "c => c.clientWidth") >= grid_width - 2
    # The chart follows the card's new width.
    frame.wait_for_function("""() => { const c = document.querySelector('.layer-card.wide');
        return c.querySelector('.plot canvas').clientWidth > c.clientWidth * 0.8; }""", timeout=TIMEOUT_MS)

    columns = lambda: frame.eval_on_selector(  # noqa: E731
        ".layer-grid", "g => getComputedStyle(g).gridTemplateColumns.split(' ').length")
    medium = columns()
    frame.select_option('select[aria-label="card width"]', "small")
    frame.wait_for_function("n => getComputedStyle(document.querySelector('.layer-grid'))"
                            ".gridTemplateColumns.split(' ').length > n", arg=medium, timeout=TIMEOUT_MS)
    assert "p.sparsity.width=small" in page.url

    # Keyboard only: Tab reaches a card's pin button, it shows focus, Enter pins.
    frame.focus(".sidebar .reload")
    for _ in range(200):
        page.keyboard.press("Tab")
        if frame.evaluate("() => document.activeElement.matches('.layer-card .card-tool.pin')"):
            break
    else:
        pytest.fail("Tab never reached a card's pin button")
    outline = frame.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    key = frame.evaluate("() => document.activeElement.closest('.layer-card').dataset.key")
    page.keyboard.press("Enter")
    frame.wait_for_function("k => document.querySelector('.layer-card').dataset.key === k"
                            " && document.querySelector('.layer-card').classList.contains('pinned')",
                            arg=key, timeout=TIMEOUT_MS)


def test_a_link_keeps_the_what_if_schedule_typed_in(browser, dashboard_tb):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        frame = open_dashboard(page, dashboard_tb.url.rstrip("/"))
        frame.click('.tab[data-tab="whatif"]')
        frame.wait_for_selector(".view-whatif .whatif-form:not([hidden])", timeout=TIMEOUT_MS)
        frame.fill('.view-whatif input[name="max_step"]', "345")
        frame.click('.view-whatif button[type="submit"]')
        page.wait_for_function("() => location.hash.includes('p.sparsity.whatif=')", timeout=TIMEOUT_MS)
        url = page.url

        page2 = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        try:
            page2.goto(url)
            frame2 = sparsity_frame(page2)
            frame2.wait_for_function(
                "() => document.querySelector('.view-whatif input[name=\"max_step\"]')?.value === '345'",
                timeout=TIMEOUT_MS)
            frame2.wait_for_function(
                "() => document.querySelector('.view-whatif .whatif-summary').textContent.includes('over 345 steps')",
                timeout=TIMEOUT_MS)
        finally:
            page2.context.close()
    finally:
        context.close()
