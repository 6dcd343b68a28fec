"""The lazy data flow: `run?series=none` and the batched `series` route (issue 14), over a
real data provider reading real tfmot runs."""

import json
import urllib.parse

import pytest

from conftest import make_client
from tb_sparsity_plugin.serving import documents

SERIES_KEYS = set(documents.LAYER_SERIES)


def get(client, path, params):
    """GET with repeated parameters: `params` is a list of (name, value)."""
    response = client.get("/data/plugin/sparsity/%s?%s" % (path, urllib.parse.urlencode(params)))
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.get_data())


@pytest.fixture(scope="module")
def lazy_client(tfmot_logdir):
    return make_client(tfmot_logdir)


def all_runs(client):
    return [r["run"] for r in get(client, "runs", [])[1]["runs"]]


def test_series_none_is_the_full_document_without_layer_series(lazy_client):
    for run in all_runs(lazy_client):
        status, full = get(lazy_client, "run", [("run", run)])
        assert status == 200 and full["series"] == "all"
        status, lean = get(lazy_client, "run", [("run", run), ("series", "none")])
        assert status == 200 and lean["series"] == "none"
        assert lean["layers"] and len(lean["layers"]) == len(full["layers"])
        for a, b in zip(lean["layers"], full["layers"]):
            assert not SERIES_KEYS & set(a), a.keys()
            assert a == {k: v for k, v in b.items() if k not in SERIES_KEYS}
            assert "final_sparsity" in a and "key" in a
        # Everything but the layer series is kept: model series, diagnostics, last_step.
        rest = lambda doc: {k: v for k, v in doc.items() if k not in ("layers", "series")}
        assert rest(lean) == rest(full)
        assert lean["model"]["measured"]


def test_series_none_is_gzipped_like_the_full_document(lazy_client):
    import gzip

    url = "/data/plugin/sparsity/run?run=poly/metrics&series=none"
    plain = lazy_client.get(url)
    zipped = lazy_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()


@pytest.mark.parametrize("threshold", ["0", "1"])
def test_series_batch_equals_the_full_documents(lazy_client, threshold):
    runs = all_runs(lazy_client)
    fulls = {run: get(lazy_client, "run", [("run", run), ("threshold", threshold)])[1]
             for run in runs}
    keys = sorted({layer["key"] for doc in fulls.values() for layer in doc["layers"]})
    params = [("run", r) for r in runs] + [("layer", k) for k in keys]
    status, body = get(lazy_client, "series", params + [("threshold", threshold)])
    assert status == 200
    assert set(body["runs"]) == set(runs)
    some_threshold = False
    for run, doc in fulls.items():
        answer = body["runs"][run]
        assert answer["last_step"] == doc["last_step"]
        # Exactly the run's own layers: a key of another run is absent, not null.
        assert set(answer["layers"]) == {layer["key"] for layer in doc["layers"]}
        for layer in doc["layers"]:
            got = answer["layers"][layer["key"]]
            assert got == {k: layer[k] for k in SERIES_KEYS if k in layer}
            assert got["measured"] == layer["measured"] and got["measured"]
            some_threshold |= bool(got["threshold"])
    assert some_threshold == (threshold == "1")


def test_summaries_batch_equals_each_runs_summary(lazy_client):
    runs = all_runs(lazy_client)
    assert len(runs) > 2
    status, body = get(lazy_client, "summaries",
                       [("run", r) for r in runs] + [("run", "no/such/run"), ("run", runs[0])])
    assert status == 200
    assert list(body["runs"]) == runs + ["no/such/run"]  # in order, duplicates answered once
    assert body["runs"]["no/such/run"] == {"error": "no sparsity data for run 'no/such/run'"}
    for run in runs:
        _, lean = get(lazy_client, "run", [("run", run), ("series", "none")])
        assert body["runs"][run] == lean and lean["series"] == "none"
    _, with_threshold = get(lazy_client, "summaries", [("run", runs[0]), ("threshold", "1")])
    _, lean = get(lazy_client, "run", [("run", runs[0]), ("series", "none"), ("threshold", "1")])
    assert with_threshold["runs"][runs[0]] == lean



