#!/usr/bin/env bash
# The backend against the oldest TensorBoard setup.py claims (OLDEST_TENSORBOARD), in a
# separate venv without TensorFlow: route tests on synthetic logdirs and real `tensorboard`
# processes (both loaders), i.e. the hostile-input suites minus the browser.
#
#   scripts/test_oldest_tensorboard.sh [VENV_DIR]     (default: .venv-oldest-tb)
#
# TB_VERSION overrides the version under test (e.g. TB_VERSION=2.17.1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
OLDEST="$(sed -n 's/^OLDEST_TENSORBOARD = "\(.*\)"/\1/p' "$ROOT/setup.py")"
VERSION="${TB_VERSION:-$OLDEST}"
VENV="${1:-$ROOT/.venv-oldest-tb}"

if [ -f "$VENV/pyvenv.cfg" ] && [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import tensorboard, sys; sys.exit(tensorboard.__version__ != '$VERSION')" 2>/dev/null; then
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
# TensorBoard 2.16 predates NumPy 2: pin numpy < 2; werkzeug and protobuf as it declares them.
# A venv made for an older version is rebuilt (pip would keep e.g. 2.16.0's tf-nightly).
# The package's own requirements (setup.py) come with it, resolved next to the pinned TensorBoard.
"$VENV/bin/pip" install -q "tensorboard==$VERSION" "numpy<2" "pytest" "hypothesis" -e "$ROOT"
"$VENV/bin/python" -c "import tensorboard, numpy; print('tensorboard', tensorboard.__version__, 'numpy', numpy.__version__)"
if "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is None)"; then
  echo "TensorFlow is installed in $VENV: this check needs a venv without it" >&2
  exit 2
fi

cd "$ROOT"
# No TensorFlow here: the suites below build their logdirs with TensorBoard's own writer.
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  tests/unit/reading/test_hostile_logdirs.py tests/unit/serving/test_hostile_requests.py "${@:2}"
