"""The shared vocabulary of runs: pruned layers, runs and their series, as every source,
the analysis and the faces read them.

`LayerData` is one pruned weight of one run as logged, `RunData` one run, `Points` a cleaned
series kept as two NumPy arrays. `clean_series` is how every source cleans what it read:
damaged records cost only themselves (a point that is not a finite sparsity in [0, 1] is
dropped and counted by reason in `skipped`).
"""

import collections.abc
import dataclasses
import math
import posixpath
import re

import numpy as np

# The run document's `schedule_source`: where the run's schedules came from.
SOURCE_OWN = "sparsity_summaries"
SOURCE_KERAS = "keras_model_config"
SOURCE_NONE = "none"
DUPLICATE_STEP = "duplicate step (later record kept)"


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What the `runs` route says of a run, from its listing and small config summaries."""

    run: str
    group: str
    num_layers: int
    source: str  # the run document's `schedule_source`
    last_step: int
    framework: str | None = None  # as its user names it ("tfmot", "torch.ao.pruning", ...)


@dataclasses.dataclass
class LayerData:
    """One pruned weight of one run, as logged."""

    tag: str
    wrapper: str
    name: str  # readable: wrapped layer's name, plus the weight when it is not the first
    weight: str  # "kernel", "recurrent_kernel", ... ("" when unknown)
    key: str  # lines the same layer up across runs
    position: int | None  # wrapper's index in the flattened model config
    layer_class: str | None
    params: int | None
    schedule: dict | None  # {"class_name", "config"} as logged, not validated
    block_size: list | None = None
    sparsity_m_by_n: list | None = None
    measured: list = dataclasses.field(default_factory=list)  # [[step, value]]
    threshold: list | None = None  # None: not read (read_run(..., thresholds=False))
    weight_zeros: list | None = None
    logged_target: list | None = None  # the level a scheduler asked for, as logged
    # Version-2 summaries (docs/summary_format.md): the tensor's entry, and what
    # schedules.parse_schedule needs besides the schedule.
    entry: dict | None = None
    rounding: dict | None = None
    shape: list | None = None
    logged: dict | None = None  # {name: [[step, value]]} of schedules.logged_series_tags
    nm_compliance: list | None = None  # fraction of groups that satisfy the entry's N:M
    # tfmot logs a threshold of 999.0 under `sparsity_m_by_n` (pruning_impl.py), far above
    # any trained weight's magnitude; the m:n pattern itself is not in its logs.
    m_by_n_marker: bool = False


@dataclasses.dataclass
class RunData:
    run: str
    group: str
    source: str
    layers: list
    training_last_step: int | None = None
    training_last_step_source: str | None = None
    skipped: dict = dataclasses.field(default_factory=dict)  # reason -> count
    problems: list = dataclasses.field(default_factory=list)  # sentences about the logs
    # Why the run's event files (in a bucket) were not checked for damaged records, or None.
    damage_unchecked: str | None = None
    thresholds: bool = False  # whether the layers' threshold series were read
    # A tool's own series of all its pruned weights (weighted by count) and its target.
    model_measured: list | None = None
    model_target: list | None = None
    clock: dict = dataclasses.field(default_factory=dict)  # torch.ao: metadata.CLOCK_TAGS series
    # Several trainings in the run directory (trainings.py): {"index", "count", "how",
    # "config_matched_by"} of the one this RunData holds; None when there is one.
    training: dict | None = None
    trainings_problem: str | None = None  # why several trainings could not be told apart
    trainings_listed: list | None = None  # [(sparsity tags, last record step)] per training
    unsplit_files: int = 0  # the run's event files beyond one per training found


def run_group(run):
    """The experiment directory of a run: "exp" for "exp/metrics", "" at the top."""
    return posixpath.dirname(run.replace("\\", "/"))



# "exp/metrics#2": the second of several trainings in run directory "exp/metrics" (1-based, in time order).
_NAME = re.compile(r"^(?P<run>.+)#(?P<index>[1-9][0-9]{0,5})$")


def run_name(run, index):
    """The name a training is listed under: "exp/metrics#2"."""
    return "%s#%d" % (run, index)


def parse_run_name(name):
    """(run, training index or None): "exp/metrics#2" -> ("exp/metrics", 2)."""
    m = _NAME.match(name)
    return (m.group("run"), int(m.group("index"))) if m else (name, None)


class Points(collections.abc.Sequence):
    """A cleaned [[step, value]] series kept as the two float64 arrays it was checked as
    (`arrays`: steps, values; steps < 2**53 are exact), read as a list of [step, value].

    Why not a list: a run's series were kept as Python lists of pairs, ~130 bytes a point
    (the 2 runs the reader keeps were 26 MB of a medium benchmark server's 100 MB above
    TensorBoard's own); the arrays are 16. The analysis reads `arrays` directly
    (analysis.series_arrays); the pairs are made only when asked for (indexing, iteration,
    JSON: documents.encode_json). Never changed after it is made.
    """

    __slots__ = ("arrays",)

    def __init__(self, steps, values):
        self.arrays = (steps, values)

    def __len__(self):
        return len(self.arrays[1])

    def __getitem__(self, index):
        steps, values = self.arrays
        if isinstance(index, slice):
            return Points(steps[index], values[index]).tolist()
        return [int(steps[index]), float(values[index])]

    def __iter__(self):
        return iter(self.tolist())

    def __eq__(self, other):
        if isinstance(other, (Points, list, tuple)):
            return self.tolist() == [list(p) for p in other]
        return NotImplemented

    __hash__ = None  # equal to a list, so unhashable like one

    def __repr__(self):
        return "Points(%r)" % self.tolist()

    def tolist(self):
        """[[step, value], ...] as Python ints and floats."""
        steps, values = self.arrays
        return list(map(list, zip(steps.astype(np.int64).tolist(), values.tolist())))


def json_default(obj):
    """`default=` for json.dumps and orjson.dumps of a document holding Points."""
    if isinstance(obj, Points):  # pairs as tuples: the same JSON, 20 % faster than lists
        steps, values = obj.arrays
        return list(zip(steps.astype(np.int64).tolist(), values.tolist()))
    raise TypeError("%s is not JSON serializable" % type(obj).__name__)


def clean_series(points, skipped, lower=0.0, upper=1.0):
    """Sorted, one point per step (the record read last wins), finite and in range.

    `points` are (step, value) pairs in the provider's order. Dropped points are counted
    in `skipped` by reason. `lower=None`: any finite value.
    """
    fast = _clean_fast(points, lower, upper)
    if fast is not None:
        return fast
    by_step = {}
    for step, value in points:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            skipped["non-finite value"] = skipped.get("non-finite value", 0) + 1
            continue
        if lower is not None and not lower <= value <= upper:
            skipped["value outside [0, 1]"] = skipped.get("value outside [0, 1]", 0) + 1
            continue
        if step in by_step:
            skipped[DUPLICATE_STEP] = skipped.get(DUPLICATE_STEP, 0) + 1
        by_step[int(step)] = float(value)
    return [[s, by_step[s]] for s in sorted(by_step)]


def _clean_fast(points, lower, upper):
    """clean_series for the usual series (increasing steps, finite values in range), in
    NumPy; None when the series needs the per-point checks."""
    if not points:
        return []
    try:
        steps, values = zip(*points)
        s = np.array(steps, dtype=np.int64)
        v = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if v.ndim != 1 or np.any(np.diff(s) <= 0) or not np.all(np.isfinite(v)):
        return None
    if lower is not None and (v.min() < lower or v.max() > upper):
        return None
    return Points(s.astype(np.float64), v)
