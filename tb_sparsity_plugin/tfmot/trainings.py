"""Several trainings in one run directory: telling them apart. Pure functions.

People train several models one after another with the same `log_dir` (tfmot's own
mnist_cnn.py example does; so does re-running a notebook cell). `PruningSummaries` then
writes all of them into one `metrics` run. Signs that a new training began, read from the
records themselves:

- a series' steps start again (a new optimizer counts from 0);
- a new set of wrapper names appears after the earlier ones stopped (Keras numbers the
  layers of every new model: `prune_low_magnitude_conv2d_2`, ...);
- each `fit` writes its own Keras model config (tag `keras` in `train`) just before it
  starts, so the config current for a training is the last one written before its first
  record, and its wrapper names must be the training's.

Records are split by wall time: a training is a stretch of time in which its tags were
logged. A tag's steps that start again begin a new training. Other tags begin one when
they start more than SAME_MOMENT_SECONDS after every record of the current training, or
when an event file was opened between (each `fit` opens its own) and they start at a lower
step than the current training reached. Logs written tag by tag in one go (synthetic
ones) are one training.
When the stretches of two trainings overlap in time (two processes writing to one
directory at once) they cannot be told apart: `split_trainings` then keeps one training and
says why.
"""

import dataclasses
import re

# Records of one epoch start of one training are written within milliseconds; the next
# training starts at least an epoch (and a model build) after the last record of the one
# before. A gap longer than this between two trainings' records tells them apart.
SAME_MOMENT_SECONDS = 0.5
# events.out.tfevents.<unix seconds>.<host>...: when the writer opened the file.
_FILE_TIME = re.compile(r"tfevents\.(\d+)\.")


def file_start(path):
    """When an event file was opened (whole seconds, from its name), or None."""
    m = _FILE_TIME.search(path)
    return float(m.group(1)) if m else None


@dataclasses.dataclass
class Training:
    """One training's records: {tag: [(step, value)]} sorted as logged, and its time span."""

    series: dict
    start: float
    end: float
    first_step: int
    last_step: int

    @property
    def tags(self):
        return set(self.series)


@dataclasses.dataclass
class Split:
    trainings: list  # [Training] in time order; one when there is nothing to split
    how: str | None = None  # how they were told apart (None: one training)
    problem: str | None = None  # why several could not be told apart, or None


@dataclasses.dataclass
class _Segment:
    tag: str
    points: list  # [(step, value, wall)]

    @property
    def start(self):
        return self.points[0][2]

    @property
    def end(self):
        return self.points[-1][2]


def _segments(tag, points):
    """A tag's points in time order, cut where the steps start again (fall back to or
    below the step the current stretch began at)."""
    # The usual series, logged in time order with rising steps, is one stretch as it is,
    # without the per-point loop below (a cold 300-layer summary: 0.93-1.02 s -> 0.89-0.91 s).
    if all(a[0] < b[0] and a[2] <= b[2] for a, b in zip(points, points[1:])):
        return [_Segment(tag, list(points))]
    ordered = sorted(points, key=lambda p: p[2])
    out = []
    for point in ordered:
        current = out[-1].points if out else None
        if current and not (point[0] < current[-1][0] and point[0] <= current[0][0]):
            current.append(point)
        else:
            out.append(_Segment(tag, [point]))
    return out


def one_training(series):
    """The Split of a run known to hold one training: {tag: [(step, value)]} as read."""
    steps = [p[0] for points in series.values() for p in points]
    return Split([Training(series, 0.0, 0.0, min(steps, default=0), max(steps, default=0))])


