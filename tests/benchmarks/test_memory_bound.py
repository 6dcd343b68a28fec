"""Bounded memory (issue 14, item 4): a real TensorBoard that has answered 500 runs one
after another holds about the memory it held after the first few.

Every cache of the plugin has a bound (documents.py: bytes; reader.py: entries); this
checks the sum of them, and anything unbounded we forgot, from outside: the peak resident
set size of the TensorBoard process, which is what a user's machine has to hold. The
documents cache is set to 2 MB ($TB_SPARSITY_CACHE_MB, which also bounds the model cache)
so that both fill within the first runs. What the plugin did before issue 14 fails this:
it kept every run's encoded answers (~37 KB per run here, 18 MB over 500 runs, 15 MB over
the 400 after the first measurement; measured) and every run's parsed Keras model config.
Measured on a 2-core machine, TensorBoard without TensorFlow as the tests run it, peak RSS
after 100 / 250 / 500 runs: 128.9 / 131.5 / 131.5 MB with glibc's default arenas, alone;
123.8 / 123.8 / 123.8 MB with two arenas (as below) beside two browser tests.
"""

import os
import sys
import urllib.parse

import psutil
import pytest

from benchmarks import synthetic
from tb_sparsity_plugin.reading import cache as cache_lib

RUNS = 500
LAYERS = 20
STEPS = 10
# After the first fifth: the caches are full by then (2 MB of documents is ~60 runs), and so is
# the damage scanner's state of every event file, which fills in the background at its own
# pace (on a loaded machine it was still filling after the first 25 runs).
FIRST_FEW = 100
# What the bounded caches may still add after the first few runs at TB_SPARSITY_CACHE_MB=2
# (2 MB of documents, 1 MB of model wrappers, 0.5 MB of event-file configs, the listings),
# plus the allocator: the peak grew 0 to 2.6 MB by 500 runs here (the RSS of the moment 5.9
# to 18 MB: it dips after each analysis gives memory back). What the plugin kept before
# issue 14 added 15 MB after the first measurement.
ALLOWANCE_MB = 10


@pytest.fixture(scope="module")
def many_runs_logdir(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("many_runs") / "logs")
    synthetic.generate(logdir, RUNS, LAYERS, STEPS, processes=2)
    return logdir


