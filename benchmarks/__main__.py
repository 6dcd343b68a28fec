"""The sparsity plugin against TensorBoard's own Time Series tab, on synthetic pruning logdirs.

    python -m benchmarks [--sizes small,medium,large] [--loaders false,true] [--repeat N]
                         [--browser/--no-browser] [--out docs/benchmarks.md]
                         [--workdir /tmp/tb_sparsity_bench]

For every size x loader (`--load_fast=false`: Python loader, `true`: Rust data server) it
starts two real TensorBoard processes on the same generated logdir (benchmarks/synthetic.py):
W with the plugin, N without it (benchmarks/tb_launcher.py), waits until both have ingested
everything, then measures, side by side and interleaved (the order alternates every
repetition), medians over `--repeat` repetitions:

  (a) data   plugin: what the dashboard fetches for its first screen: GET runs, GET
             run?run=R&series=none for every run, GET series for the first 6 layer cards of
             every run (one request per 100 runs); scalars: what the Time Series tab fetches
             for the same `mask:0/sparsity` tags: GET timeseries/tags, then one POST
             timeseries/timeSeries per tag (`requests=[{"plugin": "scalars", "tag": T}]`, all
             runs), and for its own first screen (the first 6 tags). Sequential requests
             over one keep-alive connection. Also the first ("cold") plugin fetch after
             ingestion, and TensorBoard's best case: all tags in one batched POST.
  (b) browser  headless Chromium, a fresh browser context per load: time from navigation
             start until the Sparsity tab has drawn every chart (all layer cards and the
             whole-model card hold a uPlot canvas, then one animation frame) vs until the
             Time Series tab, filtered to `mask:0/sparsity`, lists every matching card and
             every card in the viewport has its data (data-table rows, no spinner) and a
             canvas, then one animation frame. Time Series loads cards lazily (only those in
             view), the Sparsity tab draws all of them: the comparison favours Time Series.
  (c) memory resident set size (process + children, e.g. the Rust data server) of W after
             serving (a) and (b) vs N after serving the same Time Series requests.
  (d) the CLI-vs-tbparse and Keras callback overhead ratios, read from the other benchmark
             modules' outputs when present (benchmarks/cli_vs_tbparse.py,
             benchmarks/callback_overhead.py).

Results of each size x loader are kept as JSON in benchmarks/results (committed, so the page
can be rebuilt on another machine: the workdir holds only the regenerable logdirs), and the
markdown table is written from all results of the requested sizes and loaders.
"""

import argparse
import datetime
import glob
import http.client
import importlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.parse

from benchmarks import synthetic
from benchmarks.tb_launcher import TensorBoardProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WORKDIR = "/tmp/tb_sparsity_bench"
DEFAULT_OUT = os.path.join(ROOT, "docs", "benchmarks.md")
DEFAULT_RESULTS = os.path.join(ROOT, "benchmarks", "results")
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
TAG_FILTER = "mask:0/sparsity"
# Issue 14's targets: first fetch of the first screen <= 0.3 x Time Series, repeat fetches
# <= 0.05 x, tab drawn <= 0.6 x on the large logdir and <= 0.7 x elsewhere, memory <= 1.05 x.
TARGETS = {"data": 0.05, "first": 0.3, "browser": 0.7, "browser_large": 0.6, "memory": 1.05,
           "cli": 0.5}
# Layer cards in the first screen: Time Series shows 6 cards in a 1400 x 900 view.
FIRST_SCREEN_CARDS = 6
# The layers whose series come with a run's first summary (frontend/src/store.js FIRST_SCREEN_LAYERS).
DASHBOARD_FIRST_LAYERS = 12
EID = "defaultExperimentId"


def log(*args):
    print(time.strftime("[%H:%M:%S]"), *args, flush=True)


# -- machine -----------------------------------------------------------------------------


def machine_description():
    from benchmarks.machine import cpu_model

    cpu = cpu_model()
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    import tensorboard

    chromium = None
    if os.path.exists(CHROMIUM):
        try:
            chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                                      timeout=30).stdout.strip()
        except Exception:
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_gb, 1) if mem_gb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorboard": tensorboard.__version__,
        "chromium": chromium,
    }


# -- TensorBoard processes ---------------------------------------------------------------


