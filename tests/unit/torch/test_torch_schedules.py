"""tb_sparsity_plugin/torch/schedules.py and the neutral kinds of parse_schedule, on their own (numpy only).

The comparison with real torch runs is in test_torch_writer.py; here the rules at their edges."""

import pytest

from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.sources import own
from tb_sparsity_plugin.torch import schedules as torch_schedules


def test_cubic_level_follows_torch_formula_clamped_and_initially_zero():
    # CubicSL(init_sl=0, init_t=2, delta_t=2, total_t=5): end = 2 + 2 * 5 = 12, base_sl 0.8
    level = lambda t, zero=False: torch_schedules.cubic_level(t, 0.0, 0.8, 2, 12, 3, zero)  # noqa: E731
    assert level(2) == 0.0 and level(12) == 0.8 and level(100) == 0.8
    assert level(7) == 0.8 + (0.0 - 0.8) * (1.0 - 5 / 10) ** 3  # every step, not every delta_t
    assert level(0) == 0.0  # below init_t the level is clamped to init_sl
    assert torch_schedules.cubic_level(0, 0.2, 0.8, 2, 12, 3, True) == 0.0
    assert torch_schedules.cubic_level(0, 0.2, 0.8, 2, 12, 3, False) == 0.2


def test_block_sparsity_rounds_blocks_and_caps_below_all():
    shape = [48, 64]  # 768 blocks of (1, 4)
    assert torch_schedules.block_sparsity(0.8, shape, [1, 4], 4) == 614 / 768
    assert torch_schedules.block_sparsity(0.9999, shape, [1, 4], 4) == 767 / 768  # capped at B - 1
    assert torch_schedules.block_sparsity(1.0, shape, [1, 4], 4) == 1.0
    assert torch_schedules.block_sparsity(0.8, shape, [1, 4], 2) == 614 * 2 / (48 * 64)
    assert torch_schedules.block_sparsity(0.8, shape, [1, 4], 0) == 0.0
    assert torch_schedules.block_sparsity(0.0, shape, [1, 4], 4) == 0.0
    # a 10-wide weight has partial edge blocks: approximately blocks x zeros fraction
    assert torch_schedules.block_sparsity(0.5, [4, 10], [1, 4], 4) == pytest.approx(6 / 12)


def test_compound_prunes_a_share_of_what_is_left():
    assert torch_schedules.compound_remaining([0.5, 0.5, 0.5], 100) == [50, 25, 13]  # prunes round(12.5) = 12 of 25
    assert torch_schedules.compound_remaining([10, 0.5], 100) == [90, 45]  # an int is a count
    assert torch_schedules.compound_level([0.5, 0.5, 0.5]) == 0.875


def test_neutral_kinds_parse_or_say_why():
    clock = {"schedule_step": [(10, 1), (20, 2)], "mask_schedule_step": [(10, 0), (20, 1)]}
    poly = {"kind": "polynomial", "initial": 0.0, "final": 0.5, "begin": 0, "end": 2, "power": 3,
            "stepping": {"rule": "scheduler_calls"}, "source": {"class_name": "CubicSL"}}
    sched = schedules.parse_schedule(poly, rounding={"rule": "level"}, shape=[4, 4], logged=clock)
    assert sched.class_name == "CubicSL"
    assert list(sched.effective([5, 10, 20, 30])) == [0.0, 0.0, pytest.approx(0.4375), pytest.approx(0.4375)]
    assert list(sched.target([10, 20])) == [pytest.approx(0.4375), 0.5]
    assert sched.effective_points(30) == [[0, 0.0], [20, pytest.approx(0.4375)], [30, pytest.approx(0.4375)]]
    assert sched.pruning_steps(100) == [20] and list(sched.last_pruning_step([19, 25])) == [-1, 20]

    missing = schedules.parse_schedule(poly, shape=[4, 4], logged={})
    assert isinstance(missing, schedules.Problem) and "clock" in missing.message
    flat = schedules.parse_schedule(dict(poly, end=0), logged=clock)
    assert isinstance(flat, schedules.Problem) and flat.code == "invalid_schedule"
    unknown = schedules.parse_schedule({"kind": "exponential"})
    assert isinstance(unknown, schedules.Problem) and unknown.code == "unknown_schedule"
    bad_blocks = schedules.parse_schedule(poly, rounding={"rule": "blocks", "block_shape": [1, 4],
                                                          "zeros_per_block": 9}, shape=[4, 4], logged=clock)
    assert isinstance(bad_blocks, schedules.Problem) and "zeros_per_block" in bad_blocks.message


def test_tfmot_stepping_is_the_schedule_it_always_was():
    neutral = {"kind": "polynomial", "initial": 0.0, "final": 0.875, "begin": 36, "end": 184,
               "power": 3, "stepping": {"rule": "frequency", "frequency": 100}}
    native = {"class_name": "PolynomialDecay", "config": {
        "initial_sparsity": 0.0, "final_sparsity": 0.875, "power": 3, "begin_step": 36,
        "end_step": 184, "frequency": 100}}
    assert schedules.parse_schedule(neutral) == schedules.parse_schedule(native)


def test_logged_series_tags_names_the_clock_and_levels():
    weight = {"schedule": {"kind": "logged_levels", "stepping": {
        "rule": "scheduler_calls", "schedule_step_tag": "c/s", "mask_step_tag": "c/m"}},
        "tags": {"scheduled_level": "t/s", "applied_level": "t/a", "mask_sparsity": "t/m"}}
    assert own.logged_series_tags(weight) == {
        "schedule_step": "c/s", "mask_schedule_step": "c/m", "scheduled_level": "t/s", "applied_level": "t/a"}
    assert own.logged_series_tags({"schedule": {"class_name": "PolynomialDecay"}}) == {}
