"""The package's layers call downward only: a `tb-sparsity report` over tfmot, PyTorch and
other tools' logs, with both of TensorBoard's loaders, traced call by call, has no two
package files that call each other (a file that calls back into the file that called it
is a layer that is not one)."""

import collections
import os
import sys
import threading

import pytest

from conftest import ROOT
from tb_sparsity_plugin.cli import main as cli

pytestmark = pytest.mark.torch  # the PyTorch and tool logs are written by torch
PACKAGE = os.path.join(ROOT, "tb_sparsity_plugin") + os.sep


def traced_calls(args_list):
    """Counter of (caller file, callee file) within the package, over the CLI runs."""
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event != "call" or frame.f_back is None:
            return
        callee, caller = frame.f_code.co_filename, frame.f_back.f_code.co_filename
        if callee != caller and callee.startswith(PACKAGE) and caller.startswith(PACKAGE):
            calls[(caller[len(PACKAGE):], callee[len(PACKAGE):])] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        for args in args_list:
            assert cli.main(args) in (0, 1), args
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return calls


def test_no_two_package_files_call_each_other(tfmot_logdir, trap_logdir, tool_logdir):
    calls = traced_calls([["report", logdir, "-q", "--format", "json", "--load-fast", fast,
                           "--output", os.devnull]
                          for logdir in (tfmot_logdir, trap_logdir, tool_logdir)
                          for fast in ("false", "true")])
    # the trace saw the layers: sources, a framework, the analysis, the report
    files = {f for pair in calls for f in pair}
    for expected in ("reading/reader.py", "sources/registry.py", "tfmot/reading.py",
                     "sources/own.py", "sources/tools.py", "analysis/run_document.py",
                     "cli/report.py"):
        assert expected in files, sorted(files)
    both_ways = sorted({tuple(sorted(pair)) for pair in calls if pair[::-1] in calls})
    assert both_ways == [], [(a, b, calls[(a, b)], calls[(b, a)]) for a, b in both_ways]
