"""What a PyTorch user reads in the Sparsity tab (issue 34), in real Chromium against a real
`tensorboard`: runs told apart by colour, true words where nothing was compared, the
framework's own layer names, schedule texts that fit.

The logdir: PyTorch's own pruning-tutorial recipes, ten runs side by side at its top
(tests/generated/torch_recipe_runs.py), the layout that gave every run a shade of one blue.
"""

import itertools
import re

import pytest

from conftest import NO_TENSORFLOW, TensorBoardProcess
from test_dashboard_browser import TIMEOUT_MS, Console, assert_clean, backend_json, card, open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard, pytest.mark.torch]

RUNS = 10
# CIE76 distance two run colours must keep, in either theme (the palette keeps 28 or more).
MIN_DELTA_E = 25.0
# Contrast of a run colour against the card it is drawn on (WCAG's 3:1 for graphics).
MIN_CONTRAST = 3.0


@pytest.fixture(scope="module")
def recipe_tb(recipe_logdir):
    with TensorBoardProcess(recipe_logdir, env=NO_TENSORFLOW) as process:
        process.wait_ready(runs_expected=RUNS)
        yield process


def new_page(browser, scheme="light"):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    page.console = Console(page)
    return page


# -- colours -------------------------------------------------------------------------------------


def srgb_to_lab(rgb):
    def linear(c):
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a, b):
    """CIE76: the Euclidean distance in CIELAB (D65)."""
    return sum((p - q) ** 2 for p, q in zip(srgb_to_lab(a), srgb_to_lab(b))) ** 0.5


def contrast(a, b):
    def lum(rgb):
        c = [v / 255.0 for v in rgb]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css):
    return tuple(int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])


def hue(color):
    r, g, b = (v / 255.0 for v in color)
    mx, mn = max(r, g, b), min(r, g, b)
    if mx == mn:
        return 0.0
    d = mx - mn
    h = ((g - b) / d) % 6 if mx == r else (b - r) / d + 2 if mx == g else (r - g) / d + 4
    return h * 60


def swatches(frame):
    """{run: rgb} of the run list's swatches, as the browser draws them."""
    return {run: rgb(color) for run, color in frame.evaluate(
        """() => [...document.querySelectorAll('.run-item')].map(li =>
             [li.dataset.run, getComputedStyle(li.querySelector('.swatch')).backgroundColor])""")}