def test_summaries_with_first_layers_bring_the_first_cards_series(lazy_client):
    """`first_layers=N`: the same summaries, plus what `series?packed=1` answers for each
    run's first N layers in the dashboard's order (position, then name)."""
    runs = all_runs(lazy_client)
    params = [("run", r) for r in runs] + [("run", "no/such/run")]
    _, plain = get(lazy_client, "summaries", params)
    status, body = get(lazy_client, "summaries", params + [("first_layers", "2")])
    assert status == 200
    assert body["runs"] == plain["runs"]
    assert body["series"]["no/such/run"] == {"error": "no sparsity data for run 'no/such/run'"}
    for run in runs:
        layers = sorted(plain["runs"][run]["layers"], key=lambda l: (l["position"], l["name"]))
        first = [layer["key"] for layer in layers[:2]]
        assert len(first) == 2
        _, series = get(lazy_client, "series", [("run", run), ("packed", "1")]
                        + [("layer", k) for k in first])
        assert body["series"][run] == series["runs"][run]
        assert list(body["series"][run]["layers"]) == first
    status, body = get(lazy_client, "summaries", [("run", runs[0]), ("first_layers", "301")])
    assert status == 400 and "first_layers" in body["error"]
    _, zero = get(lazy_client, "summaries", [("run", runs[0]), ("first_layers", "0")])
    assert "series" not in zero

def unpack(packed):
    """http_api.md's `packed=1` series, back to pairs."""
    steps = [s for item in packed["steps"] for s in (
        range(item[0], item[0] + item[1] * item[2], item[1]) if isinstance(item, list)
        else [item])]
    values = [v for item in packed["values"] for v in (
        [item[0]] * item[1] if isinstance(item, list) else [item])]
    assert len(steps) == len(values)
    return [[s, v] for s, v in zip(steps, values)]


def test_packed_series_unpack_to_the_same_pairs(lazy_client):
    runs = all_runs(lazy_client)
    keys = sorted({layer["key"] for run in runs
                   for layer in get(lazy_client, "run", [("run", run), ("series", "none")])[1]["layers"]})
    params = [("run", r) for r in runs] + [("layer", k) for k in keys] + [("threshold", "1")]
    _, plain = get(lazy_client, "series", params)
    _, packed = get(lazy_client, "series", params + [("packed", "1")])
    series_seen = 0
    for run, answer in plain["runs"].items():
        assert packed["runs"][run]["last_step"] == answer["last_step"]
        for key, series in answer["layers"].items():
            for name, value in series.items():
                got = packed["runs"][run]["layers"][key][name]
                if isinstance(value, list) and value:
                    assert isinstance(got, dict) and unpack(got) == value, (run, key, name)
                    series_seen += 1
                else:
                    assert got == value
    assert series_seen > 10
    status, body = get(lazy_client, "series", params + [("packed", "yes")])
    assert status == 400 and "packed" in body["error"]


def test_series_of_a_subset_and_unknown_runs(lazy_client):
    status, body = get(lazy_client, "series", [
        ("run", "poly/metrics"), ("run", "no/such/run"), ("run", "poly/metrics"),
        ("layer", "2:Dense"), ("layer", "no such layer")])
    assert status == 200
    assert list(body["runs"]) == ["poly/metrics", "no/such/run"]  # duplicates answered once
    assert body["runs"]["no/such/run"] == {"error": "no sparsity data for run 'no/such/run'"}
    poly = body["runs"]["poly/metrics"]
    assert list(poly["layers"]) == ["2:Dense"]
    _, full = get(lazy_client, "run", [("run", "poly/metrics")])
    dense = next(l for l in full["layers"] if l["key"] == "2:Dense")
    assert poly["layers"]["2:Dense"]["expected"] == dense["expected"]
    assert poly["layers"]["2:Dense"]["target"] == dense["target"]