def split_trainings(series, file_starts=()):
    """A Split of {tag: [(step, value, wall_time)]} (any order) into trainings.

    `file_starts`: when the run's event files were opened (file_start), if known.
    """
    segments = []
    restarted = False
    for tag, points in series.items():
        if not points:
            continue
        parts = _segments(tag, points)
        restarted = restarted or len(parts) > 1
        segments.extend(parts)
    segments.sort(key=lambda s: (s.start, s.tag))
    groups = []
    for segment in segments:
        group = groups[-1] if groups else None
        if group is not None and not _starts_new(group, segment, file_starts):
            group.append(segment)
        else:
            groups.append([segment])
    if len(groups) <= 1:
        return Split([_training(groups[0] if groups else [])])
    trainings = [_training(g) for g in groups]
    for before, after in zip(trainings, trainings[1:]):
        if after.start <= before.end:
            return Split([_training(segments)], problem=(
                "the records of several trainings in this directory overlap in time (two "
                "trainings writing at once?), so they cannot be told apart: shown together"))
    return Split(trainings, how=_how(trainings, restarted))


def _starts_new(group, segment, file_starts):
    tags = {s.tag for s in group}
    if segment.tag in tags:
        return True
    end = max(s.end for s in group)
    if segment.start > end + SAME_MOMENT_SECONDS:
        return True
    if segment.start > end:  # shortly after every record of the group
        # An event file opened after the group began (names count whole seconds) and a
        # step lower than the group reached: the next `fit`.
        start = min(s.start for s in group)
        new_file = any(f is not None and start < f <= segment.start for f in file_starts)
        return new_file and segment.points[0][0] < max(s.points[-1][0] for s in group)
    if segment.start <= min(s.start for s in group) + SAME_MOMENT_SECONDS:
        return False
    # Starting later than the group's first records at a lower step than the group had
    # reached by then: another training overlapping this one (split_trainings then says
    # they cannot be told apart).
    reached = max((p[0] for s in group for p in s.points if p[2] <= segment.start), default=0)
    return segment.points[0][0] < reached


def _training(segments):
    series = {s.tag: [(p[0], p[1]) for p in s.points] for s in segments}
    if not segments:
        return Training(series, 0.0, 0.0, 0, 0)
    return Training(
        series,
        start=min(s.start for s in segments),
        end=max(s.end for s in segments),
        first_step=min(s.points[0][0] for s in segments),
        last_step=max(s.points[-1][0] for s in segments),
    )


def _how(trainings, restarted):
    signs = ["wall time"]
    if restarted:
        signs.append("steps that start again")
    if any(a.tags.isdisjoint(b.tags) for a, b in zip(trainings, trainings[1:])):
        signs.append("new wrapper names")
    return "this directory holds %d trainings one after another, told apart by %s" % (
        len(trainings), _and(signs))


def _and(words):
    return words[0] if len(words) == 1 else "%s and %s" % (", ".join(words[:-1]), words[-1])


def last_steps(trainings, points):
    """Each training's last training step from [(step, wall_time)] of a series logged at
    epoch ends with step = iterations (Keras' `evaluation_*_vs_iterations`): the largest
    step logged between the training's start and the next one's. None where none is."""
    out = []
    for i, training in enumerate(trainings):
        until = trainings[i + 1].start if i + 1 < len(trainings) else float("inf")
        steps = [s for s, wall in points if training.start <= wall < until]
        out.append(max(steps) if steps else None)
    return out


def _wrapper_matches(name, wrappers):
    return name in wrappers or name.rsplit("/", 1)[-1] in wrappers


def config_for(training_wrappers, start, configs):
    """(index into `configs`, how) of the Keras model config that belongs to a training.

    `configs`: [(wall_time, {wrapper name: info})], one per `fit`. The config whose
    wrapper names cover the training's, written last before the training's first record;
    else the last config written before it (by wall time only); None when there is none.
    """
    if not configs:
        return None, None
    covering = [i for i, (_, wrappers) in enumerate(configs)
                if wrappers and all(_wrapper_matches(w, wrappers) for w in training_wrappers)]
    before = [i for i, (wall, _) in enumerate(configs) if wall <= start + SAME_MOMENT_SECONDS]
    both = [i for i in covering if i in before]
    if both:
        return max(both, key=lambda i: configs[i][0]), "wrapper names and wall time"
    if covering:
        return min(covering, key=lambda i: abs(configs[i][0] - start)), "wrapper names"
    if before:
        return max(before, key=lambda i: configs[i][0]), "wall time"
    return None, None
