"""Keras and PyTorch runs side by side in the Sparsity tab: real Chromium, real `tensorboard`.

One logdir holds the real tfmot runs (tests/generated/tfmot_runs.py) and real PyTorch runs written by
SparsityWriter (tests/generated/torch_trap_runs.py, under `torch/`) plus runs in SparseML's and
Distiller's tag formats (tests/generated/torch_tool_runs.py, under `tools/`). Both frameworks are in
the run list, the PyTorch model built like the Keras one shares its layer cards, the trap
runs' diagnostics are shown and a PyTorch layer card states its N:M compliance.
"""

import os
import shutil

import pytest

from conftest import NO_TENSORFLOW, GENERATED, TensorBoardProcess, copy_logdir, run_python
from test_dashboard_browser import (  # noqa: F401  (page is a fixture)
    TIMEOUT_MS, assert_clean, backend_json, card, open_dashboard, page, readout_runs)
from conftest import require_torch

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard, pytest.mark.torch]


@pytest.fixture(scope="module")
def mixed_logdir(tfmot_logdir, trap_logdir, tool_logdir, tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_and_pytorch")
    out = copy_logdir(tfmot_logdir, str(root / "logs"))
    shutil.copytree(trap_logdir, os.path.join(out, "torch"))
    for run in ("sparseml", "distiller"):
        shutil.copytree(os.path.join(tool_logdir, run), os.path.join(out, "tools", run))
    os.remove(os.path.join(out, "torch", "truth.json"))
    return out


@pytest.fixture(scope="module")
def mixed_tb(mixed_logdir):
    with TensorBoardProcess(mixed_logdir, env=NO_TENSORFLOW) as process:
        process.runs = process.wait_ready(runs_expected=6 + 7 + 2)
        yield process


def shared_readout(frame, key):
    """The runs in a layer card's readout, once the card is in view and shows two or more."""
    card(frame, key).scroll_into_view_if_needed()
    frame.wait_for_function(
        "(key) => [...[...document.querySelectorAll('.layer-card')].find(c => c.dataset.key"
        " === key).querySelectorAll('.readout tbody tr')].length > 1", arg=key,
        timeout=TIMEOUT_MS)
    return readout_runs(frame, key)


def test_keras_and_pytorch_runs_side_by_side(mixed_tb, page):
    frame = open_dashboard(page, mixed_tb.url)
    listed = frame.eval_on_selector_all(".run-item", "ls => ls.map(l => l.dataset.run)")
    for run in ("poly/metrics", "trap/metrics", "torch/mirror", "torch/cadence", "torch/healthy",
                "tools/sparseml", "tools/distiller"):
        assert run in listed, (run, listed)
    # The PyTorch model built like tfmot_runs.py's Sequential shares its cards.
    keys = [l["key"] for l in backend_json(mixed_tb, "run", run="torch/mirror")["layers"]]
    assert keys == ["0:Conv2D", "2:Dense", "3:Dense"]
    for key in keys:
        runs = shared_readout(frame, key)
        assert "torch/mirror" in runs and "poly/metrics" in runs, (key, runs)
    # SparseML's and Distiller's runs of one torch model share theirs (module paths).
    assert {"tools/sparseml", "tools/distiller"} <= set(shared_readout(frame, "features.0"))
    assert_clean(page)


def test_the_trap_runs_diagnostics_are_shown(mixed_tb, page):
    frame = open_dashboard(page, mixed_tb.url)
    frame.wait_for_selector(".diag-item", timeout=TIMEOUT_MS)
    shown = frame.eval_on_selector_all(
        ".diag-item", "bs => bs.map(b => [b.dataset.run, b.dataset.code, b.innerText])")
    by_code = {}
    for run, code, text in shown:
        by_code.setdefault(code, []).append((run, text))
    for code, run in (("scheduler_cadence", "torch/cadence"),
                      ("scheduler_before_sparsifier", "torch/order"),
                      ("level_not_representable", "torch/blocks"),
                      ("ramp_exceeds_training", "torch/ramp"),
                      ("mask_removed_early", "torch/squash")):
        assert any(r == run for r, _ in by_code.get(code, [])), (code, by_code.get(code))
    cadence = [t for r, t in by_code["scheduler_cadence"] if r == "torch/cadence"][0]
    assert "Call scheduler.step() right after each sparsifier.step()" in cadence
    # The healthy PyTorch runs have none.
    assert not [c for c, items in by_code.items() for r, _ in items
                if r in ("torch/healthy", "torch/mirror", "tools/sparseml", "tools/distiller")]
    assert_clean(page)


def test_a_pytorch_card_states_its_n_m_compliance(mixed_tb, page):
    frame = open_dashboard(page, mixed_tb.url)
    c = card(frame, "1:Dense")  # the trap runs' second Linear (only PyTorch runs have it)
    c.scroll_into_view_if_needed()
    frame.wait_for_function(
        "() => [...document.querySelectorAll('.layer-card')].find(c => c.dataset.key === '1:Dense')"
        ".innerText.includes('groups ok')", timeout=TIMEOUT_MS)
    text = card(frame, "1:Dense").inner_text()
    assert "CubicSL" in text and "2:4 groups ok" in text
    assert_clean(page)
