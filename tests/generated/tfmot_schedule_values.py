"""Dump tfmot's own schedule values for a grid of configurations (run as a script).

    python tests/generated/tfmot_schedule_values.py OUT.json MAX_STEP

For each configuration: tfmot's `should_prune` and target sparsity at every step 0..MAX_STEP,
evaluated by tfmot's schedule objects in a tf.function (as during training).
"""

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

sp = tfmot.sparsity.keras


def grid():
    for initial in (0.0, 0.3):
        for final in (0.5, 0.875, 0.95):
            for begin in (0, 1, 7, 36):
                for end in (40, 184):
                    for power in (1, 3):
                        for frequency in (1, 7, 100):
                            yield "PolynomialDecay", dict(
                                initial_sparsity=initial, final_sparsity=final,
                                begin_step=begin, end_step=end, power=power,
                                frequency=frequency)
    for target in (0.5, 0.9):
        for begin in (0, 3):
            for end in (-1, 50):
                for frequency in (1, 10, 100):
                    yield "ConstantSparsity", dict(
                        target_sparsity=target, begin_step=begin, end_step=end,
                        frequency=frequency)


def main(out, max_step):
    steps = tf.range(0, max_step + 1, dtype=tf.int64)
    results = []
    for class_name, config in grid():
        schedule = getattr(sp, class_name)(**config)

        # One scalar step at a time (as in training: TensorFlow's vectorised float32 pow
        # rounds differently from its scalar pow), inside one graph for speed.
        @tf.function
        def evaluate(all_steps):
            return tf.map_fn(lambda step: schedule(step), all_steps,
                             fn_output_signature=(tf.bool, tf.float32))

        prune, target = evaluate(steps)
        results.append({"class_name": class_name, "config": config,
                        "should_prune": [bool(v) for v in prune.numpy()],
                        "target": [float(v) for v in target.numpy()]})
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
