"""The reads a source makes of a run through the data provider: scalar series, the last
point of some, the last tensor or blob of a tag, and the run's local event files.

One object per reader, handed to every source (sources/), so that a source never sees the
provider, the listings or the damage scanner themselves. I/O only: which tags to read is the
source's business.

Damaged records cost only themselves: a tag that cannot be read at all is dropped and
counted in `skipped`; records TensorBoard's loaders drop after a damaged record are
recovered (recovery.py).
"""

import json
import threading

from tensorboard.data import grpc_provider
from tensorboard.data import provider

from tb_sparsity_plugin.reading import python_loader
from tb_sparsity_plugin.reading import scalar_points
from tb_sparsity_plugin.reading.provider_listing import SCALARS_PLUGIN

# Ask the provider for every point it keeps; ingestion already caps a series
# (--samples_per_plugin, 1000 scalars by default).
ALL_POINTS = 1_000_000


class ProviderReads:
    """Reads of one data provider for the sources: `listings` is the reader's
    provider_listing.ProviderListing, `damage` its recovery.DamageScanner."""

    def __init__(self, data_provider, listings, damage):
        self._provider = data_provider
        self._listings = listings
        self._damage = damage
        # _batched: (experiment_id, listing time, what) -> {run: answer}, for one listing
        self._batches = {}
        self._batch_lock = threading.Lock()
        self._remote_calls = isinstance(data_provider, grpc_provider.GrpcDataProvider)

    @property
    def wait_on_a_server(self):
        """Whether reads are calls to TensorBoard's data server (the Rust loader), whose time
        is mostly waiting, not Python work: several can overlap on threads."""
        return self._remote_calls

    def event_files(self, run):
        """The run's local event files, oldest first ([] in a bucket)."""
        return self._damage.files(run)

    def scalars(self, ctx, experiment_id, run, tag_list, skipped, walls=False):
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

    def last_scalars(self, ctx, experiment_id, run, tag_list, every_run_tags):
        """{tag: [[step, value]]}: the last point of each tag of `run`. While a listing of the
        whole logdir serves, one read answers every run: of their tags that `every_run_tags`
        (a compiled pattern) matches."""
        if not tag_list:
            return {}
        last = self._batched(ctx, experiment_id, run, "scalars",
                             ("last_scalars", tag_list, every_run_tags))
        return {t: p for t, p in last.items() if t in tag_list}

    def last_tensor(self, ctx, experiment_id, run, plugin_name, tag):
        """The last TensorDatum of one tag of one run; raises when there is none."""
        return self._read_last(ctx, experiment_id, "read_tensors", plugin_name, run, tag)[-1]

    def last_blob_json(self, ctx, experiment_id, run, plugin_name, tag):
        """The last blob of a blob sequence as a JSON object (a dict), or a string saying
        what is wrong with it. Batched over runs like `last_scalars`."""
        try:
            data = self._batched(ctx, experiment_id, run, "models",
                                 ("blobs", plugin_name, tag)).get(tag, [])[-1:]
            if not data or not data[-1].values:
                return "no model config recorded"
            raw = self._provider.read_blob(ctx, blob_key=data[-1].values[0].blob_key)
            model = json.loads(raw)
        except Exception as e:
            return "%s: %s" % (type(e).__name__, e)
        if not isinstance(model, dict):
            return "not a JSON object"
        return model

    def _read(self, ctx, experiment_id, runs, what):
        """{run: answer} of a batched read `what` for `runs` (None: every run)."""
        if what[0] == "blobs":
            _, plugin_name, tag = what
            return self._provider.read_blob_sequences(
                ctx, experiment_id=experiment_id, plugin_name=plugin_name, downsample=1,
                run_tag_filter=provider.RunTagFilter(runs=runs, tags=[tag]))
        _, tag_list, every_run_tags = what
        if runs is None:
            listing = self._listings.last_full(experiment_id)
            tag_list = sorted({t for tags in listing.scalars.values() for t in tags
                               if every_run_tags.match(t)})
        return self._read_last_points(ctx, experiment_id, runs, tag_list)

    def _batched(self, ctx, experiment_id, run, part, what):
        """The read `what` of `run` ({} when absent), answered by one read of every run while
        a listing of the whole logdir is fresh and lists `run` in its `part` ("scalars",
        "models"): one call to the data provider then serves every run for the listing's life.

        A dashboard asks for every run in turn, and each call to the Rust data server waits
        ~40 ms (its listener leaves Nagle's algorithm on, against the client's delayed ACK;
        benchmarks/NOTES.md): a 100-run sweep's cold summaries spent half their time in such
        calls when each run made its own. Else, or when the batch fails, the run alone. Only
        with the data server: the Python loader answers in process, and its read of every
        run converts every point of every run (2.5 s more than the runs' own reads on a
        4 x 50 x 500 logdir)."""
        full = self._listings.fresh_full(experiment_id) if self._remote_calls else None
        listed = full is not None and getattr(full[1], part)
        if isinstance(listed, dict) and run in listed:
            key = (experiment_id, full[0], part)
            with self._batch_lock:  # concurrent summaries wait for one read
                answer = self._batches.get(key)
                if answer is None:
                    try:
                        answer = self._read(ctx, experiment_id, None, what)
                    except Exception:  # e.g. one damaged run: each run on its own
                        answer = False
                    # only the current listing's batches are kept
                    self._batches = {k: v for k, v in self._batches.items()
                                     if k[:2] == key[:2]}
                    self._batches[key] = answer
            if answer is not False:
                return answer.get(run, {})
        return self._read(ctx, experiment_id, [run], what).get(run, {})

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

    def _read_last(self, ctx, experiment_id, method, plugin_name, run, tag):
        """The last datum of one tag of one run (read_tensors or read_blob_sequences)."""
        result = getattr(self._provider, method)(
            ctx, experiment_id=experiment_id, plugin_name=plugin_name, downsample=1,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]))
        return result.get(run, {}).get(tag, [])[-1:]
