"""From TensorBoard's data provider to runs, pruned layers, series and schedules.

Everything is read through `tensorboard.data.provider.DataProvider`, so the plugin works
with both of TensorBoard's loaders and every logdir TensorBoard can read. No event-file
parsing and no multiplexer here.

Where the schedule comes from, in this order:
  (a) the plugin's own config summary, written by `SparsitySummaries` (metadata.py);
  (b) the Keras model config (`keras` tag, plugin `graph_keras_model`) of a sibling run in
      the same directory (`exp/train` for `exp/metrics`), matched by wrapper name;
  (c) other tools' tags (SparseML, Distiller, NNCF: tool_tags.py), measured data and the
      levels they log;
  (d) none: measured data only.

Damaged records cost only themselves: a point that is not a finite sparsity in [0, 1] is
dropped and counted in `RunData.skipped`; a tag that cannot be read at all is dropped and
named there.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import gc
import hashlib
import json
import math
import posixpath
import re
import threading
import time

import numpy as np
from tensorboard.data import provider

from tb_sparsity_plugin import lru
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import recovery
from tb_sparsity_plugin import run_files
from tb_sparsity_plugin import trainings as trainings_lib
from tb_sparsity_plugin import schedules
from tb_sparsity_plugin import tool_tags

SCALARS_PLUGIN = "scalars"
KERAS_MODEL_PLUGIN = "graph_keras_model"
KERAS_MODEL_TAG = "keras"

# tfmot's PruningSummaries: "<wrapper>/mask:0/sparsity" and "<wrapper>/threshold:0/threshold"
# (a wrapper with several pruned weights names its masks mask, mask_1, ...).
TFMOT_SPARSITY_TAG = re.compile(r"^(?P<wrapper>.+)/(?P<mask>mask(?:_\d+)?):0/sparsity$")
WRAPPER_PREFIX = "prune_low_magnitude_"
SOURCE_OWN = "sparsity_summaries"
SOURCE_KERAS = "keras_model_config"
SOURCE_NONE = "none"

# Ask the provider for every point it keeps; ingestion already caps a series
# (--samples_per_plugin, 1000 scalars by default).
ALL_POINTS = 1_000_000
# The provider requests the reader makes, for bulk_provider.BulkProvider.warm (the CLI
# issues them at once): listings (method, plugin) and reads (method, plugin, downsample).
LISTINGS = (("list_scalars", SCALARS_PLUGIN), ("list_tensors", metadata.PLUGIN_NAME),
            ("list_blob_sequences", KERAS_MODEL_PLUGIN))
BULK_READS = (("read_scalars", SCALARS_PLUGIN, ALL_POINTS),
              ("read_tensors", metadata.PLUGIN_NAME, 1),
              ("read_blob_sequences", KERAS_MODEL_PLUGIN, 1))


@dataclasses.dataclass
class LayerData:
    """One pruned weight of one run, as logged."""

    tag: str
    wrapper: str
    name: str  # readable: wrapped layer's name, plus the weight when it is not the first
    weight: str  # "kernel", "recurrent_kernel", ... ("" when unknown)
    key: str  # lines the same layer up across runs
    position: int | None  # wrapper's index in the flattened model config
    layer_class: str | None
    params: int | None
    schedule: dict | None  # {"class_name", "config"} as logged, not validated
    block_size: list | None = None
    sparsity_m_by_n: list | None = None
    measured: list = dataclasses.field(default_factory=list)  # [[step, value]]
    threshold: list | None = None  # None: not read (read_run(..., thresholds=False))
    weight_zeros: list | None = None
    # tfmot logs a threshold of 999.0 under `sparsity_m_by_n` (pruning_impl.py), far above
    # any trained weight's magnitude: the m:n pattern itself is not in its logs.
    m_by_n_marker: bool = False
    logged_target: list | None = None  # the level a scheduler asked for, as logged
    # Version-2 summaries (docs/summary_format.md): the tensor's entry, and what
    # schedules.parse_schedule needs besides the schedule.
    entry: dict | None = None
    rounding: dict | None = None
    shape: list | None = None
    logged: dict | None = None  # {name: [[step, value]]} of schedules.logged_series_tags
    nm_compliance: list | None = None  # fraction of groups that satisfy the entry's N:M


@dataclasses.dataclass
class RunData:
    run: str
    group: str
    source: str
    layers: list
    training_last_step: int | None = None
    training_last_step_source: str | None = None
    skipped: dict = dataclasses.field(default_factory=dict)  # reason -> count
    problems: list = dataclasses.field(default_factory=list)  # sentences about the logs
    thresholds: bool = False  # whether the layers' threshold series were read
    # Several trainings in the run directory (trainings.py): {"index", "count", "how",
    # "config_matched_by"} of the one this RunData holds; None when there is one.
    training: dict | None = None
    trainings_problem: str | None = None  # why several trainings could not be told apart
    trainings_listed: list | None = None  # [(sparsity tags, last record step)] per training
    unsplit_files: int = 0  # the run's event files beyond one per training found
    # A tool's own series of all its pruned weights (weighted by count) and its target.
    model_measured: list | None = None
    model_target: list | None = None
    clock: dict = dataclasses.field(default_factory=dict)  # torch.ao: metadata.CLOCK_TAGS series


class Listing(collections.namedtuple("Listing", "scalars own models")):
    """What the provider lists: {run: {tag: metadata}} of scalars, of this plugin's own
    tensors, and of Keras model configs (or a string saying why those could not be listed)."""


@dataclasses.dataclass(frozen=True)
class RunSummary:
    run: str
    group: str
    num_layers: int
    source: str
    last_step: int


def run_group(run):
    """The experiment directory of a run: "exp" for "exp/metrics", "" at the top."""
    return posixpath.dirname(run.replace("\\", "/"))


def readable_name(wrapper):
    base = wrapper.rsplit("/", 1)[-1]
    return base[len(WRAPPER_PREFIX):] if base.startswith(WRAPPER_PREFIX) else base


def clean_series(points, skipped, lower=0.0, upper=1.0):
    """Sorted, one point per step (the record read last wins), finite and in range.

    `points` are (step, value) pairs in the provider's order. Dropped points are counted
    in `skipped` by reason.
    """
    fast = _clean_fast(points, lower, upper)
    if fast is not None:
        return fast
    by_step = {}
    for step, value in points:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            skipped["non-finite value"] = skipped.get("non-finite value", 0) + 1
            continue
        if lower is not None and not lower <= value <= upper:
            skipped["value outside [0, 1]"] = skipped.get("value outside [0, 1]", 0) + 1
            continue
        if step in by_step:
            skipped["duplicate step (later record kept)"] = (
                skipped.get("duplicate step (later record kept)", 0) + 1
            )
        by_step[int(step)] = float(value)
    return [[s, by_step[s]] for s in sorted(by_step)]


def _clean_fast(points, lower, upper):
    """clean_series for the usual series (increasing steps, finite values in range), in
    NumPy; None when the series needs the per-point checks."""
    if not points:
        return []
    try:
        steps, values = zip(*points)
        s = np.array(steps, dtype=np.int64)
        v = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if v.ndim != 1 or np.any(np.diff(s) <= 0) or not np.all(np.isfinite(v)):
        return None
    if lower is not None and (v.min() < lower or v.max() > upper):
        return None
    return [list(p) for p in zip(s.tolist(), v.tolist())]


_gc_lock = threading.Lock()
_gc_state = {"pausers": 0, "was_enabled": True}


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a run's series are built and analysed.

    A run is ~10^5 small lists; every few hundred allocations the collector walks the
    whole heap, which was half of the time of reading a run (8 x 100 x 1000 benchmark).
    Nothing here makes reference cycles; the collector resumes (if it was on) when the
    last of concurrent pausers ends.
    """
    with _gc_lock:
        if _gc_state["pausers"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["pausers"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["pausers"] -= 1
            if _gc_state["pausers"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


# -- Keras model config ---------------------------------------------------------------


def _input_shape(layer_json):
    for holder in (layer_json, layer_json.get("config") or {}):
        build = holder.get("build_config") if isinstance(holder, dict) else None
        if isinstance(build, dict) and isinstance(build.get("input_shape"), list):
            return build["input_shape"]
        if isinstance(holder, dict) and isinstance(holder.get("batch_input_shape"), list):
            return holder["batch_input_shape"]
    return None


def _prod(values):
    out = 1
    for v in values:
        if not isinstance(v, int) or v <= 0:
            return None
        out *= v
    return out


def kernel_params(layer_json, wrapper_json=None):
    """Number of entries of the pruned kernel, from a Keras layer config, or None.

    Covers the layers whose pruned weight is unambiguous: Dense, Conv*, Conv*Transpose,
    DepthwiseConv*, Embedding.
    """
    try:
        cls = layer_json.get("class_name")
        cfg = layer_json.get("config") or {}
        shape = _input_shape(layer_json) or (_input_shape(wrapper_json) if wrapper_json else None)
        if cls == "Embedding":
            return _prod([cfg["input_dim"], cfg["output_dim"]])
        if not shape or not isinstance(shape[-1], int):
            return None
        channels_first = cfg.get("data_format") == "channels_first"
        in_ch = shape[1] if channels_first else shape[-1]
        if cls == "Dense":
            return _prod([in_ch, cfg["units"]])
        kernel = cfg.get("kernel_size")
        if isinstance(kernel, int):
            kernel = [kernel]
        if re.fullmatch(r"Conv[123]D", cls or ""):
            groups = cfg.get("groups", 1) or 1
            if in_ch % groups:
                return None
            return _prod(list(kernel) + [in_ch // groups, cfg["filters"]])
        if re.fullmatch(r"Conv[123]DTranspose", cls or ""):
            return _prod(list(kernel) + [cfg["filters"], in_ch])
        if re.fullmatch(r"DepthwiseConv[12]D", cls or ""):
            return _prod(list(kernel) + [in_ch, cfg.get("depth_multiplier", 1)])
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    return None


def wrappers_in_model_config(model_json):
    """{wrapper name: info} for every PruneLowMagnitude wrapper, in model order.

    Position counts every layer of the (depth-first flattened) model config, so the same
    architecture gives the same positions whatever Keras' name suffixes are.
    """
    found = collections.OrderedDict()
    counter = [0]

    def walk(layers):
        if not isinstance(layers, list):
            return
        for layer in layers:
            if not isinstance(layer, dict):
                continue
            cls = layer.get("class_name")
            cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            if cls in ("Sequential", "Functional", "Model") and isinstance(cfg.get("layers"), list):
                walk(cfg["layers"])
                continue
            if cls == "InputLayer":
                continue
            position = counter[0]
            counter[0] += 1
            if cls != "PruneLowMagnitude" or not isinstance(cfg.get("name"), str):
                continue
            inner = cfg.get("layer") if isinstance(cfg.get("layer"), dict) else {}
            found[cfg["name"]] = {
                "position": position,
                "layer_class": inner.get("class_name"),
                "layer_name": (inner.get("config") or {}).get("name"),
                "schedule": cfg.get("pruning_schedule"),
                "block_size": cfg.get("block_size"),
                "params": kernel_params(inner, layer),
            }

    if isinstance(model_json, dict):
        cfg = model_json.get("config")
        if isinstance(cfg, dict):
            walk(cfg.get("layers"))
    return found


# -- the reader -----------------------------------------------------------------------


class Reader:
    """Reads runs from a data provider.

    Every read is keyed by the run's fingerprint (its tags' max step and wall time in the
    provider's listing, its siblings', and its event files' sizes), so a run is read again
    only when its data changed. Full series are kept for the few runs read last; the runs
    route keeps only a small summary per run.
    """

    # The `run` route keeps its own encoded answers; the table, export and quality routes
    # ask for one run at a time.
    MAX_CACHED_RUNS = 2
    MAX_SUMMARIES = 10_000  # a few hundred bytes each
    MAX_LISTINGS = 32  # a group's listing serves 2 s; the whole logdir's sits among them
    MAX_MODELS = 64  # a model's wrappers: ~2 KB per pruned layer

    def __init__(self, data_provider, logdir=None, scan_ahead=False):
        self._provider = data_provider
        # With a local logdir, damaged event files are scanned so that the records both of
        # TensorBoard's loaders drop after a damaged record are recovered and reported.
        self._damage = recovery.DamageScanner(logdir)
        if scan_ahead:  # a long-lived server: check files before the first request needs them
            self._damage.start_background()
        self._lock = threading.Lock()
        # (experiment_id, run) -> (fingerprint, RunData), most recently used last
        self._cache = collections.OrderedDict()
        # Every cache is bounded (issue 14): a server that has shown 500 runs holds no more
        # than one that has shown a few. (experiment_id, run) -> (fingerprint, RunSummary)
        self._summaries = lru.BoundedCache(max_entries=self.MAX_SUMMARIES)
        # (experiment_id, group or None: all) -> (monotonic time, listing)
        self._listings = lru.BoundedCache(max_entries=self.MAX_LISTINGS)
        # (experiment_id, run) -> (fingerprint, {wrapper: info} | problem sentence)
        self._model_cache = lru.BoundedCache(max_entries=self.MAX_MODELS)

    # listing ---------------------------------------------------------------------

    # How long one listing of the provider serves. The Python loader's listing walks every
    # point (it computes each series' max step), so a dashboard's burst of requests shares
    # one; TensorBoard itself reloads the logdir only every 5 s by default.
    LISTING_TTL_SECONDS = 2.0

    def _listing(self, ctx, experiment_id, group=None):
        """The Listing of every run, or of the runs of `group` only.

        One run's fingerprint and read need only its group (the run and its siblings): with
        the Python loader, whose listing walks every point of the runs it lists, listing a
        group instead of the logdir was a quarter of a big run's first read.
        """
        now = time.monotonic()
        full = self._listings.get((experiment_id, None))
        hit = self._listings.get((experiment_id, group))
        if full and now - full[0] < self.LISTING_TTL_SECONDS:
            return full[1] if group is None else _only_group(full[1], group)
        if hit and now - hit[0] < self.LISTING_TTL_SECONDS:
            return hit[1]
        listing = self._list_now(ctx, experiment_id, group)
        self._listings.put((experiment_id, group), (now, listing))
        return listing

    def _list_now(self, ctx, experiment_id, group):
        run_filter = None
        if group is not None:
            names = [r.run_name for r in self._provider.list_runs(ctx, experiment_id=experiment_id)]
            run_filter = provider.RunTagFilter(runs=[r for r in names if run_group(r) == group])
        scalars = self._provider.list_scalars(
            ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN,
            run_tag_filter=run_filter,
        )
        own = self._provider.list_tensors(
            ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=run_filter,
        )
        # Listed here, not per run: each call to the Rust data server costs ~35 ms.
        try:
            models = self._provider.list_blob_sequences(
                ctx, experiment_id=experiment_id, plugin_name=KERAS_MODEL_PLUGIN,
                run_tag_filter=run_filter,
            ) or {}
        except Exception as e:
            models = "the Keras model config could not be listed (%s)" % e
        return Listing(scalars or {}, own or {}, models)

    def list_runs(self, ctx, experiment_id):
        """RunSummary for every run holding sparsity data, sorted by run name.

        Answered from the provider's listing plus the small config summaries (the plugin's
        own config, the Keras model config): no series is read, so the first request of a
        dashboard on a big logdir answers at once (reading every series here took 9 of the
        12 s of the first fetch on the 8 x 100 x 1000 benchmark logdir).
        """
        listing = self._listing(ctx, experiment_id)
        scalars, own, _ = listing
        out = {}
        todo = []
        for run in sorted(set(scalars) | set(own)):
            fingerprint = self._fingerprint(run, listing)
            if fingerprint is None:
                continue
            hit = self._summaries.get((experiment_id, run))
            if hit and hit[0] == fingerprint:
                out.update((s.run, s) for s in hit[1])
            else:
                todo.append((run, fingerprint))

        def summarize(item):
            run, fingerprint = item
            summary = self._summarize(ctx, experiment_id, run, listing)
            self._summaries.put((experiment_id, run), (fingerprint, summary))
            return summary

        # A summary waits on a round trip or two to the data server (the model config):
        # overlap them.
        if len(todo) > 1:
            with concurrent.futures.ThreadPoolExecutor(min(8, len(todo))) as pool:
                summaries = list(pool.map(summarize, todo))
        else:
            summaries = [summarize(item) for item in todo]
        out.update((s.run, s) for some in summaries for s in some)
        return [out[run] for run in sorted(out)]

    def _summarize(self, ctx, experiment_id, run, listing):
        """[RunSummary]: one, or one per training when the run holds several."""
        scalars, own, models = listing
        tags = scalars.get(run, {})
        group = run_group(run)
        weights = None
        if metadata.CONFIG_TAG in own.get(run, {}):
            weights, _ = self._own_weights(ctx, experiment_id, run)
        if weights is not None:
            mask_tags = [w["tags"].get("mask_sparsity") for w in weights]
            mask_tags = [t for t in mask_tags if isinstance(t, str)]
            # A removed mask's tensor goes on as its weight's zeros (_measured).
            last_tags = mask_tags + [w["tags"].get("weight_sparsity") for w in weights
                                     if isinstance(w.get("mask_removed_at"), int)]
            source = SOURCE_OWN
        elif _tool_plan(tags):
            tool = _tool_plan(tags)
            mask_tags, source = [l.tag for l in tool.layers], tool.source
            last_tags = mask_tags
        else:
            mask_tags = list(_tfmot_sparsity_tags(tags))
            wrappers, _ = self._model_wrappers(ctx, experiment_id, run, group, models)
            source = SOURCE_KERAS if wrappers else SOURCE_NONE
            last_tags = mask_tags
        last = max((int(tags[t].max_step) for t in last_tags if t in tags), default=0)
        if source in (SOURCE_KERAS, SOURCE_NONE) and self._may_hold_trainings(
                run, [tags[t] for t in mask_tags]):
            data = self.read_run(ctx, experiment_id, run)
            if data is not None and data.training:
                return [RunSummary(trainings_lib.run_name(run, i), group, n, data.source, step)
                        for i, (n, step) in enumerate(data.trainings_listed, start=1)]
        return [RunSummary(run, group, len(mask_tags), source, last)]

    def _may_hold_trainings(self, run, metas):
        """Whether a tfmot run may hold several trainings, from its listing: its tags
        stopped at different times, or (local logdir) it has several event files. Only
        then are its series read to list its trainings."""
        walls = [m.max_wall_time for m in metas]
        spread = max(walls) - min(walls) if walls else 0.0
        return spread > trainings_lib.SAME_MOMENT_SECONDS or len(self._damage.files(run)) > 1

    def fingerprint(self, ctx, experiment_id, run):
        """What identifies the current data of `run` (None: no sparsity data). Cheap."""
        return self._fingerprint(run, self._listing(ctx, experiment_id, run_group(run)))

    def fingerprints(self, ctx, experiment_id, runs):
        """{run: fingerprint or None} for several runs, from one listing of the logdir
        (a listing per group would be a round trip to the data server each)."""
        if len(set(runs)) == 1:
            return {run: self.fingerprint(ctx, experiment_id, run) for run in runs}
        listing = self._listing(ctx, experiment_id)
        return {run: self._fingerprint(run, listing) for run in runs}

    def _fingerprint(self, run, listing):
        scalars, own, _ = listing
        run = _listed_run(run, listing)
        tags = scalars.get(run, {})
        own_tags = own.get(run, {})
        if metadata.CONFIG_TAG not in own_tags and not any(
            TFMOT_SPARSITY_TAG.match(t) for t in tags
        ) and not _tool_plan(tags):
            return None
        # Kept per run by every cache: a digest, not the tuple (~100 KB for 300 layers).
        return hashlib.blake2b(repr((
            sorted((t, m.max_step, m.max_wall_time) for t, m in tags.items()),
            sorted((t, m.max_step, m.max_wall_time) for t, m in own_tags.items()),
            self._sibling_fingerprint(scalars, run_group(run)),
            self._damage.fingerprint(run),
        )).encode("utf-8"), digest_size=16).digest()

    def has_sparsity_data(self, ctx, experiment_id):
        scalars, own, _ = self._listing(ctx, experiment_id)
        if any(metadata.CONFIG_TAG in tags for tags in own.values()):
            return True
        return any(any(TFMOT_SPARSITY_TAG.match(t) for t in tags) or tool_tags.plan(tags)
                   for tags in scalars.values())

    def scalar_tags(self, ctx, experiment_id):
        """{run: [tag]} of every scalar series (quality.py picks a run's group's metrics)."""
        scalars = self._listing(ctx, experiment_id).scalars
        return {run: list(tags) for run, tags in scalars.items()}

    def read_metric_series(self, ctx, experiment_id, run, tags):
        """{tag: [[step, value]]} of any scalars (losses too): finite, one point per step."""
        raw = self._read_scalar_tags(ctx, experiment_id, run, list(tags), {})
        return {tag: clean_series(points, {}, lower=None) for tag, points in raw.items()}

    # one run ---------------------------------------------------------------------

    def read_run(self, ctx, experiment_id, run, thresholds=False):
        """RunData for `run`, or None when it holds no sparsity data.

        tfmot's threshold series are as many points as the sparsity series and no chart
        needs them: they are read only when `thresholds` (tables, exports, the CLI).
        """
        listing = self._listing(ctx, experiment_id, run_group(run))
        fingerprint = self._fingerprint(run, listing)
        if fingerprint is None:
            return None
        scalars = listing.scalars
        key = (experiment_id, run)
        # "exp/metrics#2": the second of several trainings in run "exp/metrics".
        name, run = run, _listed_run(run, listing)
        index = trainings_lib.parse_run_name(name)[1] if name != run else None
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] == fingerprint and (hit[1].thresholds or not thresholds):
                self._cache.move_to_end(key)
                return hit[1]
        group = run_group(run)
        tags = scalars.get(run, {})
        with gc_paused():
            if metadata.CONFIG_TAG in listing.own.get(run, {}):
                data = None if index else self._read_own(
                    ctx, experiment_id, run, group, tags, listing, thresholds)
            elif _tool_plan(tags):
                data = None if index else self._read_tool(
                    ctx, experiment_id, run, group, _tool_plan(tags))
            else:
                data = self._read_tfmot(ctx, experiment_id, run, group, tags, listing,
                                        thresholds, index=index)
        if data is None:  # a training index the run does not have
            return None
        data.thresholds = thresholds
        with self._lock:
            self._cache[key] = (fingerprint, data)
            self._cache.move_to_end(key)
            while len(self._cache) > self.MAX_CACHED_RUNS:
                self._cache.popitem(last=False)
        return data

    @staticmethod
    def _sibling_fingerprint(scalars, group):
        out = []
        for run, tags in scalars.items():
            if run_group(run) == group:
                out.append((run, max((m.max_step for m in tags.values()), default=-1),
                            max((m.max_wall_time for m in tags.values()), default=-1)))
        return tuple(sorted(out))

    def _read_scalar_tags(self, ctx, experiment_id, run, tag_list, skipped, walls=False):
        """{tag: [(step, value)]} for the tags (with `walls`, [(step, value, wall_time)]);
        unreadable tags are dropped and counted."""
        if not tag_list:
            return {}
        try:
            result = self._provider.read_scalars(
                ctx,
                experiment_id=experiment_id,
                plugin_name=SCALARS_PLUGIN,
                downsample=ALL_POINTS,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=tag_list),
            )
            series = result.get(run, {})
        except Exception:  # a damaged tag breaks the batch: retry tag by tag
            series = {}
            for tag in tag_list:
                try:
                    one = self._provider.read_scalars(
                        ctx,
                        experiment_id=experiment_id,
                        plugin_name=SCALARS_PLUGIN,
                        downsample=ALL_POINTS,
                        run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
                    )
                    series.update(one.get(run, {}))
                except Exception:
                    reason = "unreadable series (not a scalar?)"
                    skipped[reason] = skipped.get(reason, 0) + 1
        if walls:
            out = {tag: [(d.step, d.value, d.wall_time) for d in data]
                   for tag, data in series.items()}
        else:
            out = {tag: [(d.step, d.value) for d in data] for tag, data in series.items()}
        return self._add_recovered(run, tag_list, out, skipped, walls)

    def _add_recovered(self, run, tag_list, series, skipped, walls=False):
        """Add the points of records TensorBoard's loaders dropped after file damage.

        They go before the provider's points, so on a shared step the provider's record
        (read last by clean_series) wins.
        """
        damage, events = self._damage.scan_run(run)
        for reason, count in damage.items():
            skipped[reason] = skipped.get(reason, 0) + count
        wanted = set(tag_list)
        recovered = {}
        for event in events:
            for value in event.summary.value:
                if value.tag not in wanted:
                    continue
                number = recovery.scalar_of(value)
                if number is None:
                    reason = "unreadable series (not a scalar?)"
                    skipped[reason] = skipped.get(reason, 0) + 1
                    continue
                point = (event.step, number, event.wall_time) if walls else (event.step, number)
                recovered.setdefault(value.tag, []).append(point)
        for tag, points in recovered.items():
            series[tag] = points + series.get(tag, [])
        return series

    def _own_weights(self, ctx, experiment_id, run):
        """(the weights of the plugin's own config summary, None) or (None, problem)."""
        try:
            tensors = self._provider.read_tensors(
                ctx,
                experiment_id=experiment_id,
                plugin_name=metadata.PLUGIN_NAME,
                downsample=1,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=[metadata.CONFIG_TAG]),
            )
            datum = tensors.get(run, {}).get(metadata.CONFIG_TAG, [])[-1]
            raw = datum.numpy.item() if hasattr(datum.numpy, "item") else datum.numpy
            return metadata.decode_config(raw), None
        except Exception as e:  # not ours, or damaged: the caller falls back to tfmot's tags
            return None, "the plugin's config summary could not be read (%s)" % e

    def _read_own(self, ctx, experiment_id, run, group, tags, listing, thresholds):
        skipped = {}
        weights, problem = self._own_weights(ctx, experiment_id, run)
        if weights is None:
            return self._read_tfmot(
                ctx, experiment_id, run, group, tags, listing, thresholds, [problem])
        problems = []
        wanted = set(t for t in metadata.CLOCK_TAGS.values() if t in tags)
        for w in weights:
            for name in ("mask_sparsity", "weight_sparsity", "nm_compliance") + (
                    ("threshold",) if thresholds else ()):
                tag = w["tags"].get(name)
                if isinstance(tag, str) and tag in tags:
                    wanted.add(tag)
            wanted.update(t for t in schedules.logged_series_tags(w).values() if t in tags)
        series = self._read_scalar_tags(ctx, experiment_id, run, sorted(wanted), skipped)
        if any("method" in w and w.get("method") != "tfmot" for w in weights):
            # SparsityWriter.close() logs the final state again at the last step logged:
            # that record replaces the one before it, it is no repeated step.
            series = {tag: _close_record(points) for tag, points in series.items()}
        layers = []
        firsts = set()
        for w in weights:
            mask_tag = w["tags"].get("mask_sparsity")
            if not isinstance(mask_tag, str):
                continue
            wrapper = str(w.get("wrapper") or mask_tag)
            weight = str(w.get("weight") or "")
            position = w.get("position") if isinstance(w.get("position"), int) else None
            layer_class = w.get("layer_class") if isinstance(w.get("layer_class"), str) else None
            first = wrapper not in firsts
            firsts.add(wrapper)
            base = str(w.get("layer") or readable_name(wrapper))
            name = base if first else "%s/%s" % (base, weight)
            if position is not None and layer_class:
                key = "%d:%s" % (position, key_class(layer_class)) + ("" if first else "/" + weight)
            else:
                key = name
            params = w.get("params")
            params = params if isinstance(params, int) and params > 0 else None
            zeros_tag = w["tags"].get("weight_sparsity")
            weight_zeros = clean_series(series[zeros_tag], skipped) if zeros_tag in series else None
            version2 = "method" in w and w.get("method") != "tfmot"
            rounding = w.get("rounding") if isinstance(w.get("rounding"), dict) else None
            block = rounding.get("block_shape") if rounding and rounding.get("rule") == "blocks" else None
            layers.append(
                LayerData(
                    tag=mask_tag,
                    wrapper=wrapper,
                    name=name,
                    weight=weight,
                    key=key,
                    position=position,
                    layer_class=layer_class,
                    params=params,
                    schedule=w.get("schedule"),
                    block_size=block or w.get("block_size"),
                    sparsity_m_by_n=w.get("sparsity_m_by_n"),
                    measured=_measured(clean_series(series.get(mask_tag, []), skipped),
                                       weight_zeros, w.get("mask_removed_at")),
                    threshold=(
                        clean_series(series.get(w["tags"].get("threshold"), []), {}, lower=None)
                        if thresholds else None
                    ),
                    weight_zeros=weight_zeros,
                    entry=w if version2 else None,
                    rounding=rounding,
                    shape=w.get("shape") if isinstance(w.get("shape"), list) else None,
                    logged={name: clean_series(series.get(tag, []), {}, lower=None)
                            for name, tag in schedules.logged_series_tags(w).items()},
                    nm_compliance=(
                        clean_series(series[w["tags"]["nm_compliance"]], skipped)
                        if w["tags"].get("nm_compliance") in series else None),
                )
            )
        data = RunData(run, group, SOURCE_OWN, layers, skipped=skipped, problems=problems)
        data.clock = {name: clean_series(series[tag], {}, lower=None)
                      for name, tag in metadata.CLOCK_TAGS.items() if tag in series}
        # The writers log the final state at train end: their last step is the last training step.
        last = max((l.measured[-1][0] for l in layers if l.measured), default=None)
        data.training_last_step = last
        writer = "SparsityWriter" if any(l.entry for l in layers) else "SparsitySummaries"
        data.training_last_step_source = "%s' last record" % writer if last is not None else None
        return data

    def _read_tool(self, ctx, experiment_id, run, group, tool):
        """Another tool's tags (tool_tags.py): measured series, logged targets, no schedule."""
        skipped = {}
        series = self._read_scalar_tags(ctx, experiment_id, run, tool.tags, skipped)
        found, model, model_target = tool_tags.layers_of(tool, series)
        layers = [
            LayerData(
                tag=layer.tag, wrapper=layer.name, name=layer.name, weight=layer.weight,
                key=layer.key, position=None, layer_class=None, params=None, schedule=None,
                measured=clean_series(measured, skipped),
                logged_target=clean_series(target, skipped) if target is not None else None,
            )
            for layer, measured, target in found
        ]
        data = RunData(run, group, tool.source, layers, skipped=skipped)
        if model is not None:
            data.model_measured = clean_series(model, skipped)
            data.model_target = clean_series(model_target or [], skipped) or None
        return data

    def _read_tfmot(self, ctx, experiment_id, run, group, tags, listing, thresholds,
                    problems=None, index=None):
        """RunData of tfmot's tags; with several trainings in the run, of training `index`
        (1-based; None: the last), or None when there is no such training."""
        skipped = {}
        problems = list(problems or [])
        sparsity_tags = _tfmot_sparsity_tags(tags)
        wanted = list(sparsity_tags)
        if thresholds:
            wanted += [t for _, t in sparsity_tags.values() if t]
        series = self._read_scalar_tags(ctx, experiment_id, run, wanted, skipped, walls=True)
        file_starts = [trainings_lib.file_start(p) for p in self._damage.files(run)]
        split = trainings_lib.split_trainings(series, file_starts)
        count = len(split.trainings)
        if index is not None and not (count > 1 and index <= count):
            return None
        chosen = None
        if count > 1:
            index = index or count
            chosen = split.trainings[index - 1]
            series = chosen.series
            sparsity_tags = {t: v for t, v in sparsity_tags.items() if t in chosen.tags}
        else:  # one training: the points in the provider's order, as read
            series = {tag: [p[:2] for p in points] for tag, points in series.items()}

        wrappers, config_problem, matched_by = self._training_wrappers(
            ctx, experiment_id, run, group, listing.models, chosen, count,
            {w for w, _ in sparsity_tags.values()})
        if config_problem:
            problems.append(config_problem)
        # tfmot's m:n marker is in the threshold series: its last value is enough.
        markers = series if thresholds else self._read_last_points(
            ctx, experiment_id, run, [t for _, t in sparsity_tags.values() if t])
        source = SOURCE_KERAS if wrappers else SOURCE_NONE
        layers = []
        for tag, (wrapper, threshold_tag) in sparsity_tags.items():
            info = None
            if wrappers:
                info = wrappers.get(wrapper) or wrappers.get(wrapper.rsplit("/", 1)[-1])
            name = readable_name(wrapper)
            if info and isinstance(info.get("layer_name"), str):
                name = info["layer_name"]
            mask = TFMOT_SPARSITY_TAG.match(tag).group("mask")
            if mask != "mask":
                name = "%s/%s" % (name, mask)
            position = info["position"] if info else None
            layer_class = info["layer_class"] if info else None
            if position is not None and isinstance(layer_class, str):
                key = "%d:%s" % (position, layer_class) + ("" if mask == "mask" else "/" + mask)
            else:
                key = name
            layers.append(
                LayerData(
                    tag=tag,
                    wrapper=wrapper,
                    name=name,
                    weight="",
                    key=key,
                    position=position,
                    layer_class=layer_class if isinstance(layer_class, str) else None,
                    params=info["params"] if info and mask == "mask" else None,
                    schedule=info["schedule"] if info else None,
                    block_size=info["block_size"] if info else None,
                    measured=clean_series(series.get(tag, []), skipped),
                    threshold=(clean_series(series.get(threshold_tag, []), {}, lower=None)
                               if thresholds else None),
                    m_by_n_marker=_m_by_n_marker(markers.get(threshold_tag)),
                )
            )
        layers.sort(key=lambda l: (l.position if l.position is not None else 1 << 60, l.name))
        if wrappers:
            unmatched = [l.tag for l in layers if l.schedule is None]
            if unmatched:
                problems.append(
                    "no wrapper in the Keras model config matches %s" % ", ".join(unmatched[:5])
                )
        data = RunData(run, group, source, layers, skipped=skipped, problems=problems)
        data.trainings_problem = split.problem
        # Each `fit` opens its own event file: more files than trainings found may mean
        # trainings on the same tags that the Rust loader dropped (or one resumed run).
        data.unsplit_files = max(len(file_starts) - count, 0)
        if chosen is None:
            data.training_last_step, data.training_last_step_source = _training_last_step(
                listing.scalars, group
            )
            return data
        data.run = trainings_lib.run_name(run, index)
        data.training = {"index": index, "count": count, "how": split.how,
                         "config_matched_by": matched_by}
        data.trainings_listed = [
            (sum(1 for t in training.tags if TFMOT_SPARSITY_TAG.match(t)), training.last_step)
            for training in split.trainings]
        data.training_last_step, data.training_last_step_source = self._training_last_step(
            ctx, experiment_id, group, listing.scalars, split.trainings, index)
        return data

    # several trainings in one run directory (trainings.py) -------------------------------

    def _training_wrappers(self, ctx, experiment_id, run, group, models, chosen, count,
                           wrapper_names):
        """(wrappers, problem or None, how the config was matched or None) of the Keras
        model config that belongs to the training read.

        With several trainings, or several configs in the local `train` event files, the
        config is the one whose wrapper names match, written last before the training
        (trainings.config_for); else the one the data provider keeps.
        """
        configs = self._file_configs(group, models)
        if chosen is None and len(configs) <= 1:
            wrappers, problem = self._model_wrappers(ctx, experiment_id, run, group, models)
            return wrappers, problem, None
        if not configs:  # a remote logdir: the provider's config, matched by names only
            wrappers, problem = self._model_wrappers(ctx, experiment_id, run, group, models)
            configs = [(float("-inf"), wrappers)] if wrappers else []
            if not configs:
                return {}, problem, None
        start = chosen.start if chosen is not None else float("inf")
        found, matched_by = trainings_lib.config_for(wrapper_names, start, configs)
        if found is None:
            return {}, "no Keras model config was written before this training", None
        return configs[found][1], None, matched_by

    def _file_configs(self, group, models):
        """[(wall_time, wrappers)] of every Keras model config in the local event files of
        the group's runs that hold one (`train`)."""
        if isinstance(models, str):
            return []
        out = []
        for candidate in sorted(models):
            if run_group(candidate) == group and KERAS_MODEL_TAG in models[candidate]:
                for wall, model in run_files.keras_configs(self._damage.files(candidate)):
                    out.append((wall, wrappers_in_model_config(model)))
        return sorted(out, key=lambda c: c[0])

    def _training_last_step(self, ctx, experiment_id, group, scalars, trainings, index):
        """(last step, source) of training `index` from `evaluation_*_vs_iterations`
        records between its start and the next training's (from the local event files,
        where the Rust loader kept only the last training's; else from the provider)."""
        for run, tags in sorted(scalars.items()):
            if run_group(run) != group:
                continue
            for tag in sorted(tags):
                if not (tag.startswith("evaluation_") and tag.endswith("_vs_iterations")):
                    continue
                paths = self._damage.files(run)
                if paths:
                    points = run_files.scalar_points(paths, [tag])
                else:
                    read = self._read_scalar_tags(ctx, experiment_id, run, [tag], {}, walls=True)
                    points = [(p[0], p[2]) for p in read.get(tag, [])]
                last = trainings_lib.last_steps(trainings, points)[index - 1]
                if last is not None:
                    return last, "%s in run %r, training %d" % (tag, run, index)
        return None, None

    def _read_last_points(self, ctx, experiment_id, run, tag_list):
        """{tag: [[step, value]]}: the last point of each tag (one small read)."""
        if not tag_list:
            return {}
        try:
            result = self._provider.read_scalars(
                ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN, downsample=1,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=tag_list))
        except Exception:  # only a hint (tfmot's m:n marker): no threshold, no hint
            return {}
        return {tag: [[d.step, d.value] for d in data[-1:]]
                for tag, data in result.get(run, {}).items()}

    def _model_wrappers(self, ctx, experiment_id, run, group, listing):
        """(wrappers from a sibling run's Keras model config, problem sentence or None).

        `listing` is Listing.models.
        """
        if isinstance(listing, str):
            return {}, listing
        candidates = [r for r in listing if run_group(r) == group and KERAS_MODEL_TAG in listing[r]]
        # The Keras TensorBoard callback writes the model to "<exp>/train".
        candidates.sort(key=lambda r: (posixpath.basename(r) != "train", r != run, r))
        problem = None
        for candidate in candidates:
            meta = listing[candidate][KERAS_MODEL_TAG]
            fingerprint = (meta.max_step, meta.max_wall_time)
            key = (experiment_id, candidate)
            hit = self._model_cache.get(key)
            if hit and hit[0] == fingerprint:
                wrappers = hit[1]
            else:  # only the wrappers are kept: a model config is ~10x bigger as Python objects
                model = self._read_model_json(ctx, experiment_id, candidate)
                wrappers = model if isinstance(model, str) else wrappers_in_model_config(model)
                self._model_cache.put(key, (fingerprint, wrappers))
            if isinstance(wrappers, str):
                problem = "the Keras model config in run %r is unusable: %s" % (candidate, wrappers)
                continue
            if wrappers:
                return wrappers, None
            problem = "the Keras model config in run %r has no PruneLowMagnitude wrapper" % candidate
        return {}, problem

    def _read_model_json(self, ctx, experiment_id, run):
        """The model config as a dict, or a string saying what is wrong with it."""
        try:
            seqs = self._provider.read_blob_sequences(
                ctx,
                experiment_id=experiment_id,
                plugin_name=KERAS_MODEL_PLUGIN,
                downsample=1,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=[KERAS_MODEL_TAG]),
            )
            data = seqs.get(run, {}).get(KERAS_MODEL_TAG, [])
            if not data or not data[-1].values:
                return "no model config recorded"
            raw = self._provider.read_blob(ctx, blob_key=data[-1].values[0].blob_key)
            model = json.loads(raw)
        except Exception as e:
            return "%s: %s" % (type(e).__name__, e)
        if not isinstance(model, dict):
            return "not a JSON object"
        return model