class Client:
    """Sequential HTTP requests over one keep-alive connection."""

    def __init__(self, port, timeout=600):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path):
        status, data = self.request("GET", path)
        if status != 200:
            raise RuntimeError("GET %s: HTTP %d %s" % (path, status, data[:200]))
        return json.loads(data)

    def post_form_json(self, path, fields):
        body = urllib.parse.urlencode(fields)
        status, data = self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError("POST %s: HTTP %d %s" % (path, status, data[:200]))
        return json.loads(data)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class BenchTensorBoard(TensorBoardProcess):
    """W (with the plugin) or N (without), with a keep-alive client and its memory."""

    def __init__(self, logdir, load_fast, with_plugin, log_path):
        self.started = time.monotonic()
        super().__init__(logdir, load_fast, plugin="with" if with_plugin else "without",
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
                         log_path=log_path, reload_interval=None)
        self.with_plugin = with_plugin
        self.client = Client(self.port)

    def alive(self):
        return self.proc.poll() is None

    def rss_bytes(self):
        """Resident set size of the process and all its children."""
        import psutil

        try:
            top = psutil.Process(self.proc.pid)
            procs = [top] + top.children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self):
        self.client.close()
        super().stop()


def ingestion_complete(tb, size):
    """Whether TensorBoard serves the last record of every run (checked via Time Series)."""
    spec = synthetic.SIZES[size]
    last_layer = "prune_low_magnitude_dense_%d" % (spec["layers"] - 1) if spec["layers"] > 1 \
        else "prune_low_magnitude_dense"
    last_step = (spec["steps"] - 1) * synthetic.STEPS_PER_EPOCH
    checks = [
        (last_layer + "/threshold:0/threshold", "metrics", last_step),
        ("epoch_loss", "train", spec["steps"] - 1),
        ("evaluation_loss_vs_iterations", "validation", spec["steps"] * synthetic.STEPS_PER_EPOCH),
    ]
    try:
        body = tb.client.post_form_json(
            "/experiment/%s/data/plugin/timeseries/timeSeries" % EID,
            {"requests": json.dumps([{"plugin": "scalars", "tag": t} for t, _, _ in checks])},
        )
    except Exception:
        return False
    for (tag, sub, step), resp in zip(checks, body):
        series = resp.get("runToSeries") or {}
        for name in synthetic.experiments(size):
            points = series.get("%s/%s" % (name, sub)) or []
            if not points or points[-1]["step"] != step:
                return False
    return True


def wait_ingested(servers, size, timeout):
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending:
        checked = time.monotonic()
        for tb in list(pending):
            if not tb.alive():
                raise RuntimeError("TensorBoard exited:\n" + tb.output_tail())
            if ingestion_complete(tb, size):
                tb.ingest_seconds = time.monotonic() - tb.started
                pending.remove(tb)
        if pending:
            if time.monotonic() > deadline:
                raise RuntimeError("ingestion not complete after %d s" % timeout)
            # At most a quarter of the time checking: with the Python loader a check of the
            # many-runs logdir (3 tags of 600 runs) took seconds of the GIL that ingestion
            # needs (py-spy: the reloader waiting on make_ndarray in the check's request).
            time.sleep(max(2.0, 3 * (time.monotonic() - checked)))


# -- (a) data ------------------------------------------------------------------------------


def sparsity_tags(size):
    spec = synthetic.SIZES[size]
    names = ["dense"] + ["dense_%d" % j for j in range(1, spec["layers"])]
    return sorted("prune_low_magnitude_%s/mask:0/sparsity" % n for n in names)


