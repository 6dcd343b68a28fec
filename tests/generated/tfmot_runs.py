"""Real tfmot training runs for the test suite: tiny models, seconds on 2 cores.

Run as a script, so the pytest process never imports TensorFlow:

    python tests/generated/tfmot_runs.py OUT_DIR

Writes one experiment directory per scenario under OUT_DIR (the `metrics`/`train`/
`validation` layout of `PruningSummaries`) and OUT_DIR/truth.json with what the models
really hold: per run, the last training step and, per pruned weight, its wrapper, weight
count, final pruning_step and final mask sparsity.

Scenarios (all built in one process, so Keras' name suffixes differ between runs, as they do
for users who build several models in one notebook):

- `poly`: PolynomialDecay 0 -> 0.8 with a frequency that divides the window (a clean run).
- `trap`: the frequency trap (tfmot prunes only every `frequency` steps): default frequency 100, window 36..184,
  192 training steps; pruning happens at 36 and 136 only, ends at 84.5 % instead of 87.5 %.
- `per_layer`: a functional model with a different schedule on each layer.
- `plain`: PruningSummaries without the Keras model config (write_graph=False): no schedule.
- `both`: ConstantSparsity logged with PruningSummaries *and* SparsitySummaries.
- `callback_only`: PolynomialDecay logged with SparsitySummaries only.
"""

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tb_sparsity_plugin.tfmot.callback import SparsitySummaries  # noqa: E402

sp = tfmot.sparsity.keras
BATCH = 20


def data(samples):
    rng = np.random.RandomState(0)
    x = rng.rand(samples, 8, 8, 1).astype("float32")
    y = (x.reshape(samples, -1).sum(axis=1) * 7).astype("int64") % 10
    return x, y


def sequential(schedule):
    model = keras.Sequential([
        keras.layers.Conv2D(4, 3, input_shape=(8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(10),
    ])
    return sp.prune_low_magnitude(model, pruning_schedule=schedule)


def per_layer_model():
    inputs = keras.Input((8, 8, 1))
    x = sp.prune_low_magnitude(
        keras.layers.Conv2D(4, 3),
        pruning_schedule=sp.PolynomialDecay(0.0, 0.6, begin_step=4, end_step=28, frequency=4),
    )(inputs)
    x = keras.layers.Flatten()(x)
    x = sp.prune_low_magnitude(
        keras.layers.Dense(16, activation="relu"),
        pruning_schedule=sp.ConstantSparsity(0.7, begin_step=8, frequency=8),
    )(x)
    outputs = keras.layers.Dense(10)(x)  # not pruned
    return keras.Model(inputs, outputs)


def train(model, run_dir, samples, epochs, pruning_summaries=True, sparsity_summaries=False,
          write_graph=True):
    x, y = data(samples)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = [sp.UpdatePruningStep()]
    if pruning_summaries:
        callbacks.append(sp.PruningSummaries(log_dir=run_dir, write_graph=write_graph))
        if write_graph:  # the article's setup: a plain TensorBoard callback on the same dir
            callbacks.append(keras.callbacks.TensorBoard(log_dir=run_dir, profile_batch=0))
    if sparsity_summaries:
        callbacks.append(SparsitySummaries(log_dir=os.path.join(run_dir, "metrics"), update_freq=5))
    model.fit(x, y, batch_size=BATCH, epochs=epochs, validation_split=0.2, verbose=0,
              callbacks=callbacks)
    weights = pruned_weights(model.layers)
    steps_per_epoch = int(np.ceil(samples * 0.8 / BATCH))
    return {"last_step": steps_per_epoch * epochs, "steps_per_epoch": steps_per_epoch,
            "weights": weights}


def pruned_weights(layers):
    """What the model really holds, per pruned weight of `layers`."""
    weights = []
    for layer in layers:
        for weight, mask, _ in getattr(layer, "pruning_vars", []):
            weights.append({
                "wrapper": layer.name,
                "variable": weight.name,
                "params": int(np.prod(weight.shape)),
                "pruning_step": int(keras.backend.get_value(layer.pruning_step)),
                "mask_sparsity": float(1.0 - np.mean(keras.backend.get_value(mask))),
            })
    return weights


SCENARIOS = {
    # 160 training samples -> 8 steps per epoch.
    "poly": lambda d: train(
        sequential(sp.PolynomialDecay(0.0, 0.8, begin_step=2, end_step=30, frequency=4)),
        d, 200, 4),
    "trap": lambda d: train(
        sequential(sp.PolynomialDecay(0.0, 0.875, begin_step=36, end_step=184)),
        d, 800, 6),  # 32 steps per epoch, 192 steps
    "per_layer": lambda d: train(per_layer_model(), d, 200, 4),
    "plain": lambda d: train(
        sequential(sp.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=24, frequency=4)),
        d, 200, 4, write_graph=False),
    "both": lambda d: train(
        sequential(sp.ConstantSparsity(0.5, begin_step=4, frequency=8)),
        d, 200, 4, sparsity_summaries=True),
    "callback_only": lambda d: train(
        sequential(sp.PolynomialDecay(0.1, 0.7, begin_step=3, end_step=27, frequency=6)),
        d, 200, 4, pruning_summaries=False, sparsity_summaries=True),
}


def main(out_dir, names=None):
    tf.random.set_seed(0)
    truth = {}
    for name in names or SCENARIOS:
        truth[name] = SCENARIOS[name](os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(",") if len(sys.argv) > 2 else None)
