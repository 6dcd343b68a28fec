"""The launcher every test, benchmark and script starts TensorBoard with (benchmarks/tb_launcher.py):
flags and environment reach the process, waits end in errors that show TensorBoard's output,
and stopping ends TensorBoard together with its Rust data server."""

import os
import time

import psutil
import pytest

from benchmarks.tb_launcher import TensorBoardProcess

pytestmark = pytest.mark.tensorboard


def test_path_prefix_extra_flags_environment_and_stop(tfmot_logdir, truth):
    tb = TensorBoardProcess(tfmot_logdir, load_fast="true", path_prefix="/tb/",
                            extra_args=["--samples_per_plugin", "scalars=7"],
                            env={"TB_LAUNCHER_TEST": "seen"})
    try:
        assert tb.url == "http://127.0.0.1:%d/tb" % tb.port
        runs = tb.wait_ready(runs_expected=len(truth))
        assert len(runs) == len(truth)
        assert "sparsity" in tb.get_json("/data/plugins_listing")
        process = psutil.Process(tb.proc.pid)
        assert process.environ()["TB_LAUNCHER_TEST"] == "seen"
        pythonpath = process.environ()["PYTHONPATH"].split(os.pathsep)
        assert os.path.realpath(pythonpath[0]) == os.path.realpath(
            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # this repository first
        assert "--samples_per_plugin" in process.cmdline() and "--path_prefix" in process.cmdline()
        children = process.children(recursive=True)
        assert any("server" in os.path.basename(c.exe()) for c in children)  # the data server
        # A wait that cannot succeed ends in an error that says what and shows the output.
        with pytest.raises(TimeoutError) as err:
            tb.wait_until(lambda: None, 1, "a thing that never happens")
        assert "a thing that never happens within 1 s" in str(err.value)
        assert "--- tensorboard output" in str(err.value)
    finally:
        tb.stop()
    assert tb.proc.poll() is not None
    deadline = time.monotonic() + 15
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, "the data server outlived TensorBoard"
        time.sleep(0.2)
    assert not os.path.exists(tb.log_path)  # a log the launcher made is removed
    tb.stop()  # idempotent


def test_a_tensorboard_that_cannot_start_is_an_error_with_its_output(tmp_path):
    with pytest.raises(RuntimeError) as err:
        TensorBoardProcess(str(tmp_path), extra_args=["--no_such_flag"], startup_timeout=120)
    assert "tensorboard exited with code 2" in str(err.value)
    assert "--no_such_flag" in str(err.value)  # TensorBoard's own complaint, from its stderr
