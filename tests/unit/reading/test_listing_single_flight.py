"""Many requests that find the provider's listing stale at once make one listing between
them (the others wait for it), with TensorBoard's real data provider."""

import threading
import time

from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.context import RequestContext

from tb_sparsity_plugin.reading import provider_listing


class CountingProvider(data_provider.MultiplexerDataProvider):
    """TensorBoard's own provider, whose tensor listing (one per listing made) is counted
    and slow enough for every thread to find the listing missing."""

    calls = 0

    def list_tensors(self, *args, **kwargs):
        CountingProvider.calls += 1
        time.sleep(0.3)
        return super().list_tensors(*args, **kwargs)


def test_concurrent_stale_requests_share_one_listing(tfmot_logdir):
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(tfmot_logdir)
    multiplexer.Reload()
    listings = provider_listing.ProviderListing(CountingProvider(multiplexer, tfmot_logdir))
    CountingProvider.calls = 0
    results = []
    start = threading.Barrier(8)

    def ask():
        start.wait()
        results.append(listings.get(RequestContext(), ""))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CountingProvider.calls == 1
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert set(results[0].scalars) >= {"poly/metrics", "trap/metrics"}
    # once it no longer serves, the next request lists again
    time.sleep(provider_listing.ProviderListing.LISTING_TTL_SECONDS + 0.1)
    listings.get(RequestContext(), "")
    assert CountingProvider.calls == 2
