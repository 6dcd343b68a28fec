"""From TensorBoard's data provider to runs: I/O and caching only.

Everything is read through `tensorboard.data.provider.DataProvider`, so the plugin works
with both of TensorBoard's loaders and every logdir TensorBoard can read. No event-file
parsing and no multiplexer here, and no knowledge of tag formats: the sources (the registry
in sources/) say which tags and configs make a run's layers; the reader lists
(provider_listing.py), hands each source its reads (provider_reads.py) and caches.

Where a run's schedule comes from is the first source that claims it and reads it
(sources/__init__.py): the plugin's own config summary, tfmot's tags with the Keras model
config, or another tool's tags.

Damaged records cost only themselves: a tag that cannot be read at all is dropped and
counted in `RunData.skipped`; records TensorBoard's loaders drop after a damaged record are
recovered (recovery.py).
"""

import concurrent.futures
import hashlib

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin.sources import registry
from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.reading import provider_listing
from tb_sparsity_plugin.reading import provider_reads
from tb_sparsity_plugin.reading import recovery
from tb_sparsity_plugin.run_data import run_group
from tb_sparsity_plugin.sources.plans import DECLINED, READ_FIRST

SCALARS_PLUGIN = provider_listing.SCALARS_PLUGIN
ALL_POINTS = provider_reads.ALL_POINTS
# The provider requests the reader makes, for bulk_provider.BulkProvider.warm (the CLI
# issues them at once): listings (method, plugin) and reads (method, plugin, downsample).
LISTINGS = (("list_scalars", SCALARS_PLUGIN), ("list_tensors", metadata.PLUGIN_NAME),
            ("list_blob_sequences", provider_listing.MODEL_CONFIG_PLUGIN))
BULK_READS = (("read_scalars", SCALARS_PLUGIN, ALL_POINTS),
              ("read_tensors", metadata.PLUGIN_NAME, 1),
              ("read_blob_sequences", provider_listing.MODEL_CONFIG_PLUGIN, 1))


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

    def __init__(self, data_provider, logdir=None, scan_ahead=False):
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
        self._listings = provider_listing.ProviderListing(data_provider)
        self._reads = provider_reads.ProviderReads(data_provider, self._listings, self._damage)
        self._readings = {}  # source module -> its Reading, made on first use

    @property
    def reads_wait_on_a_server(self):
        """Whether reads are calls to TensorBoard's data server (the Rust loader), whose time
        is mostly waiting, not Python work: several can overlap on threads."""
        return self._reads.wait_on_a_server

    def _sources_of(self, run, listing):
        """The Readings of the sources that claim `run`, in order, then the fallback."""
        claiming = registry.claiming(listing.scalars.get(run, {}), listing.own.get(run, {}))
        if registry.FALLBACK not in claiming:
            claiming.append(registry.FALLBACK)
        out = []
        for source in claiming:
            reading = self._readings.get(source)
            if reading is None:
                reading = self._readings[source] = source.Reading(self._reads)
            out.append(reading)
        return out

    def list_runs(self, ctx, experiment_id):
        """RunSummary for every run holding sparsity data, sorted by run name.

        Answered from the provider's listing plus the small config summaries (the plugin's
        own config, the Keras model config): no series is read, so the first request of a
        dashboard on a big logdir answers at once (reading every series here took 9 of the
        12 s of the first fetch on the 8 x 100 x 1000 benchmark logdir).
        """
        listing = self._listings.get(ctx, experiment_id)
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
        for reading in self._sources_of(run, listing):
            found = reading.summarize(ctx, experiment_id, run, listing)
            if found is READ_FIRST:
                data = self.read_run(ctx, experiment_id, run)
                return reading.summarize_read(ctx, experiment_id, run, listing, data)
            if found is not DECLINED:
                return found
        return []

    def fingerprint(self, ctx, experiment_id, run):
        """What identifies the current data of `run` (None: no sparsity data). Cheap."""
        return self._fingerprint(run, self._listings.get(ctx, experiment_id, run_group(run)))

    def fingerprints(self, ctx, experiment_id, runs):
        """{run: fingerprint or None} for several runs, from one listing of the logdir
        (a listing per group would be a round trip to the data server each)."""
        if len(set(runs)) == 1:
            return {run: self.fingerprint(ctx, experiment_id, run) for run in runs}
        listing = self._listings.get(ctx, experiment_id)
        return {run: self._fingerprint(run, listing) for run in runs}

    def _fingerprint(self, run, listing):
        run = _listed_run(run, listing)
        if not registry.claimed(listing.scalars.get(run, {}), listing.own.get(run, {})):
            return None
        # Kept per run by every cache: a digest, not the tuple (~100 KB for 300 layers).
        return hashlib.blake2b(repr((
            listing.digest(run), self._damage.fingerprint(run),
        )).encode("utf-8"), digest_size=16).digest()

    def has_sparsity_data(self, ctx, experiment_id):
        scalars, own, _ = self._listings.get(ctx, experiment_id)
        return any(registry.claimed(scalars.get(run, {}), own.get(run, {}))
                   for run in set(scalars) | set(own))

    def scalar_tags(self, ctx, experiment_id):
        """{run: [tag]} of every scalar series (quality.py picks a run's group's metrics)."""
        scalars = self._listings.get(ctx, experiment_id).scalars
        return {run: list(tags) for run, tags in scalars.items()}

    def read_metric_series(self, ctx, experiment_id, run, tags):
        """{tag: [[step, value]]} of any scalars (losses too): finite, one point per step."""
        raw = self._reads.scalars(ctx, experiment_id, run, list(tags), {})
        return {tag: run_data.clean_series(points, {}, lower=None) for tag, points in raw.items()}

    # one run ---------------------------------------------------------------------

    def read_run(self, ctx, experiment_id, run, thresholds=False):
        """RunData for `run`, or None when it holds no sparsity data.

        tfmot's threshold series are as many points as the sparsity series and no chart
        needs them: they are read only when `thresholds` (tables, exports, the CLI).
        """
        listing = self._listings.get(ctx, experiment_id, run_group(run))
        fingerprint = self._fingerprint(run, listing)
        if fingerprint is None:
            return None
        key = (experiment_id, run)
        hit = self._runs.get(key, fingerprint)
        if hit is not None and (hit.thresholds or not thresholds):
            return hit
        # "exp/metrics#2": the second of several trainings in run "exp/metrics".
        listed = _listed_run(run, listing)
        index = run_data.parse_run_name(run)[1] if listed != run else None
        with cache.gc_paused():
            data = self._read(ctx, experiment_id, listed, listing, thresholds, index)
        if data is None:  # a training the run does not have
            return None
        data.thresholds = thresholds
        data.damage_unchecked = self._damage.unchecked(run)  # after the reads that check
        self._runs.put(key, data, fingerprint)
        return data

    def _read(self, ctx, experiment_id, run, listing, thresholds, index=None):
        """RunData of `run` from the first source that reads it (None: no such training)."""
        skipped = {}
        problems = []
        for reading in self._sources_of(run, listing):
            data = reading.read(ctx, experiment_id, run, listing, thresholds, index, skipped,
                                problems)
            if data is not DECLINED:
                return data
        return None


def _listed_run(name, listing):
    """The listed run a name refers to: itself, or "exp/metrics" for "exp/metrics#2"."""
    scalars, own, _ = listing
    if name in scalars or name in own:
        return name
    return run_data.parse_run_name(name)[0]