def peak_rss_mb(pid):
    """The process's peak resident set size so far (Linux's VmHWM), in MB.

    The peak, not the RSS of the moment: the plugin gives freed memory back after each
    analysis (cache.release_free_memory), so the RSS of one moment dips and refills by more
    than this test's allowance (one full-suite run read 109.8 MB after 100 runs, 126.2 after
    250), while a cache without a bound raises the peak for good."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20  # no /proc: the RSS of the moment


def test_memory_stays_flat_over_500_runs(many_runs_logdir, tensorboard_process):
    # Two malloc arenas: glibc gives a thread a new arena when the others are busy, so how
    # many fill up depends on the machine's load, not on the plugin (the same code grew 2.6
    # MB over 400 runs alone and 10.7 MB in a loaded full-suite run, with the default of up
    # to 8 per core). This test is about the plugin's caches.
    tb = tensorboard_process(many_runs_logdir, load_fast="true",
                             env={"TB_SPARSITY_CACHE_MB": "2", "MALLOC_ARENA_MAX": "2"})
    runs = [r["run"] for r in tb.wait_ready(timeout=600, runs_expected=RUNS)]
    assert len(runs) == RUNS
    keys = None
    levels = []
    for i, run in enumerate(runs):
        # The lazy dashboard's requests (summary, then its cards' series) and the full
        # document (export, older clients): both shapes of the cache.
        lean = tb.get_json("/data/plugin/sparsity/run?" + urllib.parse.urlencode(
            {"run": run, "series": "none"}), timeout=60)
        keys = [layer["key"] for layer in lean["layers"]]
        assert len(keys) == LAYERS
        series = tb.get_json("/data/plugin/sparsity/series?" + urllib.parse.urlencode(
            [("run", run)] + [("layer", k) for k in keys]), timeout=60)
        assert len(series["runs"][run]["layers"]) == LAYERS
        full = tb.get_json("/data/plugin/sparsity/run?" + urllib.parse.urlencode(
            {"run": run}), timeout=60)
        assert full["last_step"] == lean["last_step"] == series["runs"][run]["last_step"]
        if i + 1 in (FIRST_FEW, RUNS // 2, RUNS):
            levels.append(peak_rss_mb(tb.proc.pid))
    first, middle, last = levels
    sys.stderr.write("TensorBoard peak RSS after %d / %d / %d runs: %.1f / %.1f / %.1f MB\n"
                     % (FIRST_FEW, RUNS // 2, RUNS, first, middle, last))
    assert last - first <= ALLOWANCE_MB, levels


@pytest.mark.parametrize("value, megabytes", [
    (None, 64), ("", 64), ("8", 8), ("0.5", 0.5), ("0", 0),
    ("-1", 64), ("lots", 64), ("nan", 64), ("inf", 64), ("1e400", 64)])
def test_cache_bound_from_the_environment(value, megabytes, caplog):
    from tb_sparsity_plugin.reading import cache

    environ = {} if value is None else {"TB_SPARSITY_CACHE_MB": value}
    assert cache.cache_bytes(environ) == int(megabytes * 2**20)
    warned = "TB_SPARSITY_CACHE_MB" in caplog.text
    assert warned == (value not in (None, "", "8", "0.5", "0"))


FREED_IN_A_THREAD = """
import sys, threading, psutil
from tb_sparsity_plugin.reading import cache
tuned = cache.keep_little_free_memory() if sys.argv[1] == "tuned" else False
me = psutil.Process()
before = me.memory_info().rss
def work():  # what a request does: big buffers, one after another, then freed
    for size in (8, 16, 24, 24, 16):
        buffer = bytearray(size << 20)
        buffer[::4096] = b"x" * len(buffer[::4096])  # touch every page
        del buffer
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(tuned, me.memory_info().rss - before)
"""


@pytest.mark.parametrize("tuned", ["tuned", "default"])
def test_memory_a_thread_freed_goes_back_with_the_plugins_malloc_settings(tuned):
    """glibc keeps a thread's freed buffers for the life of the process when its adaptive
    thresholds have grown; with the plugin's fixed 1 MB thresholds they go back at once.
    In a fresh process each (one whose allocator nobody has tuned yet); the default's
    growth is checked too, so that the test shows the difference it claims."""
    import subprocess

    environ = {k: v for k, v in os.environ.items()
               if k not in cache_lib.MALLOC_TUNING_VARIABLES}
    out = subprocess.run([sys.executable, "-c", FREED_IN_A_THREAD, tuned], env=environ,
                         capture_output=True, text=True, timeout=120, check=True)
    did_tune, grown = out.stdout.split()
    grown = int(grown)
    if tuned == "tuned":
        assert did_tune == "True"
        assert grown < 4e6, "%.1f MB kept" % (grown / 1e6)
    else:
        assert grown > 12e6, "%.1f MB kept" % (grown / 1e6)


def test_the_users_own_malloc_settings_are_kept():
    assert cache_lib.keep_little_free_memory({"MALLOC_TRIM_THRESHOLD_": "0"}) is False
    assert cache_lib.keep_little_free_memory(
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False


def test_documents_cache_stays_within_its_bytes(tfmot_logdir):
    from tensorboard.context import RequestContext

    from conftest import make_provider
    from tb_sparsity_plugin.serving import documents
    from tb_sparsity_plugin.reading import reader as reader_lib

    reader = reader_lib.Reader(make_provider(tfmot_logdir))
    ctx = RequestContext()
    runs = [s.run for s in reader.list_runs(ctx, "")]
    sizes = {}
    for run in runs:
        sizes[run] = documents.RunDocuments(reader).document(ctx, "", run).size
    bound = max(sizes.values()) * 2
    docs = documents.RunDocuments(reader, max_bytes=bound)
    for run in runs * 2:
        docs.document(ctx, "", run)
        assert docs._cache.bytes + docs._answers.bytes <= bound
    assert 1 <= len(docs._cache) < len(runs)
    # Batch answers share the bound.
    for i in range(len(runs)):
        docs.summaries(ctx, "", runs[i:] + runs[:i], first_layers=2)
        docs.series(ctx, "", runs[:i + 1], ["0:Dense"])
        assert docs._cache.bytes + docs._answers.bytes <= bound
    assert len(docs._answers) >= 1
    # The most recent run is answered from the cache: the same object again.
    assert docs.document(ctx, "", runs[-1]) is docs.document(ctx, "", runs[-1])
