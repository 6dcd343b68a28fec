"""Reading back what a writer or callback wrote, the ways a user sees it: TensorBoard's own
data provider (what any reader gets) and the plugin's `run` route (what the Sparsity tab
draws); and the expected curve the analysis makes of it. Shared by the writer, callback and
demo tests."""

import json
import os

from tensorboard import context

from conftest import get, make_client, make_provider
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.sources import own

F32 = 1e-6  # scalars are stored as float32


def read_back_with_configs(logdir, run=None):
    """(the newest config document, every config document by step, {tag: [(step, value)]})
    of a run (the only one when `run` is None), through TensorBoard's data provider."""
    provider, ctx = make_provider(logdir), context.RequestContext()
    if run is None:
        runs = provider.list_runs(ctx, experiment_id="")
        assert len(runs) == 1, [r.run_name for r in runs]
        run = runs[0].run_name
    tensors = provider.read_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME,
                                    downsample=1000)
    configs = {d.step: metadata.decode_document(d.numpy.item())
               for d in tensors[run][metadata.CONFIG_TAG]}
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100000)
    series = {tag: [(d.step, d.value) for d in data] for tag, data in scalars[run].items()}
    return configs[max(configs)], configs, series


def read_back(logdir, run=None):
    """(the newest config document, {tag: [(step, value)]}) of a run."""
    newest, _, series = read_back_with_configs(logdir, run)
    return newest, series


def run_documents(logdir):
    """{run: the `run` route's document} for every run the plugin lists."""
    client = make_client(logdir)
    return {r["run"]: get(client, "run?run=" + r["run"]) for r in get(client, "runs")["runs"]}


def layer_tensor(layer):
    """The tensor a route layer shows: its module path and weight (`net.0.weight`)."""
    module = layer["name"].split("/")[0]
    return "%s.%s" % (module, layer["weight"]) if module else layer["weight"]


def held(points, step):
    """The value of a [[step, value]] step function at `step` (None before its first)."""
    value = None
    for at, v in points:
        if at <= step:
            value = v
    return value


def load_truth(logdir):
    with open(os.path.join(logdir, "truth.json")) as f:
        return json.load(f)


def expected_for(weight, series):
    logged = {name: series.get(tag, []) for name, tag in own.logged_series_tags(weight).items()}
    sched = schedules.parse_schedule(weight["schedule"], rounding=weight["rounding"],
                                     shape=weight["shape"], logged=logged)
    assert not isinstance(sched, schedules.Problem), sched
    return sched
