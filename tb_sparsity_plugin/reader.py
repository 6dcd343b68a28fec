"""From TensorBoard's data provider to runs: I/O and caching only.

Everything is read through `tensorboard.data.provider.DataProvider`, so the plugin works
with both of TensorBoard's loaders and every logdir TensorBoard can read. No event-file
parsing and no multiplexer here, and no knowledge of tag formats: the sources (sources/)
say which tags and configs make a run's layers, the reader lists, reads and caches. Its
listings are in provider_listing.py, its reads of tfmot runs (several trainings in one run
directory, each one's Keras model config) in tfmot_reading.py.

Where the schedule comes from, in this order:
  (a) the plugin's own config summary, written by `SparsitySummaries` (sources/own.py);
  (b) the Keras model config (`keras` tag, plugin `graph_keras_model`) of a sibling run in
      the same directory (`exp/train` for `exp/metrics`), for tfmot's tags (sources/tfmot.py);
  (c) other tools' tags (SparseML, Distiller, NNCF: sources/tools.py), measured data and
      the levels they log;
  (d) none: measured data only.

Damaged records cost only themselves: a tag that cannot be read at all is dropped and
counted in `RunData.skipped`; records TensorBoard's loaders drop after a damaged record are
recovered (recovery.py).
"""

import concurrent.futures
import dataclasses
import hashlib
import threading
import time

from tensorboard.data import grpc_provider
from tensorboard.data import provider

from tb_sparsity_plugin import cache
from tb_sparsity_plugin import keras_config
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import provider_listing
from tb_sparsity_plugin import python_loader
from tb_sparsity_plugin import recovery
from tb_sparsity_plugin import scalar_points
from tb_sparsity_plugin import sources
from tb_sparsity_plugin import tfmot_reading
from tb_sparsity_plugin import trainings
from tb_sparsity_plugin.sources import own
from tb_sparsity_plugin.sources import run_group
from tb_sparsity_plugin.sources import tfmot
from tb_sparsity_plugin.sources import tools

SCALARS_PLUGIN = provider_listing.SCALARS_PLUGIN

# Ask the provider for every point it keeps; ingestion already caps a series
# (--samples_per_plugin, 1000 scalars by default).
ALL_POINTS = 1_000_000
# The provider requests the reader makes, for bulk_provider.BulkProvider.warm (the CLI
# issues them at once): listings (method, plugin) and reads (method, plugin, downsample).
LISTINGS = (("list_scalars", SCALARS_PLUGIN), ("list_tensors", metadata.PLUGIN_NAME),
            ("list_blob_sequences", keras_config.PLUGIN))
BULK_READS = (("read_scalars", SCALARS_PLUGIN, ALL_POINTS),
              ("read_tensors", metadata.PLUGIN_NAME, 1),
              ("read_blob_sequences", keras_config.PLUGIN, 1))


@dataclasses.dataclass(frozen=True)
class RunSummary:
    run: str
    group: str
    num_layers: int
    source: str
    last_step: int


# -- the reader -----------------------------------------------------------------------


