"""Hostile requests (issue 8, item 5): every route answers 4xx with a JSON error for bad
parameters, never 5xx, and the static routes serve nothing outside the plugin's own files.

Synthetic logdir, no TensorFlow: also runs against the oldest TensorBoard
(scripts/test_oldest_tensorboard.sh).
"""

import http.client
import json
import math
import os
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NO_TENSORFLOW, ROOT, make_client
import hostile_util as hu
from tb_sparsity_plugin.serving import plugin as plugin_lib
from tb_sparsity_plugin.serving import request_params

PREFIX = "/data/plugin/sparsity/"
RUN = "exp/metrics"
UNICODE_RUN = "稀疏-🙂/metrics"
SCHEDULE_OK = dict(class_name="PolynomialDecay", initial_sparsity="0", final_sparsity="0.8",
                   begin_step="0", end_step="100", frequency="10", max_step="120")
CONFIG_KEYS = ["class_name", "max_step", "params", "initial_sparsity", "final_sparsity",
               "begin_step", "end_step", "power", "frequency", "target_sparsity", "run"]
OTHER_KEYS = ["metric", "tolerance", "direction", "step", "format", "series", "layer",
              "threshold"]
# Every data route of plugin.get_plugin_apps() (checked below, so a new route is not missed).
DATA_ROUTES = ["runs", "run", "summaries", "series", "schedule", "metrics", "quality", "table", "export"]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("requests") / "logdir")
    hu.experiment(root, "exp", [("dense", hu.poly())], [(0, 0.0), (50, 0.3), (100, 0.8)])
    hu.experiment(root, "稀疏-🙂", [("dense", hu.poly())], [(0, 0.0), (50, 0.3)])
    hu.write_series(os.path.join(root, "exp", "validation"),
                    {"epoch_accuracy": [(0, 0.5), (1, 0.7)], "epoch_loss": [(0, 2.0), (1, 1.0)]})
    return root


@pytest.fixture(scope="module")
def client(logdir):
    return make_client(logdir)


def check(response, allowed=(200, 400, 404)):
    """Never 5xx; data answers are strict JSON; errors are {"error": str}."""
    status = response.status_code
    assert status in allowed, (status, response.get_data(as_text=True)[:500])
    if status == 200 and response.headers["Content-Type"].startswith("text/csv"):
        return status, response.get_data(as_text=True)  # format=csv of table/export
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    body = json.loads(response.get_data(as_text=True), parse_constant=_no_constants)
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"]
    return status, body


def _no_constants(name):
    raise AssertionError("non-standard JSON constant %s" % name)


def query(pairs):
    return urllib.parse.urlencode(pairs, doseq=True)


# -- fixed cases ------------------------------------------------------------------------


def test_good_requests_work(client):
    assert check(client.get(PREFIX + "runs"))[0] == 200
    status, doc = check(client.get(PREFIX + "run?" + query({"run": RUN})))
    assert status == 200 and doc["layers"]
    status, doc = check(client.get(PREFIX + "run?" + query({"run": UNICODE_RUN})))
    assert status == 200 and doc["run"] == UNICODE_RUN
    status, doc = check(client.get(PREFIX + "schedule?" + query(SCHEDULE_OK)))
    assert status == 200 and doc["expected"]


LONG = "x" * (request_params.MAX_PARAM_LENGTH + 1)
BAD_RUN = [
    ("missing", []),
    ("empty", [("run", "")]),
    ("repeated", [("run", RUN), ("run", RUN)]),
    ("over-long", [("run", LONG)]),
    ("huge", [("run", "y" * 100_000)]),
    ("unicode", [("run", "ñ/🙂/\u202e/metrics")]),
    ("nul", [("run", "exp\x00/metrics")]),
    ("traversal", [("run", "../../etc")]),
    ("html", [("run", "<script>alert(1)</script>")]),
    ("surrogate-ish", [("run", "\ufffd\ufffe")]),
    ("other key only", [("runs", RUN)]),
]
# A malformed parameter is 400; a well-formed name of a run without sparsity data is 404.
BAD_RUN_STATUS = {"missing": 400, "empty": 404, "repeated": 400, "over-long": 400, "huge": 400,
                  "unicode": 404, "nul": 400, "traversal": 404, "html": 404,
                  "surrogate-ish": 404, "other key only": 400}


