"""Checkpoints in the Sparsity tab: real Chromium, real `tensorboard`.

The logdir is made as a user makes it, with `tb-sparsity inspect DIR --logdir L --run NAME`,
from a tiny Llama pruned by llm-compressor (SparseGPT 2:4, Wanda 50%, a copy doctored to break
2:4 in one tensor; conftest's llm_checkpoints) and from a Hugging Face Trainer output_dir with
checkpoints at steps 2, 4 and 6 (trainer_checkpoints). The layer cards draw their series, the
Blocks view's grid shows every block and module type with the values the backend measured,
the doctored tensor's cell stands out, and the profiles compare the runs block by block.

TB_SPARSITY_SCREENSHOTS=1 also saves docs/checkpoints_heatmap.png (the README's screenshot).
"""

import contextlib
import io
import os

import pytest

from conftest import NO_TENSORFLOW, TensorBoardProcess
from test_dashboard_browser import (  # noqa: F401  (page is a fixture)
    TIMEOUT_MS, assert_clean, backend_json, open_dashboard, page, readout_runs)
from tb_sparsity_plugin.cli import main as cli

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard, pytest.mark.torch]

LLM_RUNS = ("sparsegpt_24", "wanda_50", "sparsegpt_24_broken")
BROKEN = "model.layers.1.self_attn.o_proj"
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "docs")


def inspect_into(path, logdir, run):
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["inspect", path, "--logdir", logdir, "--run", run, "--format",
                         "json"]) == 0


@pytest.fixture(scope="module")
def checkpoint_logdir(llm_checkpoints, trainer_checkpoints, tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("checkpoint_runs") / "logs")
    for run in LLM_RUNS:
        inspect_into(os.path.join(llm_checkpoints, run), logdir, run)
    inspect_into(trainer_checkpoints["output_dir"], logdir, "trainer_bert")
    return logdir


@pytest.fixture(scope="module")
def checkpoint_tb(checkpoint_logdir):
    with TensorBoardProcess(checkpoint_logdir, env=NO_TENSORFLOW) as process:
        process.runs = process.wait_ready(runs_expected=4)
        yield process


def layers_of(tb, run):
    return {layer["name"]: layer for layer in backend_json(tb, "run", run=run)["layers"]}


def open_blocks(page, tb, run, mode=None):
    frame = open_dashboard(page, tb.url)
    tab = frame.query_selector('.tab[data-tab="blocks"]')
    assert tab.is_visible()  # every run here is a transformer read from checkpoints
    tab.click()
    show(frame, run, mode)
    return frame


def show(frame, run, mode=None):
    frame.select_option(".view-blocks .run-picker", run)
    if mode:
        frame.click('.view-blocks button[data-mode="%s"]' % mode)
    frame.wait_for_function(
        "([run, mode]) => { const c = document.querySelector('.blocks-canvas');"
        " return c && c.dataset.run === run && (!mode || c.dataset.mode === mode)"
        " && document.querySelectorAll('.blocks-table td').length > 0 }",
        arg=[run, mode], timeout=TIMEOUT_MS)


def grid_cells(frame):
    """{(block, column): the cell's data and text} of the grid's table."""
    cells = frame.eval_on_selector_all(
        ".blocks-table td",
        "tds => tds.map(td => ({...td.dataset, text: td.textContent, title: td.title}))")
    return {(int(c["block"]), c["column"]): c for c in cells}


def test_checkpoint_runs_draw_their_layer_cards(checkpoint_tb, page):
    frame = open_dashboard(page, checkpoint_tb.url)
    meta = dict(frame.eval_on_selector_all(
        ".run-item",
        "ls => ls.map(l => [l.dataset.run, l.querySelector('.run-meta').textContent])"))
    assert set(meta) == set(LLM_RUNS) | {"trainer_bert"}
    assert all("Checkpoints (PyTorch)" in text for text in meta.values()), meta
    assert "step 6" in meta["trainer_bert"]
    # Cards line tensors up by name: one card per tensor of any run.
    names = set()
    for run in meta:
        names |= set(layers_of(checkpoint_tb, run))
    frame.wait_for_function("(n) => document.querySelectorAll('.layer-card').length === n",
                            arg=len(names), timeout=TIMEOUT_MS)
    for name, runs in ((BROKEN, set(LLM_RUNS)),
                       ("model.layers.0.mlp.down_proj", {"wanda_50"}),  # SparseGPT ignored it
                       ("bert.encoder.layer.0.attention.self.query", {"trainer_bert"})):
        frame.fill(".sidebar input.filter >> nth=2", "^%s$" % name.replace(".", r"\."))
        frame.wait_for_function(
            "(name) => { const cs = document.querySelectorAll('.layer-card');"
            " return cs.length === 1 && cs[0].dataset.key === name"
            " && cs[0].querySelectorAll('.readout tbody tr').length > 0 }",
            arg=name, timeout=TIMEOUT_MS)
        assert set(readout_runs(frame, name)) == runs, name
        plot = frame.query_selector(".layer-card .plot")
        assert int(plot.get_attribute("data-series-count")) >= len(runs)
    assert_clean(page)