M_BY_N_THRESHOLD = 999.0


def _m_by_n_marker(points):
    """Whether a tfmot threshold series shows its m:n marker after step 0."""
    return any(p[0] >= 1 and p[1] == M_BY_N_THRESHOLD for p in points or ())


def _listed_run(name, listing):
    """The listed run a name refers to: itself, or "exp/metrics" for "exp/metrics#2"."""
    scalars, own, _ = listing
    if name in scalars or name in own:
        return name
    return trainings_lib.parse_run_name(name)[0]


# PyTorch's layer classes by the Keras name of the same layer, so that a key ("7:Dense")
# lines the same architecture up across frameworks; torch.ao's parametrization renames the
# class ("ParametrizedLinear").
KERAS_CLASS_NAMES = {
    "Linear": "Dense", "Conv1d": "Conv1D", "Conv2d": "Conv2D", "Conv3d": "Conv3D",
    "ConvTranspose1d": "Conv1DTranspose", "ConvTranspose2d": "Conv2DTranspose",
    "ConvTranspose3d": "Conv3DTranspose",
}


def key_class(layer_class):
    if layer_class.startswith("Parametrized") and len(layer_class) > len("Parametrized"):
        layer_class = layer_class[len("Parametrized"):]
    return KERAS_CLASS_NAMES.get(layer_class, layer_class)


