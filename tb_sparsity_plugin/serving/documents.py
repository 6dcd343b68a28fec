"""The `run`, `summaries` and `series` routes' answers, analysed once per change of a run's
data and kept encoded, within a byte bound.

A run's analysis is kept in one of two shapes, each made from one `analysis.analyze_run`:
- "all": the whole `run` document, gzipped (what `run?run=R` answers);
- "lazy": the document without the layers' step series, gzipped (`run?series=none`), plus
  each layer's series, compressed (`_Fragment`), from which `series` answers any
  batch of runs x layers without analysing the run again (and `summaries` the summaries of
  a batch of runs). Both come from the same analysis, so the series a batch answers are
  those of the summary's `last_step`.

Entries are keyed by the run's fingerprint (reader.Reader.fingerprint): a run whose data
changed is analysed again on its next request. The `summaries` and `series` answers of a
batch are kept too, gzipped, keyed by the fingerprints of all its runs.
"""

import concurrent.futures
import functools
import gzip
import json
import logging
import threading
import zlib

import numpy as np
import orjson
from tensorboard import errors
from tensorboard.backend import json_util

from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin.analysis import exports
from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin import run_data

# Every per-layer step series of the `run` document (exports.LAYER_SERIES): `series=none`
# leaves them out and the `series` route answers them.
LAYER_SERIES = exports.LAYER_SERIES
SERIES_ALL = "all"
SERIES_NONE = "none"

logger = logging.getLogger(__name__)

# The batch answers' cache gets 1/ANSWER_SHARE of the plugin's cache bound (cache.cache_bytes).
ANSWER_SHARE = 8


def encode_json(doc):
    """Compact JSON (UTF-8 bytes) of a document the reader built (finite numbers only).

    orjson: encoding was 16 % of a cold `run?series=none` (json's float formatting) and
    most of the rest of a warm one; orjson gives the same numbers 10x faster.
    """
    try:
        return orjson.dumps(doc, default=run_data.json_default,
                            option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, ValueError):  # a type orjson does not know: the standard library
        return json.dumps(json_util.Cleanse(doc), separators=(",", ":"),
                          default=run_data.json_default).encode("utf-8")


class EncodedJson:
    """A JSON document encoded once: compact, gzipped (`encoded`: `doc` is its JSON text)."""

    def __init__(self, doc, encoded=False):
        data = doc.encode("utf-8") if encoded else encode_json(doc)
        self.gzipped = gzip.compress(data, compresslevel=3, mtime=0)

    @property
    def size(self):
        return len(self.gzipped)


def without_series(doc):
    """The `run` document without the layers' step series (`run?series=none`)."""
    out = dict(doc, series=SERIES_NONE)
    out["layers"] = [{k: v for k, v in layer.items() if k not in LAYER_SERIES}
                     for layer in doc["layers"]]
    return out


class _NoData(errors.NotFoundError):
    """A run without sparsity data (a 404 of `run`, an entry's error in `series`)."""

    def __init__(self, run):
        self.sentence = "no sparsity data for run %r" % run
        super().__init__(self.sentence)


def _step_arrays(series):
    """(int64 steps, float64 values) of a series of [int step, float value] pairs, or None
    for anything else (None, other types), which is kept as its JSON."""
    if isinstance(series, run_data.Points):
        steps, values = series.arrays
        return steps.astype(np.int64), values
    if not isinstance(series, list) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and type(p[0]) is int
            and type(p[1]) is float for p in series):
        return None
    return (np.array([p[0] for p in series], dtype=np.int64),
            np.array([p[1] for p in series], dtype=np.float64))


def _runs(array):
    """(start index, length) of each run of equal neighbours in `array`."""
    if len(array) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.concatenate(([0], np.flatnonzero(array[1:] != array[:-1]) + 1))
    return starts, np.diff(np.append(starts, len(array)))


