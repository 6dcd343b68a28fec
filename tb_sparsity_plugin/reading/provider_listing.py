"""What the data provider lists, for the reader (reader.py): one listing serves 2 s from
when it is ready.

A listing is every run's scalar tags, this plugin's own tensors and the Keras model configs
(with each tag's max step and wall time: the runs' fingerprints); a run's read needs only
its group's. I/O and caching only.
"""

import collections
import hashlib
import threading
import time

from tensorboard.data import provider

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.reading import python_loader
from tb_sparsity_plugin.run_data import run_group

SCALARS_PLUGIN = "scalars"
# TensorBoard's graph plugin keeps the Keras model configs that Keras' TensorBoard callback
# writes (a source may take its schedules from them).
MODEL_CONFIG_PLUGIN = "graph_keras_model"


class Listing(collections.namedtuple("Listing", "scalars own models")):
    """What the provider lists: {run: {tag: metadata}} of scalars, of this plugin's own
    tensors, and of Keras model configs (or a string saying why those could not be listed)."""

    def of_group(self, group):
        """The Listing of the runs of `group` only. Made for every group at once, on first
        use: made per request, a 100-run sweep's warm summaries spent most of their time
        filtering the logdir's listing."""
        groups = self.__dict__.get("_groups")
        if groups is None:
            parts = {}  # group -> [scalars, own, models] of its runs
            for i, by_run in enumerate(self):
                if not isinstance(by_run, str):  # (a string: why it could not be listed)
                    for run, tags in by_run.items():
                        parts.setdefault(run_group(run), [{}, {}, {}])[i][run] = tags
            groups = {g: self._with(mine) for g, mine in parts.items()}
            self.__dict__["_groups"] = groups  # a listing never changes: kept with it
        return groups.get(group) or self._with([{}, {}, {}])

    def _with(self, parts):
        return Listing(*(part if isinstance(part, str) else mine for part, mine in zip(self, parts)))

    def siblings(self, group):
        """((run, max step, max wall time), ...) of the scalar runs of `group`, sorted: part
        of each run's fingerprint, made once per group (per run, a 100-run sweep's warm
        summaries spent half their time scanning the listing for it)."""
        made = self.__dict__.setdefault("_siblings", {})  # a listing never changes
        if group not in made:
            made[group] = tuple(sorted(
                (run, max((m.max_step for m in tags.values()), default=-1),
                 max((m.max_wall_time for m in tags.values()), default=-1))
                for run, tags in self.of_group(group).scalars.items()))
        return made[group]

    def digest(self, run):
        """A digest of what the listing says of `run`: its tags' and own tensors' max steps
        and wall times, and its group's siblings (part of its fingerprint). Made once per
        listing: the `runs` route of the large benchmark logdir spent ~30 ms sorting and
        hashing 300 tags per run, and each batch of `summaries` did it again."""
        made = self.__dict__.setdefault("_digests", {})  # a listing never changes
        if run not in made:
            scalars, own, _ = self
            made[run] = hashlib.blake2b(repr((
                sorted((t, m.max_step, m.max_wall_time) for t, m in scalars.get(run, {}).items()),
                sorted((t, m.max_step, m.max_wall_time) for t, m in own.get(run, {}).items()),
                self.siblings(run_group(run)),
            )).encode("utf-8"), digest_size=16).digest()
        return made[run]


