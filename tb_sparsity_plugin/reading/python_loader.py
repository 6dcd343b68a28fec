"""TensorBoard's Python loader (`--load_fast=false`) read without a numpy array per point:
the same scalars as its data provider's `read_scalars`, about 8 x faster.

The Python loader's provider (`MultiplexerDataProvider`) turns each point of a scalar series
into a value through `tensor_util.make_ndarray(...).item()`, ~20 us a point, even when it is
asked for the last point only (it converts the series, then samples it): a run's first read
is mostly that (the large benchmark logdir's first screen, 20 runs x 300 layers x 1000
points, took 338 s; 70 % of the sweep's went to the last points of tfmot's thresholds).
Here a scalar is taken from its tensor's bytes or its one value field, as make_ndarray
takes it, and only the points asked for: on the medium benchmark logdir, 4 runs' 400 000
points were read in 0.98 s instead of 8.38 s, the same numbers (tests/unit/reading/test_python_loader.py
compares every point with the provider's own). It uses the provider's multiplexer and its
index of series (`_multiplexer`, `_index`: both in TensorBoard 2.16 to 2.21, the versions
supported); other dtypes and shapes, other downsampling, a TensorBoard without them and any
other provider are left to the provider's public call.
"""

import struct

from tensorboard.backend.event_processing import data_provider as multiplexer_provider
from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto import types_pb2
from tensorboard.data import provider as provider_api
from tensorboard.util import tensor_util

# make_ndarray reads tensor_content in the machine's byte order (np.frombuffer), as here.
_FLOAT32 = struct.Struct("=f")
_FLOAT64 = struct.Struct("=d")


def _multiplexer(data_provider):
    """The Python loader's multiplexer behind `data_provider`, or None (any other provider,
    or a TensorBoard whose provider keeps it otherwise)."""
    if (isinstance(data_provider, multiplexer_provider.MultiplexerDataProvider)
            and hasattr(data_provider, "_index")):
        return getattr(data_provider, "_multiplexer", None)
    return None


def _scalar_index(data_provider, plugin_name, run_tag_filter):
    """{run: {tag: metadata}} of the scalar series of `plugin_name` the provider would read
    or list."""
    return data_provider._index(plugin_name, run_tag_filter, summary_pb2.DATA_CLASS_SCALAR)


def scalar_value(tensor):
    """make_ndarray(tensor).item() of a scalar tensor, without the array for the common
    kinds (a float32 or float64 in its bytes or in its one value field)."""
    if not tensor.tensor_shape.dim:
        content = tensor.tensor_content
        if tensor.dtype == types_pb2.DT_FLOAT:
            if len(content) == 4:
                return _FLOAT32.unpack(content)[0]
            if not content and len(tensor.float_val) == 1:
                return tensor.float_val[0]
        elif tensor.dtype == types_pb2.DT_DOUBLE:
            if len(content) == 8:
                return _FLOAT64.unpack(content)[0]
            if not content and len(tensor.double_val) == 1:
                return tensor.double_val[0]
    return tensor_util.make_ndarray(tensor).item()


def read_scalar_points(data_provider, plugin_name, run, tags, downsample, walls):
    """{tag: [(step, value)]} (with `walls`: (step, value, wall_time)) of `tags` of `run`,
    as the Python loader's read_scalars gives them; None where this cannot answer (then
    the caller asks the provider)."""
    mux = _multiplexer(data_provider)
    if mux is None:
        return None
    index = _scalar_index(data_provider, plugin_name,
                          provider_api.RunTagFilter(runs=[run], tags=tags)).get(run, {})
    events_of = {tag: mux.Tensors(run, tag) for tag in index}
    if any(len(events) > downsample for events in events_of.values()):
        return None  # the provider samples: left to it
    if walls:
        return {tag: [(e.step, scalar_value(e.tensor_proto), e.wall_time) for e in events]
                for tag, events in events_of.items()}
    return {tag: [(e.step, scalar_value(e.tensor_proto)) for e in events]
            for tag, events in events_of.items()}


class ScalarListing:
    """The Python loader's `list_scalars`, with each series' max step and wall time kept
    until the series changes.

    The provider computes them by walking every point of every series at each listing (about
    2 s of each page load of the large benchmark logdir's 12 M points, which the 2 s a listing
    serves could not cover between page loads). A series is held by TensorBoard's reservoir,
    where every point added becomes its last item (appended, or replacing an older one) and a
    purge shortens it: so a series whose last item is the same object, at the same length, as
    at the last walk has not changed, and its maxima are the ones walked then. The listing is
    the provider's own otherwise: same index, same metadata.
    """

    def __init__(self):
        self._walked = {}  # (plugin, run, tag) -> (last item, length, max step, max wall time)

    def list_scalars(self, data_provider, plugin_name, run_tag_filter=None):
        """{run: {tag: ScalarTimeSeries}} as the provider's list_scalars, or None where this
        cannot answer (any other provider: then ask it)."""
        mux = _multiplexer(data_provider)
        if mux is None:
            return None
        index = _scalar_index(data_provider, plugin_name, run_tag_filter)
        walked, now = self._walked, {}
        result = {}
        for run, tags in index.items():
            of_run = result[run] = {}
            for tag in tags:
                events = mux.Tensors(run, tag)
                last = events[-1] if events else None
                kept = walked.get((plugin_name, run, tag))
                if kept is None or kept[0] is not last or kept[1] != len(events):
                    max_step = max_wall_time = None
                    for event in events:  # as the provider's _list walks them
                        if max_step is None or max_step < event.step:
                            max_step = event.step
                        if max_wall_time is None or max_wall_time < event.wall_time:
                            max_wall_time = event.wall_time
                    kept = (last, len(events), max_step, max_wall_time)
                now[(plugin_name, run, tag)] = kept
                summary_metadata = mux.SummaryMetadata(run, tag)
                of_run[tag] = provider_api.ScalarTimeSeries(
                    max_step=kept[2],
                    max_wall_time=kept[3],
                    plugin_content=summary_metadata.plugin_data.content,
                    description=summary_metadata.summary_description,
                    display_name=summary_metadata.display_name,
                )
        # Bounded by the series listed: a listing of everything keeps only what it listed
        # (runs gone from the logdir are dropped), a filtered one adds to the rest.
        if run_tag_filter is None:
            self._walked = now
        else:
            walked.update(now)
        return result


def read_last_points(data_provider, plugin_name, runs, tags):
    """{run: {tag: [[step, value]]}}: the last point of each of `tags` of `runs` (None: every
    run), as the Python loader's read_scalars(downsample=1) gives it (which converts every
    point of the series first); None where this cannot answer."""
    mux = _multiplexer(data_provider)
    if mux is None:
        return None
    index = _scalar_index(data_provider, plugin_name, provider_api.RunTagFilter(runs=runs, tags=tags))
    return {run: {tag: [[e.step, scalar_value(e.tensor_proto)] for e in mux.Tensors(run, tag)[-1:]]
                  for tag in of_run}
            for run, of_run in index.items()}