def test_blocks_grid_shows_every_block_and_module_with_its_values(checkpoint_tb, page):
    frame = open_blocks(page, checkpoint_tb, "sparsegpt_24")
    for run in LLM_RUNS + ("trainer_bert",):
        show(frame, run)
        layers = layers_of(checkpoint_tb, run)
        in_blocks = {n: l for n, l in layers.items() if l.get("block") is not None}
        cells = grid_cells(frame)
        canvas = frame.query_selector(".blocks-canvas")
        blocks = sorted({l["block"] for l in in_blocks.values()})
        assert canvas.get_attribute("data-blocks") == " ".join(map(str, blocks))
        filled = {k: c for k, c in cells.items() if c.get("tensor")}
        assert sorted(c["tensor"] for c in filled.values()) == sorted(in_blocks), run
        for cell in filled.values():
            layer = in_blocks[cell["tensor"]]
            assert cell["block"] == str(layer["block"])
            assert float(cell["measured"]) == layer["final_sparsity"], cell
            if layer["final_n_m_compliance"] is not None:
                assert float(cell["nm"]) == layer["final_n_m_compliance"], cell
        if run != "trainer_bert":
            columns = canvas.get_attribute("data-columns").split()
            assert columns[:4] == ["q_proj", "k_proj", "v_proj", "o_proj"]
            assert ("down_proj" in columns) == (run == "wanda_50")  # SparseGPT ignored it
        else:  # BERT's three `dense` modules of a block: a column each
            assert canvas.get_attribute("data-step") == "6"
            columns = canvas.get_attribute("data-columns").split()
            assert {"attention.output.dense", "intermediate.dense", "output.dense"} <= set(columns)
    # The doctored tensor: 3 groups of 1024 with 3 non-zeros
    healthy = grid_cells(frame_after(frame, "sparsegpt_24"))
    broken = grid_cells(frame_after(frame, "sparsegpt_24_broken"))
    assert float(broken[(1, "o_proj")]["measured"]) < float(healthy[(1, "o_proj")]["measured"])
    assert float(broken[(1, "o_proj")]["nm"]) == 1 - 3 / 1024.0
    assert [k for k in broken if broken[k]["text"] != healthy[k]["text"]] == [(1, "o_proj")]
    assert_clean(page)


def frame_after(frame, run):
    show(frame, run)
    return frame


def cell_pixel(frame, block_index, column_index):
    """The colour drawn at the top-left inside of a grid cell, [r, g, b]."""
    return frame.evaluate(
        """([r, c]) => { const canvas = document.querySelector('.blocks-canvas');
           const [left, top, w, h] = canvas.dataset.cells.split(' ').map(Number);
           const ratio = canvas.width / canvas.clientWidth;
           const px = canvas.getContext('2d').getImageData(
             Math.round((left + c * w + 3) * ratio), Math.round((top + r * h + 3) * ratio),
             1, 1).data;
           return [px[0], px[1], px[2]]; }""", [block_index, column_index])


def test_the_doctored_cell_stands_out_and_its_hover_says_why(checkpoint_tb, page):
    frame = open_blocks(page, checkpoint_tb, "sparsegpt_24_broken", mode="nm")
    columns = frame.get_attribute(".blocks-canvas", "data-columns").split()
    o = columns.index("o_proj")
    assert cell_pixel(frame, 1, o) != cell_pixel(frame, 0, o)
    assert cell_pixel(frame, 0, o) == cell_pixel(frame, 1, columns.index("q_proj"))
    # hover the cell: the tooltip names the tensor, measured, declared and compliance
    box = frame.query_selector(".view-blocks .blocks-overlay").bounding_box()
    left, top, w, h = map(float, frame.get_attribute(".blocks-canvas", "data-cells").split())
    page.mouse.move(box["x"] + left + (o + 0.5) * w, box["y"] + top + 1.5 * h)
    tooltip = frame.wait_for_selector(".view-blocks .blocks-tooltip:not([hidden])",
                                      timeout=TIMEOUT_MS)
    text = tooltip.inner_text()
    for part in (BROKEN, "block 1, o_proj", "measured 49.93%",
                 "declared 50.0% 2:4 (SparseGPTModifier, recipe.yaml)", "2:4 groups ok 99.71%"):
        assert part in text, (part, text)
    # the analysis says it too, in the diagnostics of the run
    codes = [d["code"] for d in backend_json(checkpoint_tb, "run", run="sparsegpt_24_broken")
             ["diagnostics"] if d["severity"] == "warning"]
    assert codes == ["declared_n_m_broken"]
    if os.environ.get("TB_SPARSITY_SCREENSHOTS"):
        page.mouse.move(0, 0)
        frame.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(DOCS, "checkpoints_heatmap.png"),
                        clip={"x": 0, "y": 0, "width": 1400, "height": 830})
    assert_clean(page)


def test_profiles_compare_runs_block_by_block(checkpoint_tb, page):
    frame = open_blocks(page, checkpoint_tb, "wanda_50", mode="nm")
    frame.wait_for_function(
        "() => document.querySelector('.blocks-profile canvas').dataset.lines === '4'",
        timeout=TIMEOUT_MS)
    frame.select_option(".view-blocks .module-picker", "o_proj")
    frame.wait_for_function(
        "() => document.querySelector('.blocks-profile canvas').dataset.lines === '3'",
        timeout=TIMEOUT_MS)  # BERT has no o_proj
    legend = frame.eval_on_selector_all(".blocks-legend .legend-item",
                                        "ls => ls.map(l => l.dataset.run)")
    assert sorted(legend) == sorted(LLM_RUNS)
    points = int(frame.get_attribute(".blocks-profile canvas", "data-points"))
    assert points == 3 * 2  # three runs, two blocks
    # a step before the trainer's last: its grid shows the values held there
    show(frame, "trainer_bert")
    frame.fill(".view-blocks .blocks-step", "2")
    frame.press(".view-blocks .blocks-step", "Enter")
    frame.wait_for_function("() => document.querySelector('.blocks-canvas').dataset.step === '2'",
                            timeout=TIMEOUT_MS)
    table = backend_json(checkpoint_tb, "table", run="trainer_bert", step=2)["rows"]
    held = {r["name"]: r["measured"] for r in table}
    for cell in grid_cells(frame).values():
        if cell.get("tensor"):
            assert float(cell["measured"]) == held[cell["tensor"]]
    assert_clean(page)
