"""Real tfmot training runs logged with `SparsitySummaries`, for tests/unit/tfmot/test_keras_callback.py.

Run as a script (the pytest process never imports TensorFlow):

    python tests/generated/keras_callback_runs.py OUT_DIR

Writes one log directory per scenario under OUT_DIR and OUT_DIR/truth.json with, per scenario,
what the model really holds after training: each weight's final pruning_step, mask sparsity
and fraction of exact zeros (keyed by the mask_sparsity tag), plus a few facts about the
callback itself.
"""

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tb_sparsity_plugin.tfmot.callback import SparsitySummaries, find_pruning_wrappers  # noqa: E402

sparsity = tfmot.sparsity.keras
prune = sparsity.prune_low_magnitude


def truth(model, callback):
    out = {}
    entries = {id(w): w for _, w in find_pruning_wrappers(model)}
    by_var = {}
    for wrapper in entries.values():
        for weight, mask, _ in wrapper.pruning_vars:
            by_var[weight.name] = (wrapper, weight, mask)
    for info in callback.weights:
        wrapper, weight, mask = by_var[info["variable"]]
        m = mask.numpy()
        w = weight.numpy()
        out[info["tags"]["mask_sparsity"]] = {
            "step": int(wrapper.pruning_step.numpy()),
            "mask_sparsity": float(1.0 - np.mean(m, dtype=np.float64)),
            "weight_sparsity": float(np.count_nonzero(w == 0) / w.size),
            "params": int(w.size),
            "weight": info["weight"],
            "wrapper": info["wrapper"],
        }
    return out


def data(n, shape, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype("float32")
    y = rng.integers(0, classes, size=n)
    return x, y


def fit(model, x, y, callbacks, epochs, batch_size):
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=0)


def scenario_int(out):
    """Conv + Dense, PolynomialDecay, update_freq=7 (does not divide the 30 steps), beside
    PruningSummaries in the same run directory."""
    run = os.path.join(out, "int_freq")
    schedule = sparsity.PolynomialDecay(0.0, 0.8, begin_step=4, end_step=24, frequency=5)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        prune(keras.layers.Conv2D(4, 3, activation="relu"), pruning_schedule=schedule),
        keras.layers.Flatten(),
        prune(keras.layers.Dense(4), pruning_schedule=schedule),
    ])
    x, y = data(300, (8, 8, 1))  # 10 batches of 30 -> 30 steps in 3 epochs
    cb = SparsitySummaries(log_dir=run + "/metrics", update_freq=7)
    fit(model, x, y, [sparsity.UpdatePruningStep(), sparsity.PruningSummaries(log_dir=run), cb],
        epochs=3, batch_size=30)
    return {"truth": truth(model, cb), "logdir": run + "/metrics", "update_freq": 7, "steps": 30}


def scenario_epoch(out):
    """Functional model with a nested Sequential, update_freq="epoch", ConstantSparsity;
    the callback placed *before* UpdatePruningStep in the list."""
    run = os.path.join(out, "epoch_freq")
    inner = keras.Sequential([
        prune(keras.layers.Dense(16, activation="relu"),
              pruning_schedule=sparsity.ConstantSparsity(0.5, begin_step=3, frequency=4)),
        keras.layers.Dense(8),
    ], name="inner")
    inp = keras.Input((6,))
    h = inner(inp)
    outp = prune(keras.layers.Dense(4), pruning_schedule=sparsity.ConstantSparsity(0.75, begin_step=0, frequency=2))(h)
    model = keras.Model(inp, outp)
    x, y = data(200, (6,))  # 5 batches of 40 -> 20 steps in 4 epochs
    cb = SparsitySummaries(log_dir=run, update_freq="epoch")
    fit(model, x, y, [cb, sparsity.UpdatePruningStep()], epochs=4, batch_size=40)
    return {"truth": truth(model, cb), "logdir": run, "update_freq": "epoch", "steps": 20,
            "steps_per_epoch": 5,
            "positions": {info["wrapper"]: info["position"] for info in cb.weights},
            "flat_layers": [layer.name for layer in _flat(model)]}


def _flat(model):
    from tb_sparsity_plugin.tfmot.callback import flatten_layers
    return flatten_layers(model)


def scenario_lstm(out):
    """An LSTM: kernel and recurrent_kernel under one wrapper, one mask name."""
    run = os.path.join(out, "lstm")
    schedule = sparsity.PolynomialDecay(0.0, 0.6, begin_step=2, end_step=10, frequency=2)
    model = keras.Sequential([
        keras.Input((5, 3)),
        prune(keras.layers.LSTM(8), pruning_schedule=schedule),
        keras.layers.Dense(4),
    ])
    x, y = data(96, (5, 3))  # 4 batches of 24 -> 12 steps
    cb = SparsitySummaries(log_dir=run, update_freq=5)
    fit(model, x, y, [sparsity.UpdatePruningStep(), cb], epochs=3, batch_size=24)
    return {"truth": truth(model, cb), "logdir": run, "steps": 12}


def scenario_custom_loop(out):
    """A custom training loop: for_model + log() / log(step) + close()."""
    run = os.path.join(out, "custom_loop")
    schedule = sparsity.PolynomialDecay(0.0, 0.5, begin_step=1, end_step=9, frequency=2)
    model = keras.Sequential([keras.Input((6,)), prune(keras.layers.Dense(4), pruning_schedule=schedule)])
    optimizer = keras.optimizers.Adam()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = data(100, (6,))
    step_cb = sparsity.UpdatePruningStep()
    step_cb.set_model(model)
    step_cb.on_train_begin()
    summaries = SparsitySummaries.for_model(model, run)
    summaries.log()
    logged_steps = [0]
    for i in range(10):
        xb, yb = x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if (i + 1) % 4 == 0:
            summaries.log(step=i + 1)  # an explicit step
            logged_steps.append(i + 1)
    step_cb.on_epoch_end(0)  # re-applies the masks to the weights
    summaries.log()  # the wrappers' own pruning_step: 10
    logged_steps.append(10)
    summaries.close()
    return {"truth": truth(model, summaries), "logdir": run, "steps": 10, "logged_steps": logged_steps}


def scenario_m_by_n(out):
    """2:4 sparsity: get_config() drops sparsity_m_by_n; the config summary must carry it."""
    run = os.path.join(out, "m_by_n")
    model = keras.Sequential([
        keras.Input((8,)),
        prune(keras.layers.Dense(8), sparsity_m_by_n=(2, 4)),
    ])
    x, y = data(64, (8,), classes=8)
    cb = SparsitySummaries(log_dir=run)
    fit(model, x, y, [sparsity.UpdatePruningStep(), cb], epochs=1, batch_size=16)
    return {"truth": truth(model, cb), "logdir": run, "steps": 4}


def main(argv):
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    result = {
        "is_tensorboard_subclass": issubclass(SparsitySummaries, keras.callbacks.TensorBoard),
        "is_callback": issubclass(SparsitySummaries, keras.callbacks.Callback),
    }
    wanted = argv[1:] or ["int", "epoch", "lstm", "custom_loop", "m_by_n"]
    for name in wanted:
        result[name] = globals()["scenario_" + name](out)
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