@pytest.mark.parametrize("name,pairs", BAD_RUN, ids=[b[0] for b in BAD_RUN])
def test_run_route_bad_parameters(client, name, pairs):
    status, body = check(client.get(PREFIX + "run?" + query(pairs)),
                         allowed=(BAD_RUN_STATUS[name],))
    if status == 400:
        assert body["error"].startswith("Invalid argument: run: "), body
    else:
        assert body["error"].startswith("Not found: no sparsity data for run "), body
    if name == "html":  # the name quoted once, as text (the dashboard never renders it as markup)
        assert body["error"] == "Not found: no sparsity data for run '<script>alert(1)</script>'"


def with_(**changes):
    pairs = dict(SCHEDULE_OK)
    pairs.update(changes)
    return [(k, v) for k, v in pairs.items() if v is not None]


BAD_SCHEDULE = [
    ("missing class", with_(class_name=None)),
    ("unknown class", with_(class_name="MyDecay")),
    ("unicode class", with_(class_name="Polynomial\u200bDecay")),
    ("missing max_step", with_(max_step=None)),
    ("max_step zero", with_(max_step="0")),
    ("max_step negative", with_(max_step="-5")),
    ("max_step too big", with_(max_step="10000000000000000000000")),
    ("max_step float", with_(max_step="1.5")),
    ("max_step text", with_(max_step="ten")),
    ("max_step unicode", with_(max_step="🙂")),
    ("params zero", with_(params="0")),
    ("params text", with_(params="many")),
    ("sparsity text", with_(final_sparsity="most")),
    ("sparsity nan", with_(final_sparsity="nan")),
    ("sparsity inf", with_(final_sparsity="inf")),
    ("sparsity over-long", with_(final_sparsity="0." + "1" * 2000)),
    ("repeated key", with_() + [("frequency", "5")]),
    ("repeated class", with_() + [("class_name", "ConstantSparsity")]),
    ("unknown key", with_() + [("learning_rate", "0.1")]),
    ("key of the other class", with_() + [("target_sparsity", "0.5")]),
    ("nul", with_(begin_step="0\x00")),
]


@pytest.mark.parametrize("name,pairs", BAD_SCHEDULE, ids=[b[0] for b in BAD_SCHEDULE])
def test_schedule_route_bad_parameters(client, name, pairs):
    status, body = check(client.get(PREFIX + "schedule?" + query(pairs)), allowed=(400,))


BROKEN_BUT_WELL_FORMED = [
    ("end == begin", with_(begin_step="50", end_step="50"), "invalid_schedule"),
    ("frequency 0", with_(frequency="0"), "invalid_schedule"),
    ("frequency negative", with_(frequency="-10"), "invalid_schedule"),
    ("end before begin", with_(begin_step="80", end_step="20"), "invalid_schedule"),
    ("sparsity 1", with_(final_sparsity="1"), "invalid_schedule"),
    ("steps near 2**53", with_(begin_step=str(2**53 - 1), end_step=str(2**53)),
     "no_pruning_happened"),
    ("steps beyond 2**53", with_(begin_step=str(2**60), end_step=str(2**61)), "invalid_schedule"),
]


@pytest.mark.parametrize("name,pairs,code", BROKEN_BUT_WELL_FORMED,
                         ids=[b[0] for b in BROKEN_BUT_WELL_FORMED])
def test_schedule_route_broken_schedules_are_diagnosed(client, name, pairs, code):
    """A well-formed request for a schedule tfmot would reject: 200 with a diagnostic."""
    status, doc = check(client.get(PREFIX + "schedule?" + query(pairs)))
    assert status == 200
    assert code in [d["code"] for d in doc["diagnostics"]], doc["diagnostics"]


def test_schedule_route_longest_run_is_bounded(client):
    status, doc = check(client.get(PREFIX + "schedule?" + query(
        with_(end_step="10000000", frequency="1", max_step=str(plugin_lib.MAX_STEP),
              params="1000000"))))
    # The longest run allowed answers a bounded curve (no point per pruning step).
    assert status == 200 and len(doc["expected"]) <= 4002


