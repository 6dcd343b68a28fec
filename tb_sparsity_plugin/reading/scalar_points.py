"""A run's scalar series as (step, value) pairs, read through TensorBoard's data provider.

The reader (reader.py) needs every point of every sparsity series of a run: for a run's
first summary that is most of the cost of the tab's first screen. With TensorBoard's Rust
data server (`--load_fast=true`) the provider is a `grpc_provider.GrpcDataProvider`, whose
`read_scalars` builds a `ScalarDatum` object per point from a columnar answer (the gRPC
`ScalarData` message holds the steps and the values as two packed arrays); here that same
answer is zipped into pairs in C instead: the same numbers, without an object per point
(on the 8 x 100 x 1000 benchmark logdir, reading every run took 2.5 s that way and
1.5 s this way). The Python loader's provider is read by python_loader.py without a numpy
array per point; every other provider (a wrapping one) is asked through the public
`read_scalars`.
"""

import grpc
from tensorboard import errors
from tensorboard.data import grpc_provider
from tensorboard.data import provider as provider_api
from tensorboard.data.proto import data_provider_pb2

from tb_sparsity_plugin.reading import python_loader


def read_points(data_provider, ctx, experiment_id, plugin_name, run, tags, downsample,
                walls=False):
    """{tag: [(step, value)]} of `tags` of `run` (with `walls`: (step, value, wall_time)).

    Raises what the provider raises (a damaged series can fail the whole batch)."""
    if isinstance(data_provider, grpc_provider.GrpcDataProvider):
        return _read_columns(data_provider, experiment_id, plugin_name, run, tags, downsample,
                             walls)
    points = python_loader.read_scalar_points(data_provider, plugin_name, run, tags,
                                              downsample, walls)
    if points is not None:
        return points
    series = data_provider.read_scalars(
        ctx, experiment_id=experiment_id, plugin_name=plugin_name, downsample=downsample,
        run_tag_filter=provider_api.RunTagFilter(runs=[run], tags=tags)).get(run, {})
    if walls:
        return {tag: [(d.step, d.value, d.wall_time) for d in data] for tag, data in series.items()}
    return {tag: [(d.step, d.value) for d in data] for tag, data in series.items()}


def _read_columns(data_provider, experiment_id, plugin_name, run, tags, downsample, walls):
    req = data_provider_pb2.ReadScalarsRequest()
    req.experiment_id = experiment_id
    req.plugin_filter.plugin_name = plugin_name
    req.run_tag_filter.runs.names[:] = [run]
    req.run_tag_filter.tags.names[:] = sorted(tags)
    req.downsample.num_points = downsample
    try:
        # The provider's own stub: GrpcDataProvider keeps it as `_stub` in every
        # TensorBoard since the data server came (2.5), and exposes no columnar read.
        res = data_provider._stub.ReadScalars(req)
    except grpc.RpcError as e:  # as grpc_provider._translate_grpc_error
        if e.code() == grpc.StatusCode.NOT_FOUND:
            raise errors.NotFoundError(e.details())
        raise
    out = {}
    for run_entry in res.runs:
        if run_entry.run_name != run:
            continue
        for tag_entry in run_entry.tags:
            d = tag_entry.data
            out[tag_entry.tag_name] = (list(zip(d.step, d.value, d.wall_time)) if walls
                                       else list(zip(d.step, d.value)))
    return out
