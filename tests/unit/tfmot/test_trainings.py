"""Unit tests of trainings.py: splitting one run's records into trainings (pure functions).

The end-to-end checks on real tfmot runs (tfmot's mnist_cnn.py) are in test_tfmot_examples.py.
"""

from tb_sparsity_plugin.tfmot import trainings


def epochs(tag_values, start_wall, steps, epoch_seconds=2.0):
    """{tag: [(step, value, wall)]}: records at each epoch start, tags a millisecond apart."""
    out = {}
    for k, (tag, value) in enumerate(tag_values):
        out[tag] = [(s, value, start_wall + i * epoch_seconds + k * 0.001)
                    for i, s in enumerate(steps)]
    return out


def test_one_training_is_left_alone():
    series = epochs([("a/mask:0/sparsity", 0.1), ("b/mask:0/sparsity", 0.2)], 100.0,
                    [0, 8, 16, 24])
    split = trainings.split_trainings(series)
    assert len(split.trainings) == 1 and split.how is None and split.problem is None
    assert split.trainings[0].series["a/mask:0/sparsity"] == [(0, 0.1), (8, 0.1), (16, 0.1),
                                                              (24, 0.1)]


def test_new_wrapper_names_after_the_first_model_stopped():
    series = epochs([("m1/mask:0/sparsity", 0.1), ("m1b/mask:0/sparsity", 0.1)], 100.0,
                    [0, 8, 16])
    series.update(epochs([("m2/mask:0/sparsity", 0.5)], 110.0, [0, 8, 16, 24]))
    series.update(epochs([("m3/mask:0/sparsity", 0.7)], 130.0, [0, 8]))
    split = trainings.split_trainings(series)
    assert [t.tags for t in split.trainings] == [
        {"m1/mask:0/sparsity", "m1b/mask:0/sparsity"}, {"m2/mask:0/sparsity"},
        {"m3/mask:0/sparsity"}]
    assert [t.last_step for t in split.trainings] == [16, 24, 8]
    assert "3 trainings" in split.how and "new wrapper names" in split.how
    assert "steps that start again" not in split.how


def test_steps_that_start_again_on_the_same_tags():
    first = epochs([("w/mask:0/sparsity", 0.3)], 100.0, [0, 10, 20])
    second = epochs([("w/mask:0/sparsity", 0.6)], 200.0, [0, 10])
    series = {"w/mask:0/sparsity": second["w/mask:0/sparsity"] + first["w/mask:0/sparsity"]}
    split = trainings.split_trainings(series)  # provider order does not matter
    assert [t.series["w/mask:0/sparsity"] for t in split.trainings] == [
        [(0, 0.3), (10, 0.3), (20, 0.3)], [(0, 0.6), (10, 0.6)]]
    assert "steps that start again" in split.how


def test_a_resume_from_a_checkpoint_is_not_a_new_training():
    series = {"w/mask:0/sparsity": [(0, 0.1, 1.0), (10, 0.2, 2.0), (20, 0.3, 3.0),
                                    (10, 0.2, 9.0), (20, 0.3, 10.0), (30, 0.4, 11.0)]}
    split = trainings.split_trainings(series)
    assert len(split.trainings) == 1


def test_a_quick_second_training_is_new_when_it_opened_its_own_event_file():
    # The next model starts 0.1 s after the last record of the first, at step 0.
    series = epochs([("a/mask:0/sparsity", 0.1)], 100.7, [0, 8, 16], epoch_seconds=0.05)
    series.update(epochs([("b/mask:0/sparsity", 0.2)], 101.0, [0, 8], epoch_seconds=0.05))
    assert len(trainings.split_trainings(series).trainings) == 1  # nothing tells them apart
    # The first file, opened in the same second as the first records, tells nothing.
    assert len(trainings.split_trainings(series, [100.0]).trainings) == 1
    files = ["run/events.out.tfevents.100.host.1.0.v2", "run/events.out.tfevents.101.host.1.3.v2"]
    starts = [trainings.file_start(f) for f in files]
    assert starts == [100.0, 101.0]
    assert len(trainings.split_trainings(series, starts).trainings) == 2


def test_logs_written_tag_by_tag_in_one_go_are_one_training():
    # Synthetic logs: each tag's whole series, then the next tag's, in one event file.
    series, wall = {}, 100.0
    for k in range(50):
        tag = "w%d/mask:0/sparsity" % k
        series[tag] = [(s, 0.1, wall + i * 0.01) for i, s in enumerate([0, 10, 20])]
        wall += 0.05
    assert len(trainings.split_trainings(series, [100.0]).trainings) == 1


def test_trainings_that_overlap_in_time_are_not_mixed_silently():
    # Two processes writing to one directory at once: the second starts at step 0 while
    # the first is at step 16.
    series = epochs([("a/mask:0/sparsity", 0.1)], 100.0, [0, 8, 16, 24, 32])
    series.update(epochs([("b/mask:0/sparsity", 0.2)], 105.0, [0, 8, 16, 24]))
    split = trainings.split_trainings(series)
    assert len(split.trainings) == 1 and split.how is None
    assert "cannot be told apart" in split.problem


def test_last_steps_from_epoch_end_records():
    series = epochs([("a/mask:0/sparsity", 0.1)], 100.0, [0, 8])
    series.update(epochs([("b/mask:0/sparsity", 0.1)], 110.0, [0, 8, 16]))
    split = trainings.split_trainings(series)
    evaluation = [(8, 101.0), (16, 103.0), (8, 111.0), (16, 113.0), (24, 115.0)]
    assert trainings.last_steps(split.trainings, evaluation) == [16, 24]
    assert trainings.last_steps(split.trainings, []) == [None, None]


def test_the_config_that_belongs_to_a_training():
    configs = [(99.0, {"m1": {}}), (109.0, {"m2": {}}), (129.0, {"m1": {}, "x": {}})]
    assert trainings.config_for({"m1"}, 100.0, configs) == (0, "wrapper names and wall time")
    assert trainings.config_for({"m2"}, 110.0, configs) == (1, "wrapper names and wall time")
    assert trainings.config_for({"m1"}, 130.0, configs) == (2, "wrapper names and wall time")
    # Only one config survived ingestion: matched by names, whenever it was written.
    assert trainings.config_for({"m1"}, 200.0, [(300.0, {"m1": {}})]) == (0, "wrapper names")
    # Names that no config has: the last one before the training, by wall time only.
    assert trainings.config_for({"zz"}, 120.0, configs) == (1, "wall time")
    assert trainings.config_for({"m1"}, 1.0, []) == (None, None)
    # Wrapper names nested in a model ("outer/prune_low_magnitude_x") match by last part.
    assert trainings.config_for({"outer/m2"}, 110.0, configs)[0] == 1


def test_one_training_keeps_the_series_as_read():
    series = {"a/mask:0/sparsity": [(0, 0.0), (10, 0.2), (10, 0.3)]}
    split = trainings.one_training(series)
    assert len(split.trainings) == 1 and split.trainings[0].series is series
    assert split.trainings[0].last_step == 10
