"""The tab feels native in TensorBoard (issue 17), in a real headless Chromium against a real
`tensorboard`: it follows TensorBoard's dark theme live, its view is kept in TensorBoard's URL
hash (`p.sparsity.*`) and reopens from a link, pinned layers survive a reload; also under
`--path_prefix`.
"""

import re

import pytest

from benchmarks.tb_launcher import TensorBoardProcess
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
    with TensorBoardProcess(dashboard_logdir, path_prefix="/tb/") as process:
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
