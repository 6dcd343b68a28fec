#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs
# the JavaScript unit tests (node --test) and the Python tests (pytest), browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/venv.sh
use_venv test

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the browser tests..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is missing: install Debian's 'chromium' package (the browser tests need it)" >&2
        exit 1
    fi
fi

# JavaScript unit tests; npm ci brings the pinned uPlot so the vendored copy is checked against it.
command -v node >/dev/null 2>&1 || { echo "node is missing: the JavaScript tests need Node.js 20+" >&2; exit 1; }
(cd frontend && npm ci --silent --no-audit --no-fund && node --test test/)

# In CI a missing dependency is a failure, never a skip.
export CI=${CI:-1}
"$VENV/bin/python" -m pytest tests -q -p no:cacheprovider "$@"

# The oldest TensorBoard we claim to support (setup.py), in a venv of its own.
if [ -f scripts/test_oldest_tensorboard.sh ]; then
    bash scripts/test_oldest_tensorboard.sh
fi