def packed_series(steps, values):
    """A series as `series?packed=1` answers it (http_api.md): `{"steps": [...], "values":
    [...]}`, steps as `[first, stride, count]` runs (a lone step as itself), values as
    `[value, count]` runs (a lone value as itself). A measured series changes only on
    pruning steps: packed, it is 1/100 of its pairs' JSON when logged at a regular stride,
    1/7 with the large benchmark logdir's irregular logging."""
    values_out = []
    starts, counts = _runs(values)
    for value, count in zip(values[starts].tolist(), counts.tolist()):
        values_out.append(value if count == 1 else [value, count])
    steps_out = []
    gaps = np.diff(steps)
    steps = steps.tolist()
    if len(steps) > 1:
        i, n = 0, len(steps)  # steps before i are out
        gap_starts, gap_counts = _runs(gaps)
        for start, count in zip(gap_starts.tolist(), gap_counts.tolist()):
            first, last = max(i, start), start + count  # points first..last share the gap
            if last - first >= 2:  # three points or more: a run
                steps_out += steps[i:first]
                steps_out.append([steps[first], int(gaps[start]), last - first + 1])
                i = last + 1
        steps_out += steps[i:n]
    else:
        steps_out = steps
    return {"steps": steps_out, "values": values_out}


class _Fragment:
    """One layer's step series, compressed: pairs as their arrays (steps as differences, so a
    regular stride is one repeated number; a measured series repeats its value between
    pruning steps), anything else as JSON; the same JSON back. A fifth of the size of the
    compressed JSON on the medium benchmark logdir: as compressed JSON, the large one's
    fragments filled the 64 MB cache, and its runs evicted each other."""

    __slots__ = ("layout", "blob")

    def __init__(self, layer):
        layout, parts = [], []  # (name, points) for arrays, (name, -1 - bytes) for JSON
        for name in LAYER_SERIES:
            if name not in layer:
                continue
            arrays = _step_arrays(layer[name])
            if arrays is None:
                text = encode_json(layer[name])
                layout.append((name, -1 - len(text)))
                parts.append(text)
            else:
                steps, values = arrays
                layout.append((name, len(steps)))
                parts += [np.diff(steps, prepend=0).tobytes(), values.tobytes()]
        self.layout = tuple(layout)
        self.blob = zlib.compress(b"".join(parts), 1)

    def json(self, packed=False):
        """The layer's `{"measured": [[step, value], ...], ...}` as JSON bytes; with `packed`,
        the pairs as runs (`packed_series`)."""
        data, pos, out = zlib.decompress(self.blob), 0, []
        for name, n in self.layout:
            if n < 0:
                text = data[pos:pos - 1 - n]
                pos += -1 - n
            else:
                steps = np.cumsum(np.frombuffer(data, np.int64, n, pos))
                values = np.frombuffer(data, np.float64, n, pos + 8 * n)
                text = encode_json(packed_series(steps, values) if packed
                                   else run_data.Points(steps, values))
                pos += 16 * n
            out.append(b'"%s":%s' % (name.encode(), text))
        return b"{%s}" % b",".join(out)


def _model_order(layer):
    """The dashboard's default order of layer cards (frontend/src/view_models/layers.js sortLayerRows):
    by position, then name, then key; layers without a position last."""
    position, name, key = layer.get("position"), layer.get("name"), layer["key"]
    name = name if isinstance(name, str) and name else key
    if (isinstance(position, (int, float)) and not isinstance(position, bool)
            and np.isfinite(position)):
        return (0, position, name, key)
    return (1, 0, name, key)


def _entry_key(experiment_id, run, thresholds, shape):
    """A run's analysis in the documents cache (shape: SERIES_ALL or SERIES_NONE)."""
    return (experiment_id, run, thresholds, shape)


class _LazyRun:
    """One analysis of a run: its summary document and each layer's series fragment."""

    def __init__(self, doc):
        self.last_step = doc["last_step"]
        self.summary = EncodedJson(without_series(doc))
        self.fragments = {layer["key"]: _Fragment(layer) for layer in doc["layers"]}
        self.keys_in_model_order = [
            layer["key"] for layer in sorted(doc["layers"], key=_model_order)]
        self.size = self.summary.size + sum(len(f.blob) + 64 for f in self.fragments.values())

    def series_json(self, keys, packed=False):
        """`{"last_step": S, "layers": {"<key>": {series...}, ...}}` for the keys this run
        has, as JSON text (one run's entry of the `series` route)."""
        parts = ["%s:%s" % (json.dumps(k), self.fragments[k].json(packed).decode("utf-8"))
                 for k in keys if k in self.fragments]
        return '{"last_step":%s,"layers":{%s}}' % (json.dumps(self.last_step), ",".join(parts))


