"""python_loader.py reads exactly the scalars TensorBoard's Python loader
(MultiplexerDataProvider) answers through its public read_scalars: on the real tfmot runs and
on event files written the way PyTorch's SummaryWriter (a `simple_value`) and tf.summary (a
float32 tensor) write them, odd values included.
"""

import math
import struct

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto import tensor_pb2
from tensorboard.compat.proto import tensor_shape_pb2
from tensorboard.compat.proto import types_pb2
from tensorboard.context import RequestContext
from tensorboard.data import provider as provider_api
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from conftest import make_provider
from tb_sparsity_plugin.reading import python_loader
from tb_sparsity_plugin.reading import scalar_points

CTX = RequestContext()
# Values a float32 or float64 scalar can hold that a careless decoding would change.
ODD = [0.0, -0.0, 1.0, 0.1, 1 / 3, 1e-45, -3.4028234663852886e38, 7.006e-46, float("inf"),
       float("-inf"), float("nan"), 0.8750000119]


def same(a, b):
    """Equal values, NaN equal to NaN and -0.0 told from 0.0."""
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


def assert_same_points(got, want):
    assert sorted(got) == sorted(want)
    for tag, points in want.items():
        assert len(got[tag]) == len(points), tag
        for g, w in zip(got[tag], points):
            assert g[0] == w[0] and all(same(x, y) for x, y in zip(g[1:], w[1:])), (tag, g, w)


def tensor(dtype, content=b"", shape=(), **values):
    return tensor_pb2.TensorProto(
        dtype=dtype, tensor_content=content,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in shape]), **values)


@pytest.mark.parametrize("value", ODD)
def test_scalar_value_is_make_ndarrays(value):
    f32 = struct.unpack("=f", struct.pack("=f", value))[0]
    with np.errstate(over="ignore"):
        half = int(np.float16(f32).view(np.uint16))
    cases = [
        tensor(types_pb2.DT_FLOAT, struct.pack("=f", f32)),
        tensor(types_pb2.DT_FLOAT, float_val=[f32]),
        tensor(types_pb2.DT_DOUBLE, struct.pack("=d", value)),
        tensor(types_pb2.DT_DOUBLE, double_val=[value]),
        tensor(types_pb2.DT_FLOAT, struct.pack("=f", f32), shape=(1,)),  # not a scalar: numpy
        tensor(types_pb2.DT_HALF, half_val=[half]),
        tensor(types_pb2.DT_FLOAT),  # no value at all: make_ndarray's error
    ]
    if math.isfinite(value) and value == int(value) and abs(value) < 2**62:
        cases.append(tensor(types_pb2.DT_INT64, int64_val=[int(value)]))
    for t in cases:
        assert outcome(python_loader.scalar_value, t) == outcome(
            lambda t: tensor_util.make_ndarray(t).item(), t), t


def outcome(read, t):
    """The value read, packed so NaN equals NaN and -0.0 differs from 0.0, or the error."""
    try:
        value = read(t)
    except Exception as e:
        return type(e)
    return "nan" if math.isnan(value) else struct.pack("<d", value)


@pytest.fixture(scope="module")
def written_logdir(tmp_path_factory):
    """Two runs of scalars: one as PyTorch's SummaryWriter writes them (simple_value, which
    TensorBoard turns into a tensor on load), one as tf.summary.scalar does (a float32
    tensor in its bytes), each with the odd values, a repeated step and a step going back."""
    root = tmp_path_factory.mktemp("python_loader")
    steps = [0, 5, 5, 3, 10, 11, 12, 13, 14, 15, 16, 2**40]
    for run, as_tensor in (("torch_style", False), ("tf_style", True)):
        writer = EventFileWriter(str(root / run))
        for i, (step, value) in enumerate(zip(steps, ODD)):
            for tag in ("loss", "sparsity/layer_%d" % (i % 3)):
                if as_tensor:
                    v = summary_pb2.Summary.Value(
                        tag=tag, tensor=tensor(types_pb2.DT_FLOAT, struct.pack("=f", value)),
                        metadata=summary_pb2.SummaryMetadata(
                            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
                            data_class=summary_pb2.DATA_CLASS_SCALAR))
                else:
                    v = summary_pb2.Summary.Value(tag=tag, simple_value=value)
                writer.add_event(event_pb2.Event(step=step, wall_time=1e9 + i * 0.25,
                                                 summary=summary_pb2.Summary(value=[v])))
        writer.close()
    return str(root)


@pytest.fixture(scope="module", params=["tfmot", "written"])
def loaded(request, tfmot_logdir, written_logdir):
    return make_provider(tfmot_logdir if request.param == "tfmot" else written_logdir)