class ProviderListing:
    """The reader's listings of a data provider, kept in a bounded cache: each serves
    LISTING_TTL_SECONDS from when it is ready."""

    # How long one listing of the provider serves. The Python loader's listing walks every
    # point of a series that changed (python_loader.ScalarListing), so a dashboard's burst of
    # requests during training shares one; TensorBoard reloads the logdir every 5 s by default.
    LISTING_TTL_SECONDS = 2.0

    MAX_LISTINGS = 32  # a group's listing serves 2 s; the whole logdir's sits among them

    def __init__(self, data_provider):
        self._provider = data_provider
        # (experiment_id, group or None: all) -> (monotonic time, Listing)
        self._listings = cache.BoundedCache(max_entries=self.MAX_LISTINGS)
        self._listing_seconds = {}  # True: the whole logdir, False: a group -> last duration
        self._scalar_listing = python_loader.ScalarListing()  # (the Python loader's only)
        self._locks = {}  # (experiment_id, group) -> the Lock of its listing's making
        self._locks_lock = threading.Lock()

    def fresh_full(self, experiment_id):
        """(monotonic time it was made, Listing) of the whole logdir while it serves, else
        None."""
        full = self._listings.get((experiment_id, None))
        if full is not None and time.monotonic() - full[0] < self.LISTING_TTL_SECONDS:
            return full
        return None

    def last_full(self, experiment_id):
        """The last Listing of the whole logdir made, fresh or not (None: none yet)."""
        full = self._listings.get((experiment_id, None))
        return full[1] if full is not None else None

    def get(self, ctx, experiment_id, group=None):
        """The Listing of every run, or of the runs of `group` only.

        One run's fingerprint and read need only its group (the run and its siblings): with
        the Python loader, whose listing walks every point of the runs it lists, listing a
        group instead of the logdir was a quarter of a big run's first read.
        """
        fresh = self._fresh(experiment_id, group)
        if fresh is not None:
            return fresh
        # A dashboard asks for every run in turn: where listing the logdir costs little more
        # than listing a group (the Rust data server: ~4 round trips either way), one listing
        # of the logdir serves them all for its 2 s instead of one listing per run (3.7 s of
        # repeated fetches of a 100-run sweep were these round trips).
        if (group is not None and self._listings.get((experiment_id, None))
                and self._cheap_full_listing()):
            return self.get(ctx, experiment_id).of_group(group)
        # One listing at a time of the same runs: requests that find it stale while another
        # one lists wait for that listing instead of each making their own (many viewers of
        # one TensorBoard found the listing stale together every 2 s, and each listed and
        # hashed every run's tags again).
        with self._lock_of((experiment_id, group)):
            fresh = self._fresh(experiment_id, group)
            return fresh if fresh is not None else self._list_and_keep(ctx, experiment_id, group)

    def _fresh(self, experiment_id, group):
        """The Listing of `group` (None: every run) while one serves, else None."""
        now = time.monotonic()
        full = self._listings.get((experiment_id, None))
        if full and now - full[0] < self.LISTING_TTL_SECONDS:
            return full[1] if group is None else full[1].of_group(group)
        hit = self._listings.get((experiment_id, group))
        if hit and now - hit[0] < self.LISTING_TTL_SECONDS:
            return hit[1]
        return None

    def _lock_of(self, key):
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _list_and_keep(self, ctx, experiment_id, group):
        now = time.monotonic()
        listing = self._list_now(ctx, experiment_id, group)
        done = time.monotonic()
        self._listing_seconds[group is None] = done - now
        # Its 2 s count from when it is ready: the Python loader's listing walks every point,
        # and where that takes over 2 s a listing counted from its start was stale on arrival,
        # so each request of a page load listed again (the large benchmark logdir's warm
        # fetch: 20.6 s over five requests, benchmarks/NOTES.md).
        self._listings.put((experiment_id, group), (done, listing))
        return listing

    def _cheap_full_listing(self):
        """Whether the last listing of the logdir took at most 4 listings of a group (the
        Python loader's walks every point: ~7x a group on the medium benchmark)."""
        whole, group = self._listing_seconds.get(True), self._listing_seconds.get(False)
        return whole is not None and group is not None and whole <= 4 * group

    def _list_now(self, ctx, experiment_id, group):
        run_filter = None
        if group is not None:
            names = [r.run_name for r in self._provider.list_runs(ctx, experiment_id=experiment_id)]
            run_filter = provider.RunTagFilter(runs=[r for r in names if run_group(r) == group])

        scalars = self._scalar_listing.list_scalars(self._provider, SCALARS_PLUGIN, run_filter)
        if scalars is None:  # not the Python loader (python_loader.py)
            scalars = self._provider.list_scalars(
                ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN,
                run_tag_filter=run_filter,
            )
        own = self._provider.list_tensors(
            ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=run_filter,
        )
        # Listed here, not per run: each call to the Rust data server costs ~35 ms. (One
        # after another: listing the three at once from a thread pool saved ~50 ms of the
        # large benchmark logdir's `runs` route, but a clean-clone CI run then saw
        # TensorBoard's peak RSS grow 19 MB over 500 runs in test_memory_bound.)
        try:
            models = self._provider.list_blob_sequences(
                ctx, experiment_id=experiment_id, plugin_name=MODEL_CONFIG_PLUGIN,
                run_tag_filter=run_filter,
            ) or {}
        except Exception as e:
            models = "the Keras model config could not be listed (%s)" % e
        return Listing(scalars or {}, own or {}, models)
