"""Reading back what a writer or callback wrote, as TensorBoard's own loader reads it, and
the expected curve the analysis makes of it (shared by the writer, callback and demo tests)."""

from conftest import make_provider

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.sources import own


def read_back(logdir, run=None):
    """(config document, {tag: [(step, value)]}) of a run (the only one when `run` is None),
    as TensorBoard's own loader reads them."""
    from tensorboard import context

    provider, ctx = make_provider(logdir), context.RequestContext()
    if run is None:
        runs = provider.list_runs(ctx, experiment_id="")
        assert len(runs) == 1, [r.run_name for r in runs]
        run = runs[0].run_name
    tensors = provider.read_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME, downsample=1)
    raw = tensors[run][metadata.CONFIG_TAG][-1].numpy.item()
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100000)
    series = {tag: [(d.step, d.value) for d in data] for tag, data in scalars[run].items()}
    return metadata.decode_document(raw), series


def expected_for(weight, series):
    logged = {name: series.get(tag, []) for name, tag in own.logged_series_tags(weight).items()}
    sched = schedules.parse_schedule(weight["schedule"], rounding=weight["rounding"],
                                     shape=weight["shape"], logged=logged)
    assert not isinstance(sched, schedules.Problem), sched
    return sched
