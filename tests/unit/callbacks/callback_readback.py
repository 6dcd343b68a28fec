"""Reading the callbacks' runs back the ways a user sees them: TensorBoard's own data provider
(what any reader gets) and the plugin's `run` route (what the Sparsity tab draws)."""

import json
import os

from tensorboard import context

from conftest import get, make_client, make_provider
from tb_sparsity_plugin import metadata

F32 = 1e-6  # scalars are stored as float32


def read_back(logdir, run):
    """(the newest config document, every config document by step, {tag: [(step, value)]})
    of one run, through TensorBoard's data provider."""
    provider, ctx = make_provider(logdir), context.RequestContext()
    tensors = provider.read_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME,
                                    downsample=1000)
    configs = {d.step: metadata.decode_document(d.numpy.item()) for d in tensors[run][metadata.CONFIG_TAG]}
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100000)
    series = {tag: [(d.step, d.value) for d in data] for tag, data in scalars[run].items()}
    return configs[max(configs)], configs, series


def run_documents(logdir):
    """{run: the `run` route's document} for every run the plugin lists."""
    client = make_client(logdir)
    return {r["run"]: get(client, "run?run=" + r["run"]) for r in get(client, "runs")["runs"]}


def layer_tensor(layer):
    """The tensor a route layer shows: its module path and weight (`net.0.weight`)."""
    module = layer["name"].split("/")[0]
    return "%s.%s" % (module, layer["weight"]) if module else layer["weight"]


def load_truth(logdir):
    with open(os.path.join(logdir, "truth.json")) as f:
        return json.load(f)