class Reader(provider_listing.ProviderListing, tfmot_reading.TfmotReading):
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
    # Models' wrappers by their estimated size (4 x their repr: Python's objects), within
    # half of the plugin's cache bound (cache.cache_bytes: 32 MB by default, every run of a
    # 200-run logdir of 30-layer models, ~8 MB); fewer than that and each run's read would
    # fetch its model config again (two round trips to the data server).
    MODEL_SHARE = 0.5

    def __init__(self, data_provider, logdir=None, scan_ahead=False):
        self._provider = data_provider
        # With a local logdir, damaged event files are scanned so that the records both of
        # TensorBoard's loaders drop after a damaged record are recovered and reported.
        self._damage = recovery.DamageScanner(logdir)
        if scan_ahead:  # a long-lived server: check files before the first request needs them
            self._damage.start_background()
        # Every cache is bounded (issue 14): a server that has shown 500 runs holds no more
        # than one that has shown a few. Keyed by (experiment_id, run), checked against the
        # run's fingerprint:
        self._runs = cache.BoundedCache(max_entries=self.MAX_CACHED_RUNS)  # RunData
        self._summaries = cache.BoundedCache(max_entries=self.MAX_SUMMARIES)  # RunSummary
        # {wrapper: info} | problem sentence, checked against the model config's listing
        self._models = cache.BoundedCache(
            max_bytes=int(cache.cache_bytes() * self.MODEL_SHARE))
        # (experiment_id, group or None: all) -> (monotonic time, Listing)
        self._listings = cache.BoundedCache(max_entries=self.MAX_LISTINGS)
        self._listing_seconds = {}  # True: the whole logdir, False: a group -> last duration
        self._scalar_listing = python_loader.ScalarListing()  # (the Python loader's only)
        # _batched: (experiment_id, listing time, what) -> {run: answer}, for one listing
        self._batches = {}
        self._batch_lock = threading.Lock()
        self._remote_calls = isinstance(data_provider, grpc_provider.GrpcDataProvider)

    @property
    def reads_wait_on_a_server(self):
        """Whether reads are calls to TensorBoard's data server (the Rust loader), whose time
        is mostly waiting, not Python work: several can overlap on threads."""
        return self._remote_calls

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
            hit = self._summaries.get((experiment_id, run), fingerprint)
            if hit is not None:
                out.update((s.run, s) for s in hit)
            else:
                todo.append((run, fingerprint))

        def summarize(item):
            run, fingerprint = item
            summary = self._summarize(ctx, experiment_id, run, listing)
            self._summaries.put((experiment_id, run), summary, fingerprint)
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
        scalars, own_tensors, models = listing
        tags = scalars.get(run, {})
        weights = None
        if metadata.CONFIG_TAG in own_tensors.get(run, {}):
            weights, _ = self._own_weights(ctx, experiment_id, run)
        tool = _tool_plan(tags)
        if weights is not None:
            mask_tags, last_tags = own.mask_tags(weights), own.last_step_tags(weights)
            source = sources.SOURCE_OWN
        elif tool:
            mask_tags = last_tags = [l.tag for l in tool.layers]
            source = tool.source
        else:
            mask_tags = last_tags = list(tfmot.match_tags(tags))
            wrappers, _ = self._model_wrappers(ctx, experiment_id, run, models)
            source = sources.SOURCE_KERAS if wrappers else sources.SOURCE_NONE
        last = max((int(tags[t].max_step) for t in last_tags if t in tags), default=0)
        if weights is None and not tool and self._may_hold_trainings(
                run, [tags[t] for t in mask_tags]):
            data = self.read_run(ctx, experiment_id, run)
            if data is not None and data.training:
                return [RunSummary(trainings.run_name(run, i), run_group(run), n, data.source,
                                   step)
                        for i, (n, step) in enumerate(data.trainings_listed, start=1)]
        return [RunSummary(run, run_group(run), len(mask_tags), source, last)]

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
                map(tfmot.is_sparsity_tag, tags)) and not _tool_plan(tags):
            return None
        # Kept per run by every cache: a digest, not the tuple (~100 KB for 300 layers).
        return hashlib.blake2b(repr((
            listing.digest(run), self._damage.fingerprint(run),
        )).encode("utf-8"), digest_size=16).digest()

    def has_sparsity_data(self, ctx, experiment_id):
        scalars, own, _ = self._listing(ctx, experiment_id)
        if any(metadata.CONFIG_TAG in tags for tags in own.values()):
            return True
        return any(any(map(tfmot.is_sparsity_tag, tags)) or tools.plan(tags)
                   for tags in scalars.values())

    def scalar_tags(self, ctx, experiment_id):
        """{run: [tag]} of every scalar series (quality.py picks a run's group's metrics)."""
        scalars = self._listing(ctx, experiment_id).scalars
        return {run: list(tags) for run, tags in scalars.items()}

    def read_metric_series(self, ctx, experiment_id, run, tags):
        """{tag: [[step, value]]} of any scalars (losses too): finite, one point per step."""
        raw = self._read_scalar_tags(ctx, experiment_id, run, list(tags), {})
        return {tag: sources.clean_series(points, {}, lower=None) for tag, points in raw.items()}

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
        key = (experiment_id, run)
        hit = self._runs.get(key, fingerprint)
        if hit is not None and (hit.thresholds or not thresholds):
            return hit
        # "exp/metrics#2": the second of several trainings in run "exp/metrics".
        listed = _listed_run(run, listing)
        index = trainings.parse_run_name(run)[1] if listed != run else None
        with cache.gc_paused():
            data = self._read(ctx, experiment_id, listed, listing, thresholds, index)
        if data is None:  # a training the run does not have
            return None
        data.thresholds = thresholds
        data.damage_unchecked = self._damage.unchecked(run)  # after the reads that check
        self._runs.put(key, data, fingerprint)
        return data

    def _read(self, ctx, experiment_id, run, listing, thresholds, index=None):
        """RunData of `run`: its source's plan, the series the plan names, recovered records.

        `index`: which of several trainings in a tfmot run (None: the last; a run without
        several trainings has none: None is returned for any index)."""
        tags = listing.scalars.get(run, {})
        group = run_group(run)
        skipped = {}
        problems = []
        weights = None
        if metadata.CONFIG_TAG in listing.own.get(run, {}):
            weights, problem = self._own_weights(ctx, experiment_id, run)
            if weights is None:  # not ours, or damaged: tfmot's tags, saying why
                problems.append(problem)
        tool = _tool_plan(tags) if weights is None else None
        if (weights is not None or tool) and index is not None:
            return None
        if weights is not None:
            plan = own.plan_layers(weights)
        elif tool:
            series = self._read_scalar_tags(ctx, experiment_id, run, tool.tags, skipped)
            return tools.build_run(tool, run, group, series, skipped)
        else:
            return self._read_tfmot(ctx, experiment_id, run, listing, thresholds, index,
                                    skipped, problems)
        series = self._read_scalar_tags(
            ctx, experiment_id, run, sources.series_tags(plan, tags, thresholds), skipped)
        return own.build_run(plan, run, group, series, skipped, thresholds)

    def _read_last_scalars(self, ctx, experiment_id, run, tag_list):
        """{tag: [[step, value]]}: the last point of each tag of `run` (tfmot's thresholds)."""
        if not tag_list:
            return {}

        def read(runs):
            if runs is None:  # every run's tfmot threshold tags
                listing = self._listings.get((experiment_id, None))[1]
                tags = sorted({t for tags in listing.scalars.values() for t in tags
                               if tfmot.THRESHOLD_TAG.match(t)})
            else:
                tags = tag_list
            return self._read_last_points(ctx, experiment_id, runs, tags)

        last = self._batched(ctx, experiment_id, run, "scalars", read)
        return {t: p for t, p in last.items() if t in tag_list}

    def _batched(self, ctx, experiment_id, run, part, read):
        """read(runs)[run] ({} when absent), where `runs` is None (every run) while a listing
        of the whole logdir is fresh and lists `run` in its `part` ("scalars", "models"):
        one call to the data provider then serves every run for the listing's life.

        A dashboard asks for every run in turn, and each call to the Rust data server waits
        ~40 ms (its listener leaves Nagle's algorithm on, against the client's delayed ACK;
        benchmarks/NOTES.md): a 100-run sweep's cold summaries spent half their time in such
        calls when each run made its own. Else, or when the batch fails, read([run]). Only
        with the data server: the Python loader answers in process, and its read of every
        run converts every point of every run (2.5 s more than the runs' own reads on a
        4 x 50 x 500 logdir)."""
        full = self._listings.get((experiment_id, None)) if self._remote_calls else None
        listed = full is not None and getattr(full[1], part)
        if (isinstance(listed, dict) and run in listed
                and time.monotonic() - full[0] < self.LISTING_TTL_SECONDS):
            key = (experiment_id, full[0], part)
            with self._batch_lock:  # concurrent summaries wait for one read
                answer = self._batches.get(key)
                if answer is None:
                    try:
                        answer = read(None)
                    except Exception:  # e.g. one damaged run: each run on its own
                        answer = False
                    # only the current listing's batches are kept
                    self._batches = {k: v for k, v in self._batches.items()
                                     if k[:2] == key[:2]}
                    self._batches[key] = answer
            if answer is not False:
                return answer.get(run, {})
        return read([run]).get(run, {})

    def _read_last_points(self, ctx, experiment_id, runs, tag_list):
        """{run: {tag: [[step, value]]}}: the last point of each tag of `runs` (None: all)."""
        try:
            last = python_loader.read_last_points(self._provider, SCALARS_PLUGIN, runs, tag_list)
            if last is not None:
                return last
            result = self._provider.read_scalars(
                ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN, downsample=1,
                run_tag_filter=provider.RunTagFilter(runs=runs, tags=tag_list))
        except Exception:  # only a hint (tfmot's m:n marker): no threshold, no hint
            return {}
        return {run: {tag: [[d.step, d.value] for d in data[-1:]] for tag, data in tags.items()}
                for run, tags in result.items()}

    def _read_scalar_tags(self, ctx, experiment_id, run, tag_list, skipped, walls=False):
        """{tag: [(step, value)]} for the tags (with `walls`, [(step, value, wall_time)]);
        unreadable tags are dropped and counted."""
        if not tag_list:
            return {}

        def read(tags):
            return scalar_points.read_points(self._provider, ctx, experiment_id, SCALARS_PLUGIN,
                                             run, tags, ALL_POINTS, walls)

        try:
            out = read(tag_list)
        except Exception:  # a damaged tag breaks the batch: retry tag by tag
            out = {}
            for tag in tag_list:
                try:
                    out.update(read([tag]))
                except Exception:
                    reason = "unreadable series (not a scalar?)"
                    skipped[reason] = skipped.get(reason, 0) + 1
        return self._damage.add_recovered(run, tag_list, out, skipped, walls)

    def _read_last(self, ctx, experiment_id, method, plugin_name, run, tag):
        """The last datum of one tag of one run (read_tensors or read_blob_sequences)."""
        result = getattr(self._provider, method)(
            ctx, experiment_id=experiment_id, plugin_name=plugin_name, downsample=1,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]))
        return result.get(run, {}).get(tag, [])[-1:]

    def _own_weights(self, ctx, experiment_id, run):
        """(the weights of the plugin's own config summary, None) or (None, problem)."""
        try:
            datum = self._read_last(ctx, experiment_id, "read_tensors", metadata.PLUGIN_NAME,
                                    run, metadata.CONFIG_TAG)[-1]
            raw = datum.numpy.item() if hasattr(datum.numpy, "item") else datum.numpy
            return metadata.decode_config(raw), None
        except Exception as e:  # not ours, or damaged: the caller falls back to tfmot's tags
            return None, "the plugin's config summary could not be read (%s)" % e


def _listed_run(name, listing):
    """The listed run a name refers to: itself, or "exp/metrics" for "exp/metrics#2"."""
    scalars, own, _ = listing
    if name in scalars or name in own:
        return name
    return trainings.parse_run_name(name)[0]


def _tool_plan(tags):
    """Another tool's ToolPlan for a run's tags, unless tfmot's own tags are there."""
    if any(map(tfmot.is_sparsity_tag, tags)):
        return None
    return tools.plan(tags)