@pytest.mark.parametrize("path, params, status, says", [
    ("run", [("run", "poly/metrics"), ("series", "some")], 400, "series"),
    ("run", [("run", "poly/metrics"), ("series", "none"), ("series", "none")], 400, "series"),
    ("run", [("run", "no/such/run"), ("series", "none")], 404, "no/such/run"),
    ("series", [], 400, "run"),
    ("series", [("run", "poly/metrics")], 400, "layer"),
    ("series", [("layer", "2:Dense")], 400, "run"),
    ("series", [("run", "r%d" % i) for i in range(101)] + [("layer", "2:Dense")], 400, "100"),
    ("series", [("run", "poly/metrics")] + [("layer", "k%d" % i) for i in range(301)], 400,
     "300"),
    ("series", [("run", "poly/metrics"), ("layer", "x" * 1001)], 400, "layer"),
    ("series", [("run", "poly/\x00metrics"), ("layer", "2:Dense")], 400, "NUL"),
    ("series", [("run", "poly/metrics"), ("layer", "2:Dense"), ("threshold", "2")], 400,
     "threshold"),
    ("summaries", [], 400, "run"),
    ("summaries", [("run", "r%d" % i) for i in range(101)], 400, "100"),
    ("summaries", [("run", "x" * 1001)], 400, "run"),
    ("summaries", [("run", "poly/metrics"), ("threshold", "yes")], 400, "threshold"),
])
def test_bad_parameters_get_a_json_error(lazy_client, path, params, status, says):
    code, body = get(lazy_client, path, params)
    assert code == status, body
    assert says in body["error"]


def test_the_limits_themselves_are_allowed(lazy_client):
    params = ([("run", "poly/metrics")] + [("run", "r%d" % i) for i in range(99)]
              + [("layer", "k%d" % i) for i in range(299)] + [("layer", "0:Conv2D")])
    status, body = get(lazy_client, "series", params)
    assert status == 200
    assert len(body["runs"]) == 100
    assert list(body["runs"]["poly/metrics"]["layers"]) == ["0:Conv2D"]
    assert body["runs"]["r0"]["error"]


def test_odd_parameters_never_give_a_server_error(lazy_client):
    odd = ["", " ", "../..", "%", "\u00e9/\u2603", "\ud800".encode("utf-8", "surrogatepass"),
           "a" * 1000, "exp\\metrics", "*", "1:Dense\n"]
    for value in odd:
        # series answers per run (an unknown run or layer is an error inside the 200); run
        # says 404 for a run it does not know and 400 for a malformed parameter.
        for path, params, status in (
            ("series", [("run", value), ("layer", value)], 200),
            ("series", [("run", "poly/metrics"), ("layer", value)], 200),
            ("summaries", [("run", value)], 200),
            ("run", [("run", value), ("series", "none")], 404),
            ("run", [("run", "poly/metrics"), ("series", value)], 400),
        ):
            response = lazy_client.get(
                "/data/plugin/sparsity/%s?%s" % (path, urllib.parse.urlencode(params)))
            assert response.status_code == status, (path, params, response.get_data())
            assert json.loads(response.get_data())


def test_rust_loader_series_equal_its_run_documents(shared_tensorboard, tfmot_logdir, truth):
    """The same contract through a real TensorBoard with the Rust data server."""
    tb = shared_tensorboard(tfmot_logdir, load_fast="true")
    runs = [r["run"] for r in tb.wait_ready(runs_expected=len(truth))]
    base = "/data/plugin/sparsity/"
    fulls = {run: tb.get_json(base + "run?" + urllib.parse.urlencode({"run": run}))
             for run in runs}
    keys = sorted({layer["key"] for doc in fulls.values() for layer in doc["layers"]})
    body = tb.get_json(base + "series?" + urllib.parse.urlencode(
        [("run", r) for r in runs] + [("layer", k) for k in keys]))
    for run, doc in fulls.items():
        lean = tb.get_json(base + "run?" + urllib.parse.urlencode({"run": run, "series": "none"}))
        assert lean["diagnostics"] == doc["diagnostics"] and lean["model"] == doc["model"]
        answer = body["runs"][run]
        assert answer["last_step"] == doc["last_step"]
        assert answer["layers"] == {
            layer["key"]: {k: layer[k] for k in SERIES_KEYS if k in layer}
            for layer in doc["layers"]}