def test_runs_route_ignores_parameters(client):
    for q in ("run=x&run=y", "a=" + "z" * 5000, "%ff%fe=%00", "🙂=🙂"):
        status, body = check(client.get(PREFIX + "runs?" + q))
        assert status == 200 and len(body["runs"]) == 2


def test_undecodable_query_bytes(client):
    for path, status in (("run", 400), ("schedule", 400), ("runs", 200)):
        check(client.get(PREFIX + path + "?run=%ff%fe%00&class_name=%c3%28&max_step=%ff"),
              allowed=(status,))


def test_methods_other_than_get(client):
    """The routes only read: like TensorBoard's own, they ignore the method and the body."""
    expected = check(client.get(PREFIX + "run?" + query({"run": RUN})), allowed=(200,))[1]
    for method in ("post", "put", "delete"):
        response = getattr(client, method)(PREFIX + "run?" + query({"run": RUN}), data=b"{}")
        assert check(response, allowed=(200,))[1] == expected, method


# -- generated requests --------------------------------------------------------------------

NUMBERISH = st.sampled_from(["0", "1", "-1", "0.5", "1e308", "-0", "nan", "inf", "-inf",
                             "1e-400", "0x10", "１２", "٣", " 7 ", "1_000", "", "9" * 40,
                             "True", "None", "[1]", "{}", str(2**53 + 1), str(2**63)])
VALUES = st.one_of(NUMBERISH, st.text(max_size=40),
                   st.sampled_from(["x" * 1001, "🙂" * 600, "9" * 1000]))
KEYS = st.one_of(st.sampled_from(CONFIG_KEYS + OTHER_KEYS), st.text(max_size=20))
PAIRS = st.lists(st.tuples(KEYS, VALUES), max_size=8)
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def test_every_data_route_is_covered():
    apps = plugin_lib.SparsityPlugin.get_plugin_apps(
        plugin_lib.SparsityPlugin.__new__(plugin_lib.SparsityPlugin))
    assert set(DATA_ROUTES) == {r.lstrip("/") for r in apps} - {"index.js", "static/*"}


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_generated_parameters_never_5xx(client, route):
    @SETTINGS
    @given(pairs=PAIRS)
    def inner(pairs):
        check(client.get(PREFIX + route + "?" + query(pairs)))

    inner()


GOOD_RUN = st.sampled_from([RUN, UNICODE_RUN])


@pytest.mark.parametrize("route", ["run", "summaries", "series", "metrics", "quality", "table",
                                   "export"])
def test_generated_parameters_with_a_real_run_never_5xx(client, route):
    @SETTINGS
    @given(run=GOOD_RUN, pairs=st.lists(st.tuples(st.sampled_from(OTHER_KEYS), VALUES),
                                        max_size=4))
    def inner(run, pairs):
        check(client.get(PREFIX + route + "?" + query([("run", run)] + pairs)))

    inner()


@pytest.mark.parametrize("route", ["metrics", "quality", "table", "export"])
@pytest.mark.parametrize("name,pairs", BAD_RUN, ids=[b[0] for b in BAD_RUN])
def test_other_run_routes_bad_run_parameter(client, route, name, pairs):
    check(client.get(PREFIX + route + "?" + query(pairs + [("metric", "epoch_accuracy")])),
          allowed=(BAD_RUN_STATUS[name],))


@SETTINGS
@given(overrides=st.dictionaries(st.sampled_from(CONFIG_KEYS[:10]), NUMBERISH, max_size=6),
       class_name=st.sampled_from(["PolynomialDecay", "ConstantSparsity"]))
def test_generated_schedules_never_5xx(client, overrides, class_name):
    pairs = dict(SCHEDULE_OK, class_name=class_name)
    if class_name == "ConstantSparsity":
        for k in ("initial_sparsity", "final_sparsity"):
            pairs.pop(k)
        pairs["target_sparsity"] = "0.5"
    pairs.update(overrides)
    status, doc = check(client.get(PREFIX + "schedule?" + query(pairs)))
    if status == 200:
        for series in (doc["expected"] or [], doc["target"] or []):
            assert all(math.isfinite(v) for _, v in series)