def fetch_plugin(tb, first_layers=DASHBOARD_FIRST_LAYERS):
    """What the Sparsity dashboard fetches for its first screen: `runs`, then every run's
    summary with the series of its first `first_layers` cards (`summaries?first_layers=N`, in
    4 batches as the dashboard's store asks for them; it sends them at once, this one after
    the other). Returns (seconds, bytes, runs body)."""
    t = time.perf_counter()
    runs = _plugin_get(tb, "runs")
    total = runs.pop("_bytes")
    names = [r["run"] for r in runs["runs"]]
    size = min(100, -(-len(names) // 4)) or 1  # frontend/src/store.js loadDocs
    for i in range(0, len(names), size):
        batch = _plugin_get(tb, "summaries", [("run", n) for n in names[i:i + size]]
                            + [("first_layers", str(first_layers))])
        total += batch["_bytes"]
        for part in ("runs", "series"):
            failed = [v["error"] for v in batch[part].values() if "error" in v]
            if failed:
                raise RuntimeError("sparsity/summaries (%s): %s" % (part, failed[0]))
            if part == "series" and not all(len(v["layers"]) == min(first_layers, len(
                    batch["runs"][r]["layers"])) for r, v in batch[part].items()):
                raise RuntimeError("sparsity/summaries: the first layers' series are missing")
    return time.perf_counter() - t, total, runs


def _plugin_get(tb, route, params=()):
    """GET a plugin route (JSON), its size in bytes as "_bytes"."""
    path = "/data/plugin/sparsity/" + route
    if params:
        path += "?" + urllib.parse.urlencode(params)
    status, data = tb.client.request("GET", path)
    if status != 200:
        raise RuntimeError("sparsity/%s: HTTP %d" % (route, status))
    return dict(json.loads(data), _bytes=len(data))


def fetch_timeseries(tb, tags, batched=False):
    """What the Time Series tab fetches for `tags`; returns (seconds, bytes)."""
    t = time.perf_counter()
    status, data = tb.client.request("GET", "/experiment/%s/data/plugin/timeseries/tags" % EID)
    if status != 200:
        raise RuntimeError("timeseries/tags: HTTP %d" % status)
    total = len(data)
    path = "/experiment/%s/data/plugin/timeseries/timeSeries" % EID
    groups = [tags] if batched else [[t_] for t_ in tags]
    for group in groups:
        body = urllib.parse.urlencode(
            {"requests": json.dumps([{"plugin": "scalars", "tag": t_} for t_ in group])})
        status, data = tb.client.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError("timeseries/timeSeries: HTTP %d" % status)
        total += len(data)
    return time.perf_counter() - t, total


def check_plugin_runs(runs_body, size):
    expected = synthetic.expected_runs(size)
    got = {r["run"]: r for r in runs_body["runs"]}
    problems = []
    for run, last in expected.items():
        r = got.get(run)
        if r is None:
            problems.append("%s missing" % run)
        elif r["last_step"] != last or r["schedule_source"] != synthetic.schedule_source(size):
            problems.append("%s: last_step %s, schedule_source %s" % (
                run, r["last_step"], r["schedule_source"]))
    return problems


# -- (b) browser ---------------------------------------------------------------------------

SPARSITY_DONE_JS = """(layers) => {
  for (const frame of document.querySelectorAll('iframe')) {
    if (!(frame.src || '').includes('name=sparsity')) continue;
    const doc = frame.contentDocument;
    if (!doc || !doc.body) return false;
    const cards = doc.querySelectorAll('.layer-card');
    if (cards.length < layers) return false;
    // Like Time Series: every card inside the viewport is drawn with its data (the
    // dashboard fetches and draws the cards near the view, the rest when they scroll in;
    // a card says data-loaded="false" while its series are on their way).
    const h = frame.contentWindow.innerHeight;
    for (const card of cards) {
      const r = card.getBoundingClientRect();
      if (r.bottom <= 0 || r.top >= h) continue;
      if (!card.querySelector('canvas') || card.dataset.loaded === 'false') return false;
    }
    const model = doc.querySelector('.model-card');
    if (model && !model.querySelector('canvas')) return false;
    // The dashboard draws as runs arrive: done only when no run is still loading.
    // (textContent, not innerText: this runs every frame and must not force a layout.)
    for (const banner of doc.querySelectorAll('.banner')) {
      if (banner.textContent.includes('Loading run')) return false;
    }
    const ready = doc.body.dataset.chartsDrawn;  // the signal asked of the dashboard
    if (ready !== undefined && Number(ready) < layers) return false;
    return performance.now();
  }
  return false;
}"""

TIMESERIES_DONE_JS = """(layers) => {
  const cards = [...document.querySelectorAll('scalar-card')];
  if (cards.length === 0) return false;
  const header = document.body.textContent.match(/Tags matching filter\\s*(\\d+)\\s*card/);
  if (!header || Number(header[1]) < layers) return false;
  const h = window.innerHeight;
  let inView = 0;
  for (const card of cards) {
    const r = card.getBoundingClientRect();
    if (r.bottom <= 0 || r.top >= h || r.height === 0) continue;
    inView++;
    if (card.querySelector('mat-spinner, mat-progress-spinner, mat-progress-bar')) return false;
    if (!card.querySelector('tb-data-table-content-row')) return false;
    if (!card.querySelector('line-chart canvas, line-chart svg')) return false;
  }
  return inView > 0 ? performance.now() : false;
}"""

# Time Series leaves every run unticked on a logdir with many runs (the "many runs" size: 600
# runs, its charts stay empty), where the Sparsity tab draws them all: a user ticks the run
# table's "select all" box first, and so does the harness (inside the timed page load).
# Polled until the run table is drawn; ticks the box if it is not ticked.
TIMESERIES_SELECT_ALL_JS = """() => {
  if (!document.querySelector('tb-data-table-content-cell')) return false;
  const box = [...document.querySelectorAll('div.cell input[type=checkbox]')]
    .find((b) => !b.closest('tb-data-table-content-cell'));
  if (!box) return false;
  if (!box.checked) box.click();
  return true;
}"""


class Browser:
    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def time_page(self, url, done_js, layers, timeout_s):
        """ms from navigation start until done_js(layers) holds (None on timeout)."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            page = context.new_page()
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            if done_js is TIMESERIES_DONE_JS:
                page.wait_for_function(TIMESERIES_SELECT_ALL_JS, polling="raf",
                                       timeout=timeout_s * 1000)
            handle = page.wait_for_function(
                done_js, arg=layers, polling="raf", timeout=timeout_s * 1000)
            done = handle.json_value()
            # one more frame so the last chart is painted
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
            return float(done)
        except Exception as e:  # timeout or a page error: recorded as missing
            log("    browser: %s: %s" % (url, str(e).splitlines()[0][:200]))
            return None
        finally:
            context.close()

    def close(self):
        self.browser.close()
        self._pw.stop()


def sparsity_url(port):
    return "http://127.0.0.1:%d/#sparsity" % port


def timeseries_url(port):
    return "http://127.0.0.1:%d/?%s#timeseries" % (
        port, urllib.parse.urlencode({"tagFilter": TAG_FILTER}))


# -- one size x loader ---------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def bench_one(size, loader, logdir, args):
    spec = synthetic.SIZES[size]
    tags = sparsity_tags(size)
    result = {"size": size, "loader": loader, "spec": spec, "repeat": args.repeat,
              "browser": bool(args.browser), "when": datetime.datetime.now().isoformat(timespec="seconds")}
    logs = os.path.join(args.workdir, "logs")
    os.makedirs(logs, exist_ok=True)
    log("%s, load_fast=%s: starting TensorBoard with and without the plugin" % (size, loader))

    def start_with():
        return BenchTensorBoard(
            logdir, loader, True, os.path.join(logs, "%s_%s_with.log" % (size, loader)))

    def start_without():
        return BenchTensorBoard(
            logdir, loader, False, os.path.join(logs, "%s_%s_without.log" % (size, loader)))

    def memory_baseline(n):
        """N serves what the Time Series tab asks for, then its memory is measured."""
        for _ in range(args.repeat):
            fetch_timeseries(n, tags)
            if browser:
                browser.time_page(timeseries_url(n.port), TIMESERIES_DONE_JS, len(tags), args.browser_timeout)
        result["rss_without"] = n.rss_bytes()
        n.stop()

    result["sequential"] = bool(args.sequential)
    result["baseline"] = bool(args.baseline)
    w = n = browser = None
    try:
        if args.browser:
            browser = Browser()
        if not args.baseline:  # W only: no memory baseline (its RSS ratio is left n/a)
            w = start_with()
            wait_ingested([w], size, args.ingest_timeout)
        elif args.sequential:  # one TensorBoard at a time: N's baseline first, then W
            n = start_without()
            wait_ingested([n], size, args.ingest_timeout)
            memory_baseline(n)
            w = start_with()
            wait_ingested([w], size, args.ingest_timeout)
        else:
            w, n = start_with(), start_without()
            wait_ingested([w, n], size, args.ingest_timeout)
        result["ingest_seconds"] = {"with": w.ingest_seconds, "without": n and n.ingest_seconds}
        log("  ingested (%.0f s with, %s s without)" % (
            w.ingest_seconds, "%.0f" % n.ingest_seconds if n else "no TensorBoard"))

        # (a) first plugin fetch after ingestion: nothing cached yet
        cold, cold_bytes, runs = fetch_plugin(w)
        problems = check_plugin_runs(runs, size)
        if problems:
            raise RuntimeError("plugin runs route is wrong: %s" % "; ".join(problems[:5]))
        result["plugin_cold_s"] = cold
        result["plugin_bytes"] = cold_bytes
        log("  plugin cold fetch %.3f s (%.1f MB)" % (cold, cold_bytes / 1e6))

        if args.baseline and not args.sequential:
            memory_baseline(n)

        # (a) interleaved
        plugin_t, ts_t, batched_t, screen_t = [], [], [], []
        for rep in range(args.repeat):
            order = ["plugin", "ts", "batched", "screen"]
            order = order[rep % 4:] + order[:rep % 4]
            for what in order:
                if what == "plugin":
                    plugin_t.append(fetch_plugin(w)[0])
                elif what == "ts":
                    t, b = fetch_timeseries(w, tags)
                    ts_t.append(t)
                    result["timeseries_bytes"] = b
                elif what == "screen":  # Time Series' own first screen: the cards in view
                    screen_t.append(fetch_timeseries(w, tags[:FIRST_SCREEN_CARDS])[0])
                else:
                    batched_t.append(fetch_timeseries(w, tags, batched=True)[0])
        result.update(plugin_s=plugin_t, timeseries_s=ts_t, timeseries_batched_s=batched_t,
                      timeseries_first_screen_s=screen_t)
        log("  data: plugin %.3f s, Time Series %.3f s (batched %.3f s)" % (
            median(plugin_t), median(ts_t), median(batched_t)))

        # (b) interleaved, after one untimed load of each page: the first page a fresh
        # browser loads from a TensorBoard compiles TensorBoard's own code (1-2 s more,
        # measured), which would fall on whichever page happened to come first.
        if browser:
            for url, js in ((sparsity_url(w.port), SPARSITY_DONE_JS),
                            (timeseries_url(w.port), TIMESERIES_DONE_JS)):
                browser.time_page(url, js, len(tags), args.browser_timeout)
            sp, ts = [], []
            for rep in range(args.repeat):
                pair = [("sp", sparsity_url(w.port), SPARSITY_DONE_JS),
                        ("ts", timeseries_url(w.port), TIMESERIES_DONE_JS)]
                if rep % 2:
                    pair.reverse()
                for what, url, js in pair:
                    ms = browser.time_page(url, js, len(tags), args.browser_timeout)
                    (sp if what == "sp" else ts).append(ms)
            result.update(browser_sparsity_ms=sp, browser_timeseries_ms=ts)
            log("  browser: Sparsity %s ms, Time Series %s ms" % (median(sp), median(ts)))

        result["rss_with"] = w.rss_bytes()
        log("  memory: with %.0f MB, without %s MB" % (
            result["rss_with"] / 1e6, "%.0f" % (result["rss_without"] / 1e6) if n else "n/a"))
    finally:
        if browser:
            browser.close()
        for tb in (w, n):
            if tb is not None:
                tb.stop()
    return result


# -- other benchmarks ----------------------------------------------------------------------


def _first_ratio(text, patterns):
    for pattern in patterns:
        m = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
        if m:
            return float(m.group(1))
    return None


def _table_after(text, header_pattern):
    """The data rows (lists of cells) of the first markdown table whose header matches."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and re.search(header_pattern, line, re.IGNORECASE):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return rows
    return []


def _number(cell):
    m = re.search(r"[0-9]+(?:\.[0-9]+)?", cell or "")
    return float(m.group(0)) if m else None


def _page_rows(module, default_page, header_pattern):
    """(path, table rows) of another benchmark's output page; no rows if it has not run."""
    path = os.path.join(ROOT, "docs", default_page)
    try:
        path = getattr(importlib.import_module("benchmarks." + module), "DEFAULT_OUTPUT", path)
    except Exception:
        pass
    if not os.path.exists(path):
        return path, []
    with open(path, encoding="utf-8") as f:
        return path, _table_after(f.read(), header_pattern)


def other_results():
    """Ratios from the CLI-vs-tbparse and callback-overhead benchmarks' output pages."""
    out = []
    path, rows = _page_rows("cli_vs_tbparse", "benchmark_cli.md", r"ratio")
    if rows:
        for row in rows:
            out.append({"name": "CLI report / tbparse, %s" % row[0], "ratio": _number(row[-1]),
                        "target": TARGETS["cli"], "source": os.path.relpath(path, ROOT)})
    else:
        out.append({"name": "CLI report / tbparse", "ratio": None, "target": TARGETS["cli"],
                    "source": "`python -m benchmarks.cli_vs_tbparse` (no output yet)"})
    path, rows = _page_rows("callback_overhead", "benchmark_callback.md", r"^\|\s*ratio")
    labels = {"c/a": "Keras training with SparsitySummaries / without sparsity logging",
              "c/b": "Keras training with SparsitySummaries / with tfmot's PruningSummaries"}
    found = False
    for row in rows:
        if row and row[0] in labels:
            found = True
            value = _number(row[-1])  # CPU time when the page has it (less noisy), else wall
            kind = "CPU time" if len(row) > 2 else "wall time"
            if len(row) > 2:
                kind += "; wall %s" % row[1]
            out.append({"name": "%s (%s)" % (labels[row[0]], kind), "ratio": value,
                        "target": None, "source": os.path.relpath(path, ROOT)})
    if not found:
        out.append({"name": "Keras callback training overhead", "ratio": None, "target": None,
                    "source": "`python benchmarks/callback_overhead.py` (no output yet)"})
    out.extend(importlib.import_module("benchmarks.inspect_speed").summary_rows())
    out.extend(importlib.import_module("benchmarks.callback_overheads").summary_rows())
    return out


# -- markdown ------------------------------------------------------------------------------

MEASURED_MD = """For every size × loader (`--load_fast=false`: Python loader; `true`: Rust data server) the
benchmark starts two real TensorBoard processes on the same generated logdir
(benchmarks/synthetic.py): **W** with the plugin and **N** without it
(benchmarks/tb_launcher.py builds `tensorboard.program.TensorBoard(plugins=...)` with and
without `SparsityPlugin`; N never imports the plugin). It waits until both serve the last
record of every run, then measures side by side, the order alternating every repetition:

- **data**: the plugin's side is what the dashboard fetches for its first screen (the lazy
  flow of issue 14): `GET runs`, then `GET summaries?run=…&first_layers=12` in 4 batches of
  runs, as the dashboard's store asks (every run's summary with the series of its first 12
  layer cards; the cards further down fetch theirs with `series` as they come near the
  view). TensorBoard's side is what its Time Series tab fetches for
  the same `…/mask:0/sparsity` tags (checked in Chromium's network log): `GET
  timeseries/tags`, then one `POST timeseries/timeSeries` per card with
  `requests=[{"plugin": "scalars", "tag": T}]` (all runs in one answer). Both sides send
  their requests one after another over one keep-alive connection. "first fetch" is the
  plugin's first fetch after ingestion (one sample: nothing cached yet), "repeat fetch" the
  same requests again (medians); "batched" is TensorBoard's best case, all tags in one POST;
  "Time Series' own first screen" is `timeseries/tags` and the first 6 tags' POSTs (what
  its tab fetches before drawing the cards in view). The plugin cannot get near that one:
  a run's summary (diagnostics, whole-model series, per-layer final values) needs every
  layer's series read, where Time Series reads 6.
- **tab drawn**: headless Chromium, a fresh browser context (empty cache) per load, time
  from navigation start (`performance.now()`) until done, after one untimed load of each
  page (the first page a fresh browser loads from a TensorBoard compiles TensorBoard's own
  code, 1–2 s more, which fell on the Sparsity tab, always loaded first). Sparsity tab done: inside the
  plugin's iframe there is a `.layer-card` per layer, every card inside the viewport and the
  `.model-card` hold a uPlot `canvas` and no run is still loading (the dashboard draws runs
  as they arrive), plus one animation frame (the dashboard draws the cards near the view
  first and the others as they scroll in, as Time Series does; a card in view must also
  not say `data-loaded="false"`, i.e. its series have arrived). Time Series done (URL `?tagFilter=mask:0/sparsity`):
  the header lists every matching card, and every card inside the 1400 × 900 viewport has
  its data-table rows, a chart canvas and no spinner, plus one animation frame. Time Series
  loads and draws only the cards in view (6 of 100); so does the Sparsity tab since issue 14
  (every run's summary, then the series of the cards near the view).
- **memory**: resident set size of the TensorBoard process plus its children (the Rust data
  server) of W after serving the data and browser loads above, against N after serving the
  same Time Series requests and page loads.
- **other benchmarks**: the CLI-vs-tbparse and Keras-callback ratios are read from the pages
  their own modules write (benchmarks/cli_vs_tbparse.py, benchmarks/callback_overhead.py)."""


def _f(value, fmt="%.3f"):
    return "n/a" if value is None else fmt % value


def _met(value, target):
    if value is None or target is None:
        return ""
    return " ✅" if value <= target else " ❌"


def rows_for(result):
    """Table rows (measure, plugin side, TensorBoard side, ratio, target) of one result."""
    rows = []
    p, t = median(result.get("plugin_s", [])), median(result.get("timeseries_s", []))
    b = median(result.get("timeseries_batched_s", []))
    cold = result.get("plugin_cold_s")
    rows.append(("first screen, first fetch (s)", cold, t, ratio(cold, t), TARGETS["first"],
                 "%.3f"))
    rows.append(("first screen, repeat fetch (s)", p, t, ratio(p, t), TARGETS["data"], "%.3f"))
    screen = median(result.get("timeseries_first_screen_s", []))
    if screen is not None:
        rows.append(("first fetch vs Time Series' own first screen (%d cards) (s)"
                     % FIRST_SCREEN_CARDS, cold, screen, ratio(cold, screen), None, "%.3f"))
    rows.append(("repeat fetch vs one batched timeSeries POST (s)", p, b, ratio(p, b), None,
                 "%.3f"))
    if result.get("browser"):
        sp, ts = median(result.get("browser_sparsity_ms", [])), median(result.get("browser_timeseries_ms", []))
        target = TARGETS["browser_large" if result["size"] == "large" else "browser"]
        rows.append(("tab drawn (ms)", sp, ts, ratio(sp, ts), target, "%.0f"))
    mw, mn = result.get("rss_with"), result.get("rss_without")
    rows.append(("TensorBoard RSS (MB)", mw / 1e6 if mw else None, mn / 1e6 if mn else None,
                 ratio(mw, mn), TARGETS["memory"], "%.0f"))
    return rows


def markdown_table(results):
    lines = [
        "| size (runs × layers × steps) | loader | measure | plugin | TensorBoard | ratio | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = r["spec"]
        label = "%s (%d × %d × %d)" % (r["size"], s["runs"], s["layers"], s["steps"])
        loader = "Rust (`--load_fast=true`)" if r["loader"] == "true" else "Python (`--load_fast=false`)"
        if r.get("sequential"):
            loader += ", one TensorBoard at a time"
        if r.get("baseline") is False:
            loader += ", no TensorBoard without the plugin"
        for name, a, b, q, target, fmt in rows_for(r):
            lines.append("| %s | %s | %s | %s | %s | %s%s | %s |" % (
                label, loader, name, _f(a, fmt), _f(b, fmt), _f(q, "%.2f"), _met(q, target),
                "≤ %.2f" % target if target is not None else ""))
    return "\n".join(lines)


def raw_table(results):
    lines = ["| size | loader | measured at | ingest (s, with / without) | plugin JSON (MB) | Time Series JSON (MB) "
             "| plugin warm runs (s) | Time Series runs (s) | Sparsity tab runs (ms) | Time Series tab runs (ms) |",
             "| --- | --- | --- | --- | ---: | ---: | --- | --- | --- | --- |"]
    for r in results:
        ing = r.get("ingest_seconds", {})
        lines.append("| %s | %s | %s | %s / %s | %.1f | %.1f | %s | %s | %s | %s |" % (
            r["size"], r["loader"] + (" (sequential)" if r.get("sequential") else "")
            + (" (no baseline)" if r.get("baseline") is False else ""),
            r.get("when", "?") + (" †" if r.get("recovered_from") else ""),
            _f(ing.get("with"), "%.0f"), _f(ing.get("without"), "%.0f"),
            r.get("plugin_bytes", 0) / 1e6, r.get("timeseries_bytes", 0) / 1e6,
            ", ".join("%.2f" % v for v in r.get("plugin_s", [])),
            ", ".join("%.2f" % v for v in r.get("timeseries_s", [])),
            ", ".join(_f(v, "%.0f") for v in r.get("browser_sparsity_ms", [])),
            ", ".join(_f(v, "%.0f") for v in r.get("browser_timeseries_ms", []))))
    return "\n".join(lines)


def _machine_md(m):
    return "%s, %s cores, %s GB RAM; %s; Python %s, TensorBoard %s; %s" % (
        m["cpu"], m["cores"], m["ram_gb"], m["os"], m["python"], m["tensorboard"],
        m["chromium"] or "no Chromium")


def machines_md(results, machine):
    """The machine(s) the results were measured on (each result keeps its own)."""
    by_machine = {}
    for r in results:
        by_machine.setdefault(_machine_md(r.get("machine") or machine), []).append(
            "%s %s" % (r["size"], "Rust" if r["loader"] == "true" else "Python"))
    if len(by_machine) <= 1:
        return "Machine: %s." % (next(iter(by_machine)) if by_machine else _machine_md(machine))
    return "Machines (each result measured on one of them): " + "; ".join(
        "%s (%s)" % (m, ", ".join(which)) for m, which in by_machine.items()) + "."


def write_markdown(path, results, machine, command, others, notes_path=None):
    lines = [
        "# Benchmarks",
        "",
        "The Sparsity tab against TensorBoard's own Time Series tab on synthetic tfmot pruning",
        "logdirs (benchmarks/synthetic.py), with both of TensorBoard's loaders. To reproduce",
        "(all sizes, both loaders, 5 repetitions, headless Chromium at %s):" % CHROMIUM,
        "",
        "```",
        "pip install -e '.[test]' py-spy   # playwright, psutil; py-spy for the profiles",
        "python -m benchmarks --out docs/benchmarks.md",
        "```",
        "",
        "This page was written by `%s`; each size × loader result is kept as JSON in "
        "`benchmarks/results` (`--report-only` rebuilds the page from them)." % command,
        "",
        machines_md(results, machine) + " Both sides are "
        "measured side by side, interleaved, on the same machine: read the ratios, not the "
        "absolute times (benchmarks/NOTES.md says what else ran).",
        "",
        "## Results",
        "",
        "Medians of %s repetitions (see the raw table). Ratios are plugin / TensorBoard; ✅ meets the target, ❌ misses it."
        % ", ".join(sorted({str(r["repeat"]) for r in results})),
        "",
        "Targets (issue 14; ratios, so they hold on any machine): the first fetch of what the "
        "Sparsity tab needs for its first screen ≤ 0.3 × the Time Series requests for the same "
        "tags, repeat fetches ≤ 0.05 ×, the Sparsity tab drawn ≤ 0.6 × the Time Series tab on the "
        "large logdir and ≤ 0.7 × elsewhere, TensorBoard's memory ≤ 1.05 × without the plugin, CLI "
        "report ≤ 0.5 × tbparse. Where one is missed, the findings below say why.",
        "",
        markdown_table(results),
        "",
        "Other benchmarks (their own modules and pages):",
        "",
        "| measure | ratio | target | source |",
        "| --- | ---: | ---: | --- |",
    ]
    for o in others:
        lines.append("| %s | %s%s | %s | %s |" % (
            o["name"], _f(o["ratio"], "%.2f"), _met(o["ratio"], o["target"]),
            "≤ %.2f" % o["target"] if o["target"] is not None else "", o["source"]))
    lines += ["", "## What is measured", "", MEASURED_MD, "",
              "Sizes: " + ", ".join("%s = %d runs × %d pruned layers × %d logged steps" % (
                  k, v["runs"], v["layers"], v["steps"]) for k, v in synthetic.SIZES.items()),
              "(each run also has `train` and `validation` runs, like Keras writes; the sweep's runs are "
              "named `sweep_s<target>_seed<k>`, 10 target sparsities × 10 seeds, with no model config, "
              "so no schedule on record). TensorBoard keeps at most "
              "1000 points per scalar series (`--samples_per_plugin` default), so the large size serves 1000 "
              "of its 2000 steps on both sides.", "",
              "## All repetitions", "", raw_table(results), ""]
    if any(r.get("recovered_from") for r in results):
        lines += ["† Recovered: the JSON of this result was lost with the machine that measured it "
                  "(results were kept outside the repository then), so it was rebuilt from this page "
                  "as it was printed; medians of its rounded values can differ from the printed ones "
                  "in the last digit.", ""]
    if notes_path and os.path.exists(notes_path):
        lines += [open(notes_path, encoding="utf-8").read().rstrip(), ""]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


# -- entry point ---------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="small,medium,large")
    p.add_argument("--loaders", default="false,true")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--workdir", default=DEFAULT_WORKDIR)
    p.add_argument("--results", default=DEFAULT_RESULTS,
                   help="where each size x loader result is kept as JSON")
    p.add_argument("--reuse", action="store_true",
                   help="reuse results already in --results instead of measuring again")
    p.add_argument("--report-only", action="store_true",
                   help="measure nothing: write the page from the results in --results")
    p.add_argument("--notes", default=os.path.join(ROOT, "benchmarks", "NOTES.md"),
                   help="markdown appended to the page (profiles, findings)")
    p.add_argument("--sequential", action="store_true",
                   help="run TensorBoard without the plugin first (memory baseline), then with "
                        "it, instead of both at once: for sizes where two don't fit in RAM")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="--no-baseline: no TensorBoard without the plugin (no memory ratio): "
                        "for sizes whose two ingestions, one after the other, take too long")
    p.add_argument("--ingest-timeout", type=int, default=3600)
    p.add_argument("--browser-timeout", type=int, default=600)
    args = p.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.loaders = [s.strip() for s in args.loaders.split(",") if s.strip()]
    for s in args.sizes:
        if s not in synthetic.SIZES:
            p.error("unknown size %r (one of %s)" % (s, ", ".join(synthetic.SIZES)))
    for lf in args.loaders:
        if lf not in ("false", "true"):
            p.error("--loaders: false and/or true")
    if args.browser and not os.path.exists(CHROMIUM):
        log("no %s: --no-browser" % CHROMIUM)
        args.browser = False
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    results_dir = args.results
    os.makedirs(results_dir, exist_ok=True)
    machine = machine_description()
    log("machine: %(cpu)s, %(cores)s cores, %(ram_gb)s GB; TensorBoard %(tensorboard)s" % machine)
    results = []
    for size in args.sizes:
        if args.report_only:
            for loader in args.loaders:
                for path in sorted(glob.glob(os.path.join(results_dir, "%s_%s*.json" % (size, loader)))):
                    with open(path) as f:
                        results.append(json.load(f))
            continue
        logdir = synthetic.cached_logdir(args.workdir, size, processes=2, log=log)
        for loader in args.loaders:
            path = os.path.join(results_dir, "%s_%s%s.json" % (
                size, loader, "_no_baseline" if not args.baseline else
                "_sequential" if args.sequential else ""))
            if args.reuse and os.path.exists(path):
                with open(path) as f:
                    results.append(json.load(f))
                continue
            result = bench_one(size, loader, logdir, args)
            result["machine"] = machine
            with open(path, "w") as f:
                json.dump(result, f, indent=1)
            results.append(result)
    others = other_results()
    command = "python -m benchmarks " + " ".join(argv) if argv else "python -m benchmarks"
    write_markdown(args.out, results, machine, command, others, args.notes)
    print(markdown_table(results))
    log("written to %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
