"""Real tfmot runs as users write them: tfmot's own example scripts and schedule recipes.

Run as a script, so the pytest process never imports TensorFlow:

    python tests/generated/tfmot_example_runs.py OUT_DIR [name,name,...]

Writes one directory per scenario under OUT_DIR and OUT_DIR/truth.json (per scenario: per
training, in order, the last training step and per pruned weight its wrapper, weight count,
final pruning_step and final mask sparsity).

tfmot's example scripts (tensorflow_model_optimization/python/examples/sparsity/keras/mnist/),
same models, schedules and callbacks, with a small random stand-in for MNIST and step counts
scaled to seconds on 2 cores:

- `mnist_cnn`: three models (layer-wise wrapped, whole Sequential wrapped, functional wrapped)
  trained one after another with `PruningSummaries(log_dir=output_dir)` on the SAME
  directory. PolynomialDecay(0.1, 0.75, begin_step=1000, end_step=5000, frequency=100) on
  ~5600 steps is scaled to begin 16, end 84, frequency 4 on 96 steps (12 epochs of 8).
- `e2e_2x4`: the layer-wise model with `sparsity_m_by_n=(2, 4)` and
  ConstantSparsity(0.5, begin_step=0, frequency=100); 3 epochs instead of 1 so that
  PruningSummaries (which logs at epoch starts) records the mask after step 1.
- `e2e_2x4_callback`: the same with our SparsitySummaries too, in `<dir>/metrics`.
- `mha`: MultiHeadAttention with ConstantSparsity(0.75, begin_step=2000, frequency=100)
  unchanged: 3 epochs never reach step 2000, as on real MNIST (1266 steps). Pretrained
  without pruning first, as the example does.
- `mha_callback`: the same with our SparsitySummaries too (per-weight series).

A notebook cell run twice:

- `same_names`: the same model built (after `clear_session()`), pruned (PolynomialDecay to
  50 %, then to 80 %) and fitted twice with the same log_dir: same wrapper names, steps that
  start again.

Schedule recipes (the sequential model of tfmot_runs.py):

- `recipe`: the article's PolynomialDecay 0 -> 0.875, begin at 20 % (36), end 184,
  frequency=10 (a 148-step window: the last pruning step is 176), 192 steps.
- `power2`: PolynomialDecay(0.2, 0.7, begin_step=0, end_step=92, frequency=5, power=2).
- `constant_open`: ConstantSparsity(0.6, begin_step=4, frequency=4), end_step -1.
- `never`: PolynomialDecay(0, 0.8, begin_step=40, end_step=60, frequency=100) on 32 steps:
  training ends before the first pruning step.
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfmot_runs  # noqa: E402
from tb_sparsity_plugin.tfmot.callback import SparsitySummaries  # noqa: E402

sp = tfmot.sparsity.keras
l = keras.layers  # noqa: E741  (the examples' own alias)
BATCH = 16
NUM_CLASSES = 10
SIDE = 12  # 28 x 28 MNIST scaled down: two 2x2 poolings still leave 3 x 3


def images(samples, shape, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(samples, *shape).astype("float32")
    y = (x.reshape(samples, -1).sum(axis=1) * 7).astype("int64") % NUM_CLASSES
    return x, y


def truth_of(model, last_step):
    return {"last_step": int(last_step), "weights": tfmot_runs.pruned_weights(_flat(model))}


def _flat(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat(layer)
        else:
            yield layer


# -- mnist_cnn.py -------------------------------------------------------------------------

def build_sequential_model(input_shape):
    return keras.Sequential([
        l.Conv2D(8, 5, padding="same", activation="relu", input_shape=input_shape),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        l.BatchNormalization(),
        l.Conv2D(16, 5, padding="same", activation="relu"),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        l.Flatten(),
        l.Dense(64, activation="relu"),
        l.Dropout(0.4),
        l.Dense(NUM_CLASSES, activation="softmax"),
    ])


def build_functional_model(input_shape):
    inp = keras.Input(shape=input_shape)
    x = l.Conv2D(8, 5, padding="same", activation="relu")(inp)
    x = l.MaxPooling2D((2, 2), (2, 2), padding="same")(x)
    x = l.BatchNormalization()(x)
    x = l.Conv2D(16, 5, padding="same", activation="relu")(x)
    x = l.MaxPooling2D((2, 2), (2, 2), padding="same")(x)
    x = l.Flatten()(x)
    x = l.Dense(64, activation="relu")(x)
    x = l.Dropout(0.4)(x)
    out = l.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.models.Model([inp], [out])


def build_layerwise_model(input_shape, **pruning_params):
    return keras.Sequential([
        sp.prune_low_magnitude(
            l.Conv2D(8, 5, padding="same", activation="relu"), input_shape=input_shape,
            **pruning_params),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        l.BatchNormalization(),
        sp.prune_low_magnitude(l.Conv2D(16, 5, padding="same", activation="relu"),
                               **pruning_params),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        l.Flatten(),
        sp.prune_low_magnitude(l.Dense(64, activation="relu"), **pruning_params),
        l.Dropout(0.4),
        sp.prune_low_magnitude(l.Dense(NUM_CLASSES, activation="softmax"), **pruning_params),
    ])


def mnist_cnn(out):
    input_shape = (SIDE, SIDE, 1)
    x_train, y_train = images(128, input_shape)
    x_test, y_test = images(32, input_shape, seed=1)
    y_train = keras.utils.to_categorical(y_train, NUM_CLASSES)
    y_test = keras.utils.to_categorical(y_test, NUM_CLASSES)
    epochs = 12  # 128 / 16 = 8 steps per epoch, 96 steps
    pruning_params = {"pruning_schedule": sp.PolynomialDecay(
        initial_sparsity=0.1, final_sparsity=0.75, begin_step=16, end_step=84, frequency=4)}
    layerwise = build_layerwise_model(input_shape, **pruning_params)
    sequential = sp.prune_low_magnitude(build_sequential_model(input_shape), **pruning_params)
    functional = sp.prune_low_magnitude(build_functional_model(input_shape), **pruning_params)
    trainings = []
    for model in [layerwise, sequential, functional]:
        model.compile(loss=keras.losses.categorical_crossentropy, optimizer="adam",
                      metrics=["accuracy"])
        callbacks = [sp.UpdatePruningStep(), sp.PruningSummaries(log_dir=out)]
        model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, verbose=0,
                  callbacks=callbacks, validation_data=(x_test, y_test))
        trainings.append(truth_of(model, 8 * epochs))
    return trainings


# -- mnist_e2e_sparsity2x4.py -------------------------------------------------------------

def build_layerwise_2x4_model(input_shape, **pruning_params):
    return keras.Sequential([
        sp.prune_low_magnitude(
            l.Conv2D(8, 5, padding="same", activation="relu", input_shape=input_shape),
            **pruning_params),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        sp.prune_low_magnitude(l.Conv2D(16, 5, padding="same"), **pruning_params),
        l.BatchNormalization(),
        l.ReLU(),
        l.MaxPooling2D((2, 2), (2, 2), padding="same"),
        l.Flatten(),
        sp.prune_low_magnitude(l.Dense(64, activation="relu"), **pruning_params),
        l.Dropout(0.4),
        l.Dense(NUM_CLASSES, activation="softmax"),
    ])


def e2e_2x4(out, own_callback=False):
    input_shape = (SIDE, SIDE, 1)
    x_train, y_train = images(128, input_shape)
    x_test, y_test = images(32, input_shape, seed=1)
    y_train = keras.utils.to_categorical(y_train, NUM_CLASSES)
    y_test = keras.utils.to_categorical(y_test, NUM_CLASSES)
    pruning_params = {
        "pruning_schedule": sp.ConstantSparsity(0.5, begin_step=0, frequency=100),
        "sparsity_m_by_n": (2, 4),
    }
    model = build_layerwise_2x4_model(input_shape, **pruning_params)
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer="adam",
                  metrics=["accuracy"])
    callbacks = [sp.UpdatePruningStep(), sp.PruningSummaries(log_dir=out)]
    if own_callback:
        callbacks.append(SparsitySummaries(log_dir=os.path.join(out, "metrics"), update_freq=4))
    epochs = 3
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, verbose=0,
              callbacks=callbacks, validation_data=(x_test, y_test))
    return [truth_of(model, 8 * epochs)]


# -- mnist_mha.py -------------------------------------------------------------------------

def mha(out, own_callback=False):
    tf.random.set_seed(42)
    x, y = images(160, (8, 8))
    inp = keras.layers.Input(shape=(8, 8))
    h = keras.layers.MultiHeadAttention(num_heads=2, key_dim=16, name="mha")(query=inp, value=inp)
    h = keras.layers.Flatten()(h)
    model = keras.Model(inputs=inp, outputs=keras.layers.Dense(10)(h))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=2, validation_split=0.1, verbose=0)  # pretraining, no logs

    callbacks = [sp.UpdatePruningStep(), sp.PruningSummaries(log_dir=out)]
    if own_callback:
        callbacks.append(SparsitySummaries(log_dir=os.path.join(out, "metrics"), update_freq=4))
    pruning_params = {"pruning_schedule": sp.ConstantSparsity(0.75, begin_step=2000,
                                                              frequency=100)}
    model_for_pruning = sp.prune_low_magnitude(model, **pruning_params)
    model_for_pruning.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    epochs = 3  # 144 training samples / 16 = 9 steps per epoch
    model_for_pruning.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=callbacks,
                          validation_split=0.1, verbose=0)
    return [truth_of(model_for_pruning, 9 * epochs)]


# -- a notebook cell run twice -----------------------------------------------------------

def same_names(out):
    """Build, prune and fit the same model twice with the same log_dir, as re-running a
    notebook cell after `keras.backend.clear_session()` does: the wrapper names repeat
    and the steps start again."""
    trainings = []
    for final in (0.5, 0.8):
        keras.backend.clear_session()
        result = tfmot_runs.train(tfmot_runs.sequential(
            sp.PolynomialDecay(0.0, final, begin_step=4, end_step=20, frequency=4)), out, 200, 4)
        trainings.append({"last_step": result["last_step"], "weights": result["weights"]})
    return trainings


# -- schedule recipes ---------------------------------------------------------------------

def recipe(out, schedule, samples, epochs):
    result = tfmot_runs.train(tfmot_runs.sequential(schedule), out, samples, epochs)
    return [{"last_step": result["last_step"], "weights": result["weights"]}]


SCENARIOS = {
    "mnist_cnn": mnist_cnn,
    "same_names": same_names,
    "e2e_2x4": e2e_2x4,
    "e2e_2x4_callback": lambda d: e2e_2x4(d, own_callback=True),
    "mha": mha,
    "mha_callback": lambda d: mha(d, own_callback=True),
    # 800 samples: 32 steps per epoch (tfmot_runs.BATCH 20, validation 20 %)
    "recipe": lambda d: recipe(
        d, sp.PolynomialDecay(0.0, 0.875, begin_step=36, end_step=184, frequency=10), 800, 6),
    "power2": lambda d: recipe(
        d, sp.PolynomialDecay(0.2, 0.7, begin_step=0, end_step=92, frequency=5, power=2),
        400, 6),  # 16 steps per epoch, 96 steps
    "constant_open": lambda d: recipe(
        d, sp.ConstantSparsity(0.6, begin_step=4, frequency=4), 200, 4),
    "never": lambda d: recipe(
        d, sp.PolynomialDecay(0.0, 0.8, begin_step=40, end_step=60), 200, 4),
}


def main(out_dir, names=None):
    tf.random.set_seed(0)
    os.makedirs(out_dir, exist_ok=True)
    truth_path = os.path.join(out_dir, "truth.json")
    truth = {}
    if names and os.path.exists(truth_path):  # add to an existing set
        with open(truth_path) as f:
            truth = json.load(f)
    for name in names or SCENARIOS:
        truth[name] = SCENARIOS[name](os.path.join(out_dir, name))
    with open(truth_path, "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(",") if len(sys.argv) > 2 else None)
