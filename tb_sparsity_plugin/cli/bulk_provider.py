"""A caching wrapper of a TensorBoard DataProvider for one-shot reads of many runs.

The command line (and benchmarks) read a whole logdir once; the reader asks per run. This
module answers those many small requests from a few bulk ones. Ingestion plumbing only: no
analysis, no knowledge of tags.
"""

import threading


class BulkProvider:
    """A DataProvider that answers the reader's many small requests from a few bulk ones.

    Each provider call to TensorBoard's Rust data server costs a gRPC round trip (about
    40 ms on Linux: the server's responses meet the client's delayed ACK), and the reader
    asks per run. This wrapper lists once per plugin, reads each plugin's series for all
    `runs` in one request the first time any of them is asked for, and fetches the blobs of
    a bulk blob read concurrently. What it has not prefetched it passes through, so answers
    are the same as the wrapped provider's. Pure ingestion plumbing: no analysis here.
    """

    def __init__(self, inner, runs, blob_workers=16):
        self._inner = inner
        self._runs = frozenset(runs)
        self._lists = {}
        self._bulk = {}  # (method, plugin, downsample) -> {run: {tag: data}}
        self._blobs = {}  # blob_key -> future
        self._blob_workers = blob_workers
        self._pool = None
        self._lock = threading.Lock()
        self._locks = {}

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def warm(self, ctx, experiment_id, lists=(), reads=()):
        """Issue listings [(method, plugin)] and bulk reads [(method, plugin, downsample)]
        concurrently, so their round trips overlap. Only a hint: a request the reader
        makes differently is still answered, just not from these."""
        import concurrent.futures

        calls = [lambda m=m, p=p: self._listed(m, ctx, experiment_id, p, None)
                 for m, p in lists]
        if self._runs:
            from tensorboard.data import provider

            every = provider.RunTagFilter(runs=sorted(self._runs))
            calls += [lambda m=m, p=p, d=d: self._read(m, ctx, experiment_id, p, d, every)
                      for m, p, d in reads]
        with concurrent.futures.ThreadPoolExecutor(max(1, len(calls))) as pool:
            for future in [pool.submit(c) for c in calls]:
                try:
                    future.result()
                except Exception:  # the reader's own request will meet it and say so
                    pass

    @staticmethod
    def _filter(result, run_tag_filter):
        runs = run_tag_filter.runs if run_tag_filter is not None else None
        tags = run_tag_filter.tags if run_tag_filter is not None else None
        out = {}
        for run, by_tag in result.items():
            if runs is not None and run not in runs:
                continue
            picked = {t: v for t, v in by_tag.items() if tags is None or t in tags}
            if picked:
                out[run] = picked
        return out

    def _listed(self, method, ctx, experiment_id, plugin_name, run_tag_filter):
        key = (method, plugin_name)
        with self._key_lock(key):
            if key not in self._lists:
                self._lists[key] = getattr(self._inner, method)(
                    ctx, experiment_id=experiment_id, plugin_name=plugin_name) or {}
            listing = self._lists[key]
        return self._filter(listing, run_tag_filter)

    def _key_lock(self, key):
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def list_scalars(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_scalars", ctx, experiment_id, plugin_name, run_tag_filter)

    def list_tensors(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_tensors", ctx, experiment_id, plugin_name, run_tag_filter)

    def list_blob_sequences(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_blob_sequences", ctx, experiment_id, plugin_name,
                            run_tag_filter)

    def _read(self, method, ctx, experiment_id, plugin_name, downsample, run_tag_filter):
        from tensorboard.data import provider

        wanted = run_tag_filter.runs if run_tag_filter is not None else None
        if wanted is None or not set(wanted) <= self._runs:
            return getattr(self._inner, method)(
                ctx, experiment_id=experiment_id, plugin_name=plugin_name,
                downsample=downsample, run_tag_filter=run_tag_filter)
        key = (method, plugin_name, downsample)
        with self._key_lock(key):
            if key not in self._bulk:
                result = getattr(self._inner, method)(
                    ctx, experiment_id=experiment_id, plugin_name=plugin_name,
                    downsample=downsample,
                    run_tag_filter=provider.RunTagFilter(runs=sorted(self._runs)))
                self._bulk[key] = result
                if method == "read_blob_sequences":
                    self._prefetch_blobs(ctx, result)
            bulk = self._bulk[key]
        return self._filter(bulk, run_tag_filter)

    def read_scalars(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                     run_tag_filter=None):
        return self._read("read_scalars", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def read_tensors(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                     run_tag_filter=None):
        return self._read("read_tensors", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def read_blob_sequences(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                            run_tag_filter=None):
        return self._read("read_blob_sequences", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def _prefetch_blobs(self, ctx, result):
        import concurrent.futures

        keys = [ref.blob_key for by_tag in result.values() for data in by_tag.values()
                for datum in data[-1:] for ref in datum.values[:1]]
        if not keys:
            return
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self._blob_workers)
            for key in keys:
                if key not in self._blobs:
                    self._blobs[key] = self._pool.submit(self._inner.read_blob, ctx,
                                                         blob_key=key)

    def read_blob(self, ctx=None, *, blob_key):
        future = self._blobs.get(blob_key)
        if future is not None:
            return future.result()
        return self._inner.read_blob(ctx, blob_key=blob_key)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

