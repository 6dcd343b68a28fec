#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs
# the JavaScript unit tests (node --test) and the Python tests (pytest), browser tests included.
#
#   scripts/test.sh [PYTEST ARGS]           everything (what CI runs: .ci/run)
#   scripts/test.sh --fast [PYTEST ARGS]    a developer's quick check, under two minutes: no
#                                           installs, no browser, no TensorBoard process, no
#                                           training, no benchmark (README, "Fast tests")
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/venv.sh

if [ "${1:-}" = "--fast" ]; then
    shift
    VENV=${VENV:-.venv}
    [ -x "$VENV/bin/python" ] || use_venv test  # the first time only
    # The tfmot runs most tests read are trained once and kept, keyed by what writes them.
    key=$(cat tests/generated/tfmot_runs.py tb_sparsity_plugin/tfmot/callback.py tb_sparsity_plugin/metadata.py \
          | sha1sum | cut -c1-12)
    export TB_SPARSITY_TEST_LOGDIR=${TB_SPARSITY_TEST_LOGDIR:-$PWD/.cache/tfmot_runs-$key}
    if [ -d frontend/node_modules ] && command -v node >/dev/null 2>&1; then
        (cd frontend && node --test test/)
    fi
    # TensorFlow and PyTorch hidden (tests/support/no_tensorflow, tests/support/no_torch), as for a user
    # without them: none of these tests needs them, and importing them costs seconds each
    # (TensorBoard's writer imports TensorFlow just to write files; collection imports torch).
    # So modules that need torch skip here (outside CI only: unset it).
    export PYTHONPATH="$PWD/tests/support/no_tensorflow:$PWD/tests/support/no_torch:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    unset CI
    exec "$VENV/bin/python" -m pytest tests -q -p no:cacheprovider \
        -m "not browser and not tensorboard and not tensorflow and not torch and not benchmark and not emulator" "$@"
fi

# The installs overlap: pip (this venv; it keeps about one core busy) in front, Debian's
# Chromium and the JavaScript tests behind it, their output kept for later.
started=$(date +%s)
side_logs=$(mktemp -d)
trap 'rm -rf "$side_logs"' EXIT

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here);
# JavaScript unit tests: npm ci brings the pinned uPlot so the vendored copy is checked against it.
browser_and_js() {
    if ! command -v chromium >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "installing Debian's chromium for the browser tests..."
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            echo "chromium is missing: install Debian's 'chromium' package (the browser tests need it)"
            return 1
        fi
    fi
    command -v node >/dev/null 2>&1 || { echo "node is missing: the JavaScript tests need Node.js 20+"; return 1; }
    (cd frontend && npm ci --silent --no-audit --no-fund && node --test test/)
}
browser_and_js >"$side_logs/js" 2>&1 &
js_pid=$!

use_venv test
status=0
wait "$js_pid" || status=$?
echo "--- Chromium and the JavaScript tests ---"
cat "$side_logs/js"
[ "$status" = 0 ] || exit "$status"
echo "--- installs done in $(( $(date +%s) - started )) s; the Python tests ---"

# In CI a missing dependency is a failure, never a skip.
export CI=${CI:-1}
# The oldest TensorBoard we claim to support (setup.py), in a venv of its own: installed and
# run beside the main suite (it needs no TensorFlow, no browser and a few seconds of CPU);
# after the install above, which builds this package in the same source tree.
oldest_pid=
if [ -f scripts/test_oldest_tensorboard.sh ]; then
    # its own temporary directory: pytest prunes old ones of its own user's by number
    PYTEST_ADDOPTS="--basetemp=$(mktemp -d)" bash scripts/test_oldest_tensorboard.sh \
        >"$side_logs/oldest" 2>&1 &
    oldest_pid=$!
fi

# pytest-xdist: test files spread over TEST_WORKERS processes (a file's tests stay together,
# so its module fixtures are made once); the trained runs every file reads are made once
# for all of them (tests/conftest.py, made_once). Many tests wait on TensorBoard, Chromium
# or a training subprocess, so one more worker than cores keeps the cores busy (two more
# overloaded a 2-core machine: slower, and browser waits ran out).
workers=${TEST_WORKERS:-$(( $(nproc) + 1 ))}
"$VENV/bin/python" -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadfile "$@" || status=$?
if [ -n "$oldest_pid" ]; then
    oldest_status=0
    wait "$oldest_pid" || oldest_status=$?
    echo "--- the oldest TensorBoard (scripts/test_oldest_tensorboard.sh) ---"
    cat "$side_logs/oldest"
    [ "$oldest_status" = 0 ] || status=$oldest_status
fi
echo "--- scripts/test.sh took $(( $(date +%s) - started )) s ---"
exit "$status"