@pytest.mark.parametrize("walls", [False, True])
def test_points_equal_the_providers(loaded, walls):
    listing = loaded.list_scalars(CTX, experiment_id="", plugin_name="scalars")
    assert listing
    for run, tags in listing.items():
        tags = sorted(tags)
        want = loaded.read_scalars(
            CTX, experiment_id="", plugin_name="scalars", downsample=1_000_000,
            run_tag_filter=provider_api.RunTagFilter(runs=[run], tags=tags)).get(run, {})
        want = {t: [(d.step, d.value, d.wall_time) if walls else (d.step, d.value) for d in data]
                for t, data in want.items()}
        got = python_loader.read_scalar_points(loaded, "scalars", run, tags, 1_000_000, walls)
        assert_same_points(got, want)
        # through the reader's entry point too, and with a tag the run does not have
        assert_same_points(scalar_points.read_points(loaded, CTX, "", "scalars", run,
                                                     tags + ["missing"], 1_000_000, walls), want)


def test_last_points_equal_the_providers(loaded):
    """The last point of each series (tfmot's thresholds), as read_scalars(downsample=1)."""
    listing = loaded.list_scalars(CTX, experiment_id="", plugin_name="scalars")
    tags = sorted({t for of_run in listing.values() for t in of_run})
    first = sorted(listing)[0]
    for runs in (None, [first], [first, "no such run"]):
        want = loaded.read_scalars(CTX, experiment_id="", plugin_name="scalars", downsample=1,
                                   run_tag_filter=provider_api.RunTagFilter(runs=runs, tags=tags))
        want = {run: {t: [(d.step, d.value) for d in data] for t, data in of_run.items()}
                for run, of_run in want.items()}
        got = python_loader.read_last_points(loaded, "scalars", runs, tags)
        assert sorted(got) == sorted(want) and want
        for run in want:
            assert_same_points(got[run], want[run])
            assert all(len(points) == 1 for points in got[run].values())


def test_downsampling_and_other_providers_are_left_to_the_provider(written_logdir):
    loaded = make_provider(written_logdir)
    assert python_loader.read_scalar_points(loaded, "scalars", "torch_style", ["loss"], 3,
                                            False) is None
    assert python_loader.read_scalar_points(object(), "scalars", "torch_style", ["loss"],
                                            1_000_000, False) is None
    assert python_loader.read_last_points(object(), "scalars", None, ["loss"]) is None


def test_listing_equals_the_providers_and_keeps_what_did_not_change(loaded):
    listing = python_loader.ScalarListing()
    want = loaded.list_scalars(CTX, experiment_id="", plugin_name="scalars")
    assert want
    assert listing.list_scalars(loaded, "scalars") == want
    first = listing._walked.copy()
    assert listing.list_scalars(loaded, "scalars") == want  # from what was kept: the same
    assert all(listing._walked[key] is kept for key, kept in first.items())  # not walked again
    run = sorted(want)[0]
    only = provider_api.RunTagFilter(runs=[run, "no such run"])
    assert listing.list_scalars(loaded, "scalars", only) == loaded.list_scalars(
        CTX, experiment_id="", plugin_name="scalars", run_tag_filter=only)
    assert python_loader.ScalarListing().list_scalars(object(), "scalars") is None


def test_listing_follows_a_series_that_changes(tmp_path):
    """Points added after a listing (a step going back, then a new last step) change its
    maxima as they change the provider's; a series that did not change keeps its own."""
    writer = EventFileWriter(str(tmp_path / "run"))

    def add(step, wall_time, tags=("loss", "sparsity/a")):
        writer.add_event(event_pb2.Event(step=step, wall_time=wall_time, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=t, simple_value=0.5) for t in tags])))
        writer.flush()

    for step in range(10):
        add(step, 1e9 + step)
    loaded = make_provider(str(tmp_path))
    listing = python_loader.ScalarListing()

    def both():
        loaded._multiplexer.Reload()
        want = loaded.list_scalars(CTX, experiment_id="", plugin_name="scalars")
        assert listing.list_scalars(loaded, "scalars") == want
        return {tag: (s.max_step, s.max_wall_time) for tag, s in want["run"].items()}

    assert both() == {"loss": (9, 1e9 + 9), "sparsity/a": (9, 1e9 + 9)}
    add(3, 1e9 + 20, tags=("loss",))  # back in steps, later in time: one series only
    assert both() == {"loss": (9, 1e9 + 20), "sparsity/a": (9, 1e9 + 9)}
    add(12, 1e9 + 21)
    assert both() == {"loss": (12, 1e9 + 21), "sparsity/a": (12, 1e9 + 21)}
    writer.close()