class RunDocuments:
    """Analyses runs read by `reader` and keeps the encoded answers (LRU, byte-bounded)."""

    # Runs built at once with the data server (_build_all), across all requests. Building
    # is mostly Python work under the GIL, and each thread that lets go of it (NumPy, zlib)
    # waits behind the others to take it back: cold first screens on 2 cores, 2/3/4
    # threads: large 7.6-7.7/8.1-8.6/9.0-9.2 s, sweep 1.0-1.4/0.8-1.0/0.9 s. (Each
    # analysis of a 300-layer run also holds ~45 MB.)
    BUILD_THREADS = 3

    def __init__(self, reader, max_bytes=None):
        self._reader = reader
        bound = cache.cache_bytes() if max_bytes is None else max_bytes
        # Each run's analysis (its answers and series fragments), and whole batch answers
        # (`summaries`, `series`, gzipped), within one bound: the batches get an eighth.
        self._cache = cache.BoundedCache(max_bytes=bound - bound // ANSWER_SHARE)
        self._answers = cache.BoundedCache(max_bytes=bound // ANSWER_SHARE)
        # key -> [lock, users]: one analysis of a run at a time. The dashboard asks for a
        # run's summary and its first cards' series together; both wait for one analysis.
        self._building = {}
        self._building_lock = threading.Lock()
        self._build_slots = threading.BoundedSemaphore(self.BUILD_THREADS)  # _build_all's

    def document(self, ctx, experiment_id, run, thresholds=False, series=SERIES_ALL):
        """The `run` document (EncodedJson); NotFoundError without sparsity data."""
        if series == SERIES_NONE:
            return self._lazy(ctx, experiment_id, run, thresholds).summary
        return self._entry(ctx, experiment_id, run, thresholds, SERIES_ALL, EncodedJson)

    def series(self, ctx, experiment_id, runs, keys, thresholds=False, packed=False):
        """The `series` route's answer (EncodedJson): runs x layer keys."""
        return self._answer(
            ctx, experiment_id, runs, thresholds, ("series", tuple(keys), packed),
            lambda batch: '{"runs":%s}' % batch(lambda entry: entry.series_json(keys, packed)))

    def summaries(self, ctx, experiment_id, runs, thresholds=False, first_layers=0):
        """The `summaries` route's answer (EncodedJson): each run's `run?series=none`; with
        `first_layers`, also the packed series of each run's first layers in the
        dashboard's default card order (by position, then name), shaped as `series`
        answers them. They come with the summaries so the first screen's charts need no
        second round trip (on the large benchmark logdir the series request went out
        ~500 ms after the summaries')."""

        def text(batch):
            summaries = batch(lambda entry: gzip.decompress(entry.summary.gzipped).decode("utf-8"))
            if not first_layers:
                return '{"runs":%s}' % summaries
            series = batch(lambda entry: entry.series_json(
                entry.keys_in_model_order[:first_layers], True))
            return '{"runs":%s,"series":%s}' % (summaries, series)

        return self._answer(ctx, experiment_id, runs, thresholds, ("summaries", first_layers), text)

    def _answer(self, ctx, experiment_id, runs, thresholds, what, make_text):
        """A batch route's answer, kept (gzipped) until one of its runs changes: a page
        load asks for the same batches again, and a warm `summaries` batch of the large
        benchmark logdir spent ~60 of its ~110 ms re-encoding the same 2.7 MB. Answers
        with an error (a run without data, a failed read) are not kept."""
        fingerprints = self._reader.fingerprints(ctx, experiment_id, runs)
        version = tuple(fingerprints.get(run) for run in runs)
        key = (experiment_id, tuple(runs), thresholds) + what
        hit = self._answers.get(key, version)
        if hit is not None:
            return hit
        failed = []

        def batch(body_of):
            text, failed_runs = self._batch_json(
                ctx, experiment_id, runs, thresholds, fingerprints, body_of)
            failed.extend(failed_runs)
            return text

        answer = EncodedJson(make_text(batch), encoded=True)
        if not failed:
            self._answers.put(key, answer, version, answer.size)
        return answer

    def _batch_json(self, ctx, experiment_id, runs, thresholds, fingerprints, body_of):
        """(`{run: body_of(its lazy entry), ...}` as JSON text, the runs that failed).

        A run without sparsity data (or that fails) gets `{"error": ...}`; the others are
        answered even so. (Each run's entry is analysed once: a second call with the same
        fingerprints finds it in the cache.)
        """
        built = self._build_all(ctx, experiment_id, runs, thresholds, fingerprints)
        parts, failed = [], []
        for run in runs:
            try:
                body = body_of(built[run]())
            except _NoData as e:
                body = json.dumps({"error": e.sentence})
                failed.append(run)
            except errors.PublicError as e:
                body = json.dumps({"error": str(e)})
                failed.append(run)
            except Exception as e:  # a bug: this run says so, the others are answered
                logger.exception("sparsity plugin: run %r of a batch failed", run)
                body = json.dumps({"error": "internal error in the sparsity plugin: %s"
                                   % type(e).__name__})
                failed.append(run)
            parts.append("%s:%s" % (json.dumps(run), body))
        return "{%s}" % ",".join(parts), failed

    def _build_all(self, ctx, experiment_id, runs, thresholds, fingerprints):
        """{run: a function returning its lazy entry (or raising what building it raised)}.

        With TensorBoard's data server, a run's reads are mostly waits for its answers
        (~40 ms a call: benchmarks/NOTES.md), and a 100-run sweep's cold summaries spent
        most of their time waiting run after run; the runs of a batch are then built on
        the plugin's few build threads, so the waits overlap. In process (the Python
        loader) reads are Python work under the GIL, and threads would only interleave
        it: one after another.
        """

        def build(run):
            if fingerprints.get(run) is None:
                raise _NoData(run)
            return self._lazy(ctx, experiment_id, run, thresholds, fingerprints[run])

        built = {run: functools.partial(build, run) for run in runs}
        cold = [run for run in runs if fingerprints.get(run) is not None and self._cache.get(
            _entry_key(experiment_id, run, thresholds, SERIES_NONE), fingerprints[run]) is None]
        if not self._reader.reads_wait_on_a_server or len(cold) < 2:
            return built

        def build_when_free(run):
            with self._build_slots:
                return build(run)

        with concurrent.futures.ThreadPoolExecutor(min(len(cold), self.BUILD_THREADS)) as pool:
            futures = {run: pool.submit(build_when_free, run) for run in cold}
        built.update((run, future.result) for run, future in futures.items())
        return built

    # -- helpers -------------------------------------------------------------------------

    def _lazy(self, ctx, experiment_id, run, thresholds, fingerprint=None):
        return self._entry(ctx, experiment_id, run, thresholds, SERIES_NONE, _LazyRun,
                           fingerprint)

    def _entry(self, ctx, experiment_id, run, thresholds, shape, build, fingerprint=None):
        if fingerprint is None:
            fingerprint = self._reader.fingerprint(ctx, experiment_id, run)
        if fingerprint is None:
            raise _NoData(run)
        key = _entry_key(experiment_id, run, thresholds, shape)
        hit = self._cache.get(key, fingerprint)
        if hit is not None:
            return hit
        with self._building_lock:
            building = self._building.setdefault(key, [threading.Lock(), 0])
            building[1] += 1
        try:
            with building[0]:
                hit = self._cache.get(key, fingerprint)  # built while this one waited
                if hit is not None:
                    return hit
                with cache.gc_paused():
                    data = self._reader.read_run(ctx, experiment_id, run, thresholds=thresholds)
                    if data is None:
                        raise _NoData(run)
                    value = build(run_document.analyze_run(data, thresholds))
                self._cache.put(key, value, fingerprint, value.size)
                return value
        finally:
            with self._building_lock:
                building[1] -= 1
                if building[1] == 0:
                    del self._building[key]