def _close_record(points):
    if len(points) >= 2 and points[-1][0] == points[-2][0]:
        return points[:-2] + points[-1:]
    return points


def _measured(mask, weight_zeros, removed_at):
    """The mask's series, continued by the weight's own zeros once the mask is removed
    (prune.remove, squash_mask): then they are the sparsity the model has."""
    if not isinstance(removed_at, int) or not weight_zeros:
        return mask
    after = mask[-1][0] if mask else removed_at - 1
    return mask + [p for p in weight_zeros if p[0] >= removed_at and p[0] > after]


def _only_group(listing, group):
    def only(by_run):
        if isinstance(by_run, str):  # a listing error
            return by_run
        return {run: tags for run, tags in by_run.items() if run_group(run) == group}

    return Listing(*(only(part) for part in listing))


def _tfmot_sparsity_tags(tags):
    """{sparsity tag: (wrapper, its threshold tag or None)} of tfmot's PruningSummaries."""
    out = {}
    for tag in tags:
        m = TFMOT_SPARSITY_TAG.match(tag)
        if m:
            threshold_tag = "%s/%s:0/threshold" % (
                m.group("wrapper"),
                m.group("mask").replace("mask", "threshold", 1),
            )
            out[tag] = (m.group("wrapper"), threshold_tag if threshold_tag in tags else None)
    return out


def _tool_plan(tags):
    """Another tool's ToolPlan for a run's tags, unless tfmot's own tags are there."""
    if any(TFMOT_SPARSITY_TAG.match(t) for t in tags):
        return None
    return tool_tags.plan(tags)


def _training_last_step(scalars, group):
    """The last training step from a sibling run's `evaluation_*_vs_iterations` tags.

    Keras' TensorBoard callback logs them at each epoch end with step = iterations.
    """
    best = None
    for run, tags in sorted(scalars.items()):  # sorted: the same answer from both loaders
        if run_group(run) != group:
            continue
        for tag, meta in sorted(tags.items()):
            if tag.startswith("evaluation_") and tag.endswith("_vs_iterations"):
                if best is None or meta.max_step > best[0]:
                    best = (int(meta.max_step), "%s in run %r" % (tag, run))
    return best if best else (None, None)

