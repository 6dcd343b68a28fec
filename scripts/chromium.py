"""Debian's Chromium for the browser tests, the screenshot and the benchmark.

Playwright cannot download browsers here, so every launch uses the system's `chromium`.
The flags keep headless Chromium quiet on a machine with no network: without the
background-networking ones it keeps trying to reach Google's hosts.
"""

import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