@SETTINGS
@given(path=st.text(max_size=60))
def test_generated_static_paths(client, path):
    response = client.get(PREFIX + "static/" + urllib.parse.quote(path, safe="/%"))
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.headers["Content-Type"].split(";")[0] in plugin_lib.STATIC_TYPES.values()


# -- static files ----------------------------------------------------------------------------

# Files outside the static dir that a traversal would reach, with a line of their content.
OUTSIDE = {
    "frontend/test/data.test.mjs": None,  # .mjs is a served type: the best bait
    "frontend/package.json": None,
    "tb_sparsity_plugin/serving/plugin.py": None,
    "setup.py": None,
}
TRAVERSALS = [
    "static/../../test/data.test.mjs",
    "static/../test/data.test.mjs",
    "static/%2e%2e/test/data.test.mjs",
    "static/%2E%2E/%2E%2E/test/data.test.mjs",
    "static/..%2ftest%2fdata.test.mjs",
    "static/..%2Ftest/data.test.mjs",
    "static/%2e%2e%2ftest%2fdata.test.mjs",
    "static/%252e%252e/test/data.test.mjs",
    "static/..%5ctest%5cdata.test.mjs",
    "static/..\\test\\data.test.mjs",
    "static/views/..\\..\\test\\data.test.mjs",
    "static/vendor/../../test/data.test.mjs",
    "static/vendor/%2e%2e/%2e%2e/test/data.test.mjs",
    "static/....//test/data.test.mjs",
    "static/.%2e/test/data.test.mjs",
    "static/%c0%ae%c0%ae/test/data.test.mjs",
    "static/" + os.path.join(ROOT, "frontend", "test", "data.test.mjs"),
    "static//" + os.path.join(ROOT, "frontend", "test", "data.test.mjs").lstrip("/"),
    "static/%2f" + os.path.join(ROOT, "frontend", "test", "data.test.mjs").lstrip("/"),
    "static/%2Fetc%2Fpasswd",
    "static//etc/passwd",
    "static/C:%5cWindows%5cwin.ini",
    "static/../../../setup.py",
    "static/../../tb_sparsity_plugin/serving/plugin.py",
    "static/%2e%2e/%2e%2e/frontend/package.json",
    "static/index.js%00.py",
    "static/index.js/",
    "static/./index.js/../../test/data.test.mjs",
    "static/.hidden.js",
    "index.js/../../../setup.py",
    "static/~/.bashrc",
    "static/" + "a/" * 200 + "x.js",
]


def _contents_outside():
    out = []
    for rel in OUTSIDE:
        with open(os.path.join(ROOT, rel), "rb") as f:
            out.append(f.read())
    with open("/etc/passwd", "rb") as f:
        out.append(f.read())
    return out


def assert_nothing_outside(status, body):
    assert status in (400, 404), status  # nothing served (werkzeug may 404 on routing)
    for content in _contents_outside():
        assert content[:200] not in body


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_traversal_in_process(client, path):
    response = client.get(PREFIX + path)
    assert_nothing_outside(response.status_code, response.get_data())


def test_static_serves_its_own_files(client):
    for path, ctype in (("index.js", "text/javascript"), ("static/index.js", "text/javascript"),
                        ("static/views/dom.js", "text/javascript"),
                        ("static/style.css", "text/css")):
        response = client.get(PREFIX + path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(ctype)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def raw_get(port, path):
    """GET with the path sent byte for byte (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_static_traversal_against_real_tensorboard(logdir, tensorboard_process):
    tb = tensorboard_process(logdir, load_fast="false", env=NO_TENSORFLOW)
    tb.wait_ready()
    assert raw_get(tb.port, PREFIX + "index.js")[0] == 200
    for path in TRAVERSALS:
        if "\\" in path:
            path = path.replace("\\", "%5c")  # a raw backslash is not valid in a request line
        status, body = raw_get(tb.port, PREFIX + path)
        assert_nothing_outside(status, body)
    # and outside the plugin's prefix, through TensorBoard's own routing
    for path in ("/data/plugin/sparsity/../../../setup.py", "/%2e%2e/%2e%2e/setup.py"):
        status, body = raw_get(tb.port, path)
        for content in _contents_outside():
            assert content[:200] not in body