def test_a_summary_and_a_series_batch_asked_together_share_one_analysis(tfmot_logdir):
    """The dashboard asks for a run's summary and its first cards' series at once: the
    second request waits for the first one's analysis instead of making its own."""
    import gzip
    import threading

    from tensorboard.context import RequestContext

    from conftest import make_provider
    from tb_sparsity_plugin.reading import provider_listing
    from tb_sparsity_plugin.reading import reader as reader_lib

    reader = reader_lib.Reader(make_provider(tfmot_logdir))
    ctx = RequestContext()
    run = [s.run for s in reader.list_runs(ctx, "")][0]
    reads = []
    read_run = reader.read_run

    def counted(*args, **kwargs):
        reads.append(args)
        return read_run(*args, **kwargs)

    reader.read_run = counted
    docs = documents.RunDocuments(reader)
    full = json.loads(gzip.decompress(docs.document(ctx, "", run).gzipped))
    keys = [layer["key"] for layer in full["layers"]]
    assert len(reads) == 1  # the full document: its own shape, its own analysis
    start = threading.Barrier(4)
    answers = []

    def ask(kind):
        start.wait()
        if kind == "summary":
            answers.append((kind, docs.document(ctx, "", run, series=documents.SERIES_NONE)))
        else:
            answers.append((kind, docs.series(ctx, "", [run], keys)))

    threads = [threading.Thread(target=ask, args=(kind,))
               for kind in ("summary", "series", "summary", "series")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 4
    assert len(reads) == 2, "the lazy shape was analysed %d times" % (len(reads) - 1)
    summaries = [a for kind, a in answers if kind == "summary"]
    assert len(summaries) == 2 and summaries[0] is summaries[1]
    for kind, a in answers:
        if kind == "series":
            assert set(json.loads(gzip.decompress(a.gzipped))["runs"][run]["layers"]) == set(keys)


@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_a_cold_batch_overlaps_its_runs_only_with_the_data_server(tfmot_logdir, load_fast):
    """A cold `summaries` batch builds its runs on several threads with the Rust data
    server (each read mostly waits on it) and on one in process; either way it answers
    exactly what asking for each run on its own answers."""
    import gzip
    import threading

    from tensorboard.context import RequestContext

    from tb_sparsity_plugin.reading import provider_listing
    from tb_sparsity_plugin.reading import reader as reader_lib
    from tb_sparsity_plugin.cli.ingestion import Logdir

    ctx = RequestContext()
    with Logdir(tfmot_logdir, load_fast=load_fast) as source:
        assert source.loader == ("rust" if load_fast == "true" else "python")
        reader = reader_lib.Reader(source.provider)
        runs = [s.run for s in reader.list_runs(ctx, "")]
        assert len(runs) >= 4
        threads = set()
        read_run = reader.read_run

        def noted(*args, **kwargs):
            threads.add(threading.get_ident())
            return read_run(*args, **kwargs)

        reader.read_run = noted
        batch = documents.RunDocuments(reader).summaries(ctx, "", runs, first_layers=2)
        assert (len(threads) > 1) == (load_fast == "true"), threads
        one_by_one = documents.RunDocuments(reader_lib.Reader(source.provider))
        alone = {run: json.loads(gzip.decompress(one_by_one.summaries(
            ctx, "", [run], first_layers=2).gzipped)) for run in runs}
    answer = json.loads(gzip.decompress(batch.gzipped))
    assert list(answer["runs"]) == runs
    for run in runs:
        assert "error" not in answer["runs"][run]
        assert answer["runs"][run] == alone[run]["runs"][run]
        assert answer["series"][run] == alone[run]["series"][run]


def test_a_kept_fragment_gives_back_the_exact_json_of_its_series():
    """Series are kept as compressed arrays where they are [int, float] pairs and as JSON
    otherwise; either way the `series` route answers the bytes the full document has."""
    import numpy as np

    from tb_sparsity_plugin import run_data

    steps = np.arange(0, 20000, 10, dtype=np.float64)
    values = np.repeat(np.linspace(0.0, 0.9, 20), 100) + 1e-17
    layer = {
        "key": "0:Dense",
        "measured": run_data.Points(steps, values),
        "expected": [[0, 0.0], [7, 0.1], [2**40, 0.875]],
        "target": [[0, 0], [5, 1]],  # ints: kept as JSON
        "threshold": None,
        "weight_zeros": [],
        "n_m_compliance": [[1, 0.5, "odd"]],
    }
    fragment = documents._Fragment(layer)
    whole = documents.encode_json({k: layer[k] for k in documents.LAYER_SERIES if k in layer})
    assert fragment.json() == whole
    assert json.loads(fragment.json())["measured"][1999] == [19990, values[-1]]
    as_json = len(__import__("zlib").compress(documents.encode_json(layer["measured"]), 1))
    assert len(fragment.blob) < as_json / 3


def test_a_batch_answer_is_kept_until_one_of_its_runs_changes(tmp_path):
    """`summaries` and `series` answers are kept gzipped (a page load asks for the same
    batches again) and answered anew as soon as a run of the batch has new data; answers
    holding an error are not kept."""
    import gzip
    import time

    import hostile_util as hu
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.context import RequestContext

    from tb_sparsity_plugin.reading import provider_listing
    from tb_sparsity_plugin.reading import reader as reader_lib

    root = str(tmp_path)
    metrics = hu.experiment(root, "exp", [("dense", hu.poly(0, 100))], [(0, 0.0), (50, 0.4)])
    hu.experiment(root, "other", [("dense", hu.poly(0, 100))], [(0, 0.0)])
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(root)
    multiplexer.Reload()
    reader = reader_lib.Reader(data_provider.MultiplexerDataProvider(multiplexer, root))
    docs = documents.RunDocuments(reader)
    ctx = RequestContext()
    runs = ["exp/metrics", "other/metrics"]
    first = docs.summaries(ctx, "", runs, first_layers=1)
    assert docs.summaries(ctx, "", runs, first_layers=1) is first
    assert docs.summaries(ctx, "", runs) is not first  # another question, another answer
    body = json.loads(gzip.decompress(first.gzipped))
    assert body["runs"]["exp/metrics"]["last_step"] == 50
    series = docs.series(ctx, "", runs, ["0:Dense"], packed=True)
    assert docs.series(ctx, "", runs, ["0:Dense"], packed=True) is series
    assert json.loads(gzip.decompress(series.gzipped))["runs"]["exp/metrics"] == body["series"]["exp/metrics"]

    hu.write_series(metrics, hu.layer_series("dense", [(100, 0.8)]), suffix=".more")  # the run grows
    multiplexer.Reload()
    time.sleep(provider_listing.ProviderListing.LISTING_TTL_SECONDS + 0.1)
    again = docs.summaries(ctx, "", runs, first_layers=1)
    assert again is not first
    assert json.loads(gzip.decompress(again.gzipped))["runs"]["exp/metrics"]["last_step"] == 100
    assert json.loads(gzip.decompress(docs.series(ctx, "", runs, ["0:Dense"], packed=True).gzipped))[
        "runs"]["exp/metrics"]["last_step"] == 100

    missing = ["exp/metrics", "no/such/run"]
    answer = docs.summaries(ctx, "", missing)
    assert "error" in json.loads(gzip.decompress(answer.gzipped))["runs"]["no/such/run"]
    assert docs.summaries(ctx, "", missing) is not answer


def test_a_slow_listing_serves_the_requests_after_it(tmp_path):
    """A listing serves 2 s from when it is ready, not from when it began: the Python
    loader's listing of a big logdir takes longer than that, and each request of a page load
    then listed the logdir again."""
    import time

    import hostile_util as hu
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.context import RequestContext

    from tb_sparsity_plugin.reading import provider_listing
    from tb_sparsity_plugin.reading import reader as reader_lib

    class SlowListing(data_provider.MultiplexerDataProvider):
        """TensorBoard's own provider, whose scalar listing takes longer than a listing serves
        (its index of scalar series: the provider's list_scalars and python_loader's use it)."""
        listings = 0

        def _index(self, plugin_name, *args, **kwargs):
            if plugin_name == "scalars":
                SlowListing.listings += 1
                time.sleep(provider_listing.ProviderListing.LISTING_TTL_SECONDS + 0.5)
            return super()._index(plugin_name, *args, **kwargs)

    root = str(tmp_path)
    for name in ("a", "b"):
        hu.experiment(root, name, [("dense", hu.poly(0, 100))], [(0, 0.0), (50, 0.4)])
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(root)
    multiplexer.Reload()
    reader = reader_lib.Reader(SlowListing(multiplexer, root))
    ctx = RequestContext()
    runs = ["a/metrics", "b/metrics"]
    first = reader.fingerprints(ctx, "", runs)
    assert all(first.values()) and SlowListing.listings == 1
    assert reader.fingerprints(ctx, "", runs) == first
    assert SlowListing.listings == 1  # the listing just made served the second request
    time.sleep(provider_listing.ProviderListing.LISTING_TTL_SECONDS + 0.1)
    assert reader.fingerprints(ctx, "", runs) == first
    assert SlowListing.listings == 2  # and no longer than its 2 s
