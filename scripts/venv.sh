# Sourced by demo.sh and test.sh: `use_venv EXTRA` makes $VENV (default .venv) if it is
# missing and installs this package with the given extra into it.
use_venv() {
    PYTHON=${PYTHON:-python3}
    VENV=${VENV:-.venv}
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q ".[$1]"
}
