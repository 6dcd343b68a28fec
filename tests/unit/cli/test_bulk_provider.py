"""BulkProvider over real data providers: TensorBoard's Python one (MultiplexerDataProvider)
and its Rust data server (GrpcDataProvider), on the real tfmot runs.

Whatever it prefetched or passed through, BulkProvider must answer exactly what the provider
it wraps answers; and it must ask that provider once per bulk request, not once per run.
"""

import concurrent.futures
import threading

import pytest
from tensorboard.context import RequestContext
from tensorboard.data import provider as provider_lib

from conftest import make_provider
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.cli.bulk_provider import BulkProvider
from tb_sparsity_plugin.cli.ingestion import Logdir

CTX = RequestContext()
EID = ""
# The plugins the reader lists and reads, with the downsampling it asks for.
LISTS = [("list_scalars", "scalars"), ("list_tensors", metadata.PLUGIN_NAME),
         ("list_blob_sequences", "graph_keras_model")]
READS = [("read_scalars", "scalars", 1_000_000), ("read_tensors", metadata.PLUGIN_NAME, 1),
         ("read_blob_sequences", "graph_keras_model", 1)]


class Counting:
    """A real provider that counts the calls it gets (what BulkProvider saves)."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = {}
        self._lock = threading.Lock()

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def call(*args, **kwargs):
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return call


@pytest.fixture(scope="module", params=["python", "rust"])
def inner(request, tfmot_logdir):
    """The same logdir through each of TensorBoard's loaders."""
    if request.param == "python":
        yield make_provider(tfmot_logdir)
    else:
        with Logdir(tfmot_logdir, load_fast="true") as source:
            assert source.loader == "rust"
            yield source.provider


@pytest.fixture(scope="module")
def runs(inner):
    return sorted(r.run_name for r in inner.list_runs(CTX, experiment_id=EID))


def filters(runs):
    """RunTagFilters the reader and other callers use: none, one run, a group, tags."""
    metrics = [r for r in runs if r.endswith("/metrics")]
    return [
        None,
        provider_lib.RunTagFilter(runs=[metrics[0]]),
        provider_lib.RunTagFilter(runs=[r for r in runs if r.startswith("poly/")]),
        provider_lib.RunTagFilter(runs=metrics, tags=["epoch_loss", "no_such_tag"]),
        provider_lib.RunTagFilter(tags=["keras"]),
        provider_lib.RunTagFilter(runs=["no_such_run"]),
    ]


def test_listings_equal_the_inner_providers(inner, runs):
    bulk = BulkProvider(inner, runs)
    for method, plugin in LISTS:
        for f in filters(runs):
            got = getattr(bulk, method)(CTX, experiment_id=EID, plugin_name=plugin,
                                        run_tag_filter=f)
            want = getattr(inner, method)(CTX, experiment_id=EID, plugin_name=plugin,
                                          run_tag_filter=f)
            assert got == want, (method, plugin, f)
    assert bulk.list_runs(CTX, experiment_id=EID) == inner.list_runs(CTX, experiment_id=EID)


@pytest.mark.parametrize("prefetched", ["all runs", "poly only"])
def test_reads_and_blobs_equal_the_inner_providers(inner, runs, prefetched):
    """With every run prefetched, and with only some (the rest passes through)."""
    bulk = BulkProvider(inner, runs if prefetched == "all runs"
                        else [r for r in runs if r.startswith("poly/")])
    try:
        bulk.warm(CTX, EID, lists=LISTS, reads=READS)
        with_data = set()
        for method, plugin, downsample in READS:
            for f in filters(runs):
                got = getattr(bulk, method)(CTX, experiment_id=EID, plugin_name=plugin,
                                            downsample=downsample, run_tag_filter=f)
                want = getattr(inner, method)(CTX, experiment_id=EID, plugin_name=plugin,
                                              downsample=downsample, run_tag_filter=f)
                assert got == want, (method, plugin, f)
                if got:
                    with_data.add(method)
                if method == "read_blob_sequences":
                    for by_tag in got.values():
                        for data in by_tag.values():
                            for ref in data[-1].values:
                                key = ref.blob_key
                                assert bulk.read_blob(CTX, blob_key=key) == \
                                    inner.read_blob(CTX, blob_key=key)
        assert with_data == {m for m, _, _ in READS}  # data was compared, not only {} == {}
    finally:
        bulk.close()


