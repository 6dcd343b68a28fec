"""Screenshot of the Sparsity dashboard, as a user sees it in TensorBoard.

    python scripts/screenshot.py LOGDIR [--out docs/dashboard.png]

Starts a real `tensorboard` on LOGDIR (the plugin must be installed: `pip install -e .`),
opens its Sparsity tab in headless Chromium (Debian's `chromium`, driven by Playwright),
waits until every layer chart is drawn and saves the page. The README's screenshot is made with

    python demo/mnist_pruning.py --quick --logdir logs && python scripts/screenshot.py logs

and the screenshot of the other views (docs/views.png) with

    python scripts/screenshot.py logs --view quality --out docs/views.png

and the two themes (docs/light.png, docs/dark.png; TensorBoard follows the browser's colour
scheme by default, the tab follows TensorBoard) with

    python scripts/screenshot.py logs --theme dark --out docs/dark.png
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.tb_launcher import TensorBoardProcess  # noqa: E402
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def sparsity_frame(page, url, timeout_ms=60_000):
    """Opens TensorBoard's Sparsity tab and returns the dashboard's frame once it is drawn."""
    page.goto(url + "/#sparsity")
    iframe = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]', timeout=timeout_ms)
    frame = iframe.content_frame()
    frame.wait_for_selector(".layer-card canvas", timeout=timeout_ms)
    return frame


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logdir")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "dashboard.png"))
    p.add_argument("--width", type=int, default=1440)
    p.add_argument("--height", type=int, default=1400)
    p.add_argument("--runs", help="regex of the runs to select (default: all)")
    p.add_argument("--view", default="layers",
                   choices=("layers", "quality", "heatmap", "blocks", "table", "whatif"),
                   help="the dashboard's section to show (default: layers); e.g. "
                        "--view quality --out docs/views.png")
    p.add_argument("--run", help="the run of the single-run views (heatmap, blocks, table, "
                                 "whatif)")
    p.add_argument("--theme", choices=("light", "dark"), default="light",
                   help="the browser's colour scheme, which TensorBoard (and so the tab) follows")
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise SystemExit("%s not found: apt-get install -y chromium" % CHROMIUM)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with TensorBoardProcess(args.logdir, reload_interval=2) as tb, sync_playwright() as pw:
        tb.wait_ready(timeout=120)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height},
                                    color_scheme=args.theme)
            frame = sparsity_frame(page, tb.url)
            if args.runs:
                frame.fill(".sidebar input.filter >> nth=0", args.runs)
            if args.view != "layers":
                frame.click('.tab[data-tab="%s"]' % args.view)
                page.wait_for_timeout(1500)
                if args.run:
                    frame.select_option(".view-%s .run-picker" % args.view, args.run)
            page.wait_for_timeout(1500)  # let charts settle after the last fetch
            page.screenshot(path=args.out)
        finally:
            browser.close()
    print("wrote", args.out)


if __name__ == "__main__":
    main()