def card_background(frame):
    return rgb(frame.evaluate(
        "() => getComputedStyle(document.querySelector('.layer-card')).backgroundColor"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_ten_runs_side_by_side_each_get_a_clearly_different_colour(browser, recipe_tb, scheme):
    page = new_page(browser, scheme)
    try:
        frame = open_dashboard(page, recipe_tb.url)
        assert frame.evaluate("() => document.documentElement.classList.contains('dark-mode')") \
            == (scheme == "dark")
        groups = frame.eval_on_selector_all(".run-group", "gs => gs.map(g => g.dataset.group)")
        assert groups == [""]  # all ten in "(top level)": no group regex, one colour each
        colors = swatches(frame)
        assert len(colors) == RUNS
        pairs = [(delta_e(colors[a], colors[b]), a, b)
                 for a, b in itertools.combinations(sorted(colors), 2)]
        closest = min(pairs)
        print("closest run colours (%s theme): CIE76 dE %.1f between %s and %s"
              % (scheme, *closest))
        assert closest[0] >= MIN_DELTA_E, closest
        background = card_background(frame)
        for run, color in colors.items():
            assert contrast(color, background) >= MIN_CONTRAST, (run, color, background)

        # A run keeps its colour when a filter hides others, and after a reload.
        frame.fill(".sidebar input.filter >> nth=0", "^(l1|global)_")
        frame.wait_for_function("() => document.querySelectorAll('.run-item').length === 5",
                                timeout=TIMEOUT_MS)
        filtered = swatches(frame)
        assert filtered == {run: colors[run] for run in filtered}
        frame = open_dashboard(page, recipe_tb.url)
        assert swatches(frame) == colors
        if scheme == "light":  # TensorBoard switched to dark while the tab is open: recoloured
            page.click('button[aria-label="Menu for changing light or dark theme"]')
            page.click('[title="Force dark TensorBoard theme."]')
            frame.wait_for_function(
                "() => document.documentElement.classList.contains('dark-mode')",
                timeout=TIMEOUT_MS)
            dark = swatches(frame)
            assert all(dark[run] != colors[run] for run in colors), dark
            assert min(delta_e(dark[a], dark[b])
                       for a, b in itertools.combinations(dark, 2)) >= MIN_DELTA_E
            background = card_background(frame)
            assert all(contrast(c, background) >= MIN_CONTRAST for c in dark.values())
        assert_clean(page)
    finally:
        page.context.close()


def test_a_group_regex_gives_colour_families(browser, recipe_tb):
    page = new_page(browser)
    try:
        frame = open_dashboard(page, recipe_tb.url)
        frame.fill(".sidebar input.filter >> nth=1", "^(l1|global)_")
        frame.wait_for_function("() => document.querySelectorAll('.run-group').length === 3",
                                timeout=TIMEOUT_MS)
        families = frame.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('.run-group')].map(g =>
                 [g.dataset.group, [...g.querySelectorAll('.run-item .swatch')]
                    .map(s => getComputedStyle(s).backgroundColor)]))""")
        l1 = [rgb(c) for c in families["l1"]]
        glob = [rgb(c) for c in families["global"]]
        assert len(l1) == 3 and len(glob) == 2
        for family in (l1, glob):  # shades of one hue, told apart by lightness
            assert max(hue(c) for c in family) - min(hue(c) for c in family) < 8, family
            assert len(set(family)) == len(family)
        assert abs(hue(l1[0]) - hue(glob[0])) > 30
        assert_clean(page)
    finally:
        page.context.close()


# -- what was compared ---------------------------------------------------------------------------


def diagnostics_text(frame):
    return frame.evaluate("() => document.querySelector('.diagnostics').innerText")


def show_runs(frame, regex, count):
    frame.fill(".sidebar input.filter >> nth=0", regex)
    frame.wait_for_function(
        "(n) => document.querySelectorAll('.run-item').length === n"
        " && document.querySelector('.diag-not-compared, .diag-none')", arg=count,
        timeout=TIMEOUT_MS)
    frame.wait_for_function("() => ![...document.querySelectorAll('.banner-info')]"
                            ".some(b => b.textContent.startsWith('Loading run'))",
                            timeout=TIMEOUT_MS)


def test_runs_without_schedules_are_named_and_nothing_is_said_to_follow(browser, recipe_tb):
    page = new_page(browser)
    try:
        frame = open_dashboard(page, recipe_tb.url)
        # global_unstructured: one amount for the pool, no level per layer.
        show_runs(frame, "^global_random$", 1)
        text = diagnostics_text(frame)
        assert "follows its schedule" not in text, text
        assert "no expected curve" in text or "nothing was compared" in text, text
        assert "Global pruning" in text and "global_random" in text, text
        reasons = frame.eval_on_selector_all(
            ".not-compared-reason", "rs => rs.map(r => [r.dataset.count, r.innerText])")
        assert [count for count, _ in reasons] == ["5"], reasons

        # prune.identity: a method with no schedule; and the runs with one, in the same box.
        show_runs(frame, "^(identity|global_l1|l1_half)$", 3)
        text = diagnostics_text(frame)
        assert "follows its schedule" not in text, text
        assert "Not compared: 10 layers of 15 have no expected curve." in text, text
        assert "Identity, a method without a schedule on record" in text, text
        named = frame.eval_on_selector_all(".not-compared-run", "ls => ls.map(l => l.dataset.run)")
        assert sorted(named) == ["global_l1", "identity"]

        # Only runs with a schedule on every layer and no diagnostic: then, and only then.
        show_runs(frame, "^l1_", 3)
        assert frame.eval_on_selector_all(".diag-item", "ds => ds.length") == 0
        text = diagnostics_text(frame)
        assert "all 15 layers have an expected curve, and each follows its schedule" in text, text
        assert_clean(page)
    finally:
        page.context.close()


# -- the framework's own names, schedule texts ---------------------------------------------------


def test_a_pytorch_linear_card_reads_linear_and_its_key_says_how_runs_line_up(browser, recipe_tb):
    page = new_page(browser)
    try:
        frame = open_dashboard(page, recipe_tb.url)
        fc1 = card(frame, "2:Dense")
        assert fc1 is not None
        fc1.scroll_into_view_if_needed()
        assert fc1.eval_on_selector(".layer-name", "e => e.textContent") == "fc1"
        assert fc1.eval_on_selector(".layer-label", "e => e.textContent") == "2:Linear"
        key = fc1.eval_on_selector(".layer-key", "e => [e.textContent, e.title]")
        assert key[0] == "key 2:Dense"
        assert "PyTorch's Linear" in key[1] and "2:Linear" in key[1], key
        facts = fc1.eval_on_selector(".layer-facts", "e => e.textContent")
        assert "Linear" in facts and "Dense" not in facts.replace("key 2:Dense", ""), facts
        conv = card(frame, "0:Conv2D").eval_on_selector(".layer-label", "e => e.textContent")
        assert conv == "0:Conv2d"
        assert_clean(page)
    finally:
        page.context.close()


def test_schedule_texts_fit_short_in_legends_in_full_on_hover_and_in_the_table(browser, recipe_tb):
    page = new_page(browser)
    try:
        frame = open_dashboard(page, recipe_tb.url)
        frame.select_option('select[aria-label="card width"]', "small")  # the narrowest cards
        show_runs(frame, "^(random_then_l1|random_unstructured|l1_unstructured)$", 3)
        docs = {run: backend_json(recipe_tb, "run", run=run, series="none")
                for run in ("random_then_l1", "random_unstructured", "l1_unstructured")}
        for key in ("0:Conv2D", "2:Dense"):
            c = card(frame, key)
            c.scroll_into_view_if_needed()
            frame.wait_for_function(
                "(key) => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key"
                " === key).querySelector('.schedule-line')", arg=key, timeout=TIMEOUT_MS)
            lines = c.eval_on_selector_all(
                ".schedule-line", """ls => ls.map(l => ({text: l.querySelector('.schedule-text')
                    .textContent, title: l.title, cut: l.scrollWidth > l.clientWidth + 1,
                    ellipsis: getComputedStyle(l).textOverflow}))""")
            shorts = {l["schedule_short"] for d in docs.values() for l in d["layers"]
                      if l["key"] == key}
            fulls = {l["schedule_text"] for d in docs.values() for l in d["layers"]
                     if l["key"] == key}
            assert lines, key
            for line in lines:
                assert not line["cut"] and line["ellipsis"] != "ellipsis", line
                assert line["text"].split(" \u00b7 ")[0].split(" (")[0] in shorts, (line, shorts)
                assert any(full in line["title"] for full in fulls), (line, fulls)
        # The table view: the full text of every layer's schedule.
        frame.click('.tab[data-tab="table"]')
        frame.select_option(".view-table .run-picker", "random_then_l1")
        frame.wait_for_selector('.layer-table td[data-column="schedule"]', timeout=TIMEOUT_MS)
        cells = frame.eval_on_selector_all(
            '.layer-table tbody tr', """rs => rs.map(r => [r.dataset.key,
                (r.querySelector('td[data-column=schedule]') || {}).textContent])""")
        want = {l["key"]: l["schedule_text"] for l in docs["random_then_l1"]["layers"]}
        assert {key: text for key, text in cells if key in want} == want
        assert_clean(page)
    finally:
        page.context.close()