def test_one_inner_request_per_bulk_read_however_many_runs_ask(inner, runs):
    counting = Counting(inner)
    bulk = BulkProvider(counting, runs)
    try:
        bulk.warm(CTX, EID, lists=LISTS, reads=READS)
        calls = {k: v for k, v in counting.calls.items() if k != "read_blob"}
        assert calls == {"list_scalars": 1, "list_tensors": 1, "list_blob_sequences": 1,
                         "read_scalars": 1, "read_tensors": 1, "read_blob_sequences": 1}
        # The Keras model configs of the `train` runs were fetched ahead, once each.
        models = bulk.read_blob_sequences(CTX, experiment_id=EID, plugin_name="graph_keras_model",
                                          downsample=1,
                                          run_tag_filter=provider_lib.RunTagFilter(runs=runs))
        keys = [ref.blob_key for by_tag in models.values() for data in by_tag.values()
                for ref in data[-1].values[:1]]
        assert keys
        for key in keys:
            assert bulk.read_blob(CTX, blob_key=key) == inner.read_blob(CTX, blob_key=key)
        assert counting.calls["read_blob"] == len(keys)
        assert counting.calls["read_blob_sequences"] == 1

        # The reader's per-run requests, from several threads at once: answered from the
        # bulk reads, and equal to what the inner provider says for that run.
        def per_run(run):
            f = provider_lib.RunTagFilter(runs=[run])
            got = bulk.read_scalars(CTX, experiment_id=EID, plugin_name="scalars",
                                    downsample=1_000_000, run_tag_filter=f)
            bulk.list_tensors(CTX, experiment_id=EID, plugin_name=metadata.PLUGIN_NAME,
                              run_tag_filter=f)
            return run, got

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = dict(pool.map(per_run, runs))
        assert counting.calls["read_scalars"] == 1 and counting.calls["list_tensors"] == 1
        for run in runs:
            assert answers[run] == inner.read_scalars(
                CTX, experiment_id=EID, plugin_name="scalars", downsample=1_000_000,
                run_tag_filter=provider_lib.RunTagFilter(runs=[run]))

        # Another downsampling, or a run outside the bulk set: passed through to the inner.
        bulk.read_scalars(CTX, experiment_id=EID, plugin_name="scalars", downsample=10,
                          run_tag_filter=provider_lib.RunTagFilter(runs=runs[:1]))
        assert counting.calls["read_scalars"] == 2
        outside = BulkProvider(counting, runs[:1])
        outside.read_scalars(CTX, experiment_id=EID, plugin_name="scalars",
                             downsample=1_000_000, run_tag_filter=None)
        assert counting.calls["read_scalars"] == 3
    finally:
        bulk.close()


@pytest.mark.parametrize("walls", [False, True])
def test_scalar_points_equal_the_providers_read(inner, runs, walls):
    """scalar_points reads the Rust data server's columns itself: the same points, in the
    same order, as the provider's own read_scalars (and the Python loader's path is that)."""
    from tb_sparsity_plugin.reading import scalar_points

    for run in runs:
        tags = sorted(inner.list_scalars(CTX, experiment_id=EID, plugin_name="scalars",
                                         run_tag_filter=provider_lib.RunTagFilter(runs=[run]))
                      .get(run, {}))
        if not tags:
            continue
        expected = inner.read_scalars(
            CTX, experiment_id=EID, plugin_name="scalars", downsample=1_000_000,
            run_tag_filter=provider_lib.RunTagFilter(runs=[run], tags=tags)).get(run, {})
        got = scalar_points.read_points(inner, CTX, EID, "scalars", run, tags, 1_000_000, walls)
        assert sorted(got) == sorted(expected), run
        for tag, data in expected.items():
            want = [(d.step, d.value, d.wall_time) if walls else (d.step, d.value) for d in data]
            assert got[tag] == want, (run, tag)
