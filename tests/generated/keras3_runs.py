"""Real Keras 3 trainings on the TensorFlow, PyTorch and JAX backends, logged by the plugin's
Keras 3 `SparsityCallback` (tb_sparsity_plugin.keras).

    python tests/generated/keras3_runs.py OUT_DIR          # one child process per backend
    python tests/generated/keras3_runs.py OUT_DIR BACKEND  # one backend (what the children run)

Keras 3 has no pruning API, so the model is pruned the way its users do it, by a callback of
their own (listed before ours): `fc1` through a mask variable (magnitude masks of 50 % at step 3
and 75 % at step 6, the kernel multiplied by it after every step; passed as
`masks={"fc1": mask}`), `conv` by zeroing its small weights in place, `fc2` not at all.
2 epochs of 8 steps, `update_freq=2`.

A probe listed after ours counts, with NumPy, after every step: each kernel's zeros, its mask's
zeros and the 2:4 compliance along the input dimension. OUT_DIR/truth.json:
{backend: {"states": {step: {"<layer>.<weight>": {"mask", "weight", "nm"}}}, "classes": ...}}.
Without TF_USE_LEGACY_KERAS (tf-keras would be loaded instead of Keras 3).
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKENDS = ("tensorflow", "torch", "jax")
STEPS_PER_EPOCH, EPOCHS = 8, 2


def child(out, backend):
    os.environ["KERAS_BACKEND"] = backend
    os.environ["TF_USE_LEGACY_KERAS"] = "0"  # Keras 3, not tf-keras
    sys.path.insert(0, ROOT)
    import numpy as np
    import keras

    from tb_sparsity_plugin.keras import SparsityCallback

    assert keras.backend.backend() == backend and keras.__version__.startswith("3.")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(16, name="fc1")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x))
    mask = keras.Variable(np.ones((288, 16), "float32"), trainable=False, name="fc1_mask")

    def step_of(m):
        return int(keras.ops.convert_to_numpy(m.optimizer.iterations))

    class Masker(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step, fc1 = step_of(self.model), self.model.get_layer("fc1").kernel
            if step in (3, 6):
                w = np.abs(keras.ops.convert_to_numpy(fc1)) * keras.ops.convert_to_numpy(mask)
                mask.assign((w > np.quantile(w, 0.5 if step == 3 else 0.75)).astype("float32"))
            fc1.assign(fc1.value * mask.value)
            conv = self.model.get_layer("conv").kernel
            values = keras.ops.convert_to_numpy(conv)
            values[np.abs(values) < 0.01 * step] = 0  # up to ~60 % by the last step
            conv.assign(values)

    def nm_compliance(kernel):  # groups of 4 along the input dimension (axis -2), <= 2 non-zeros
        rows = np.moveaxis(kernel, -2, -1).reshape(-1, kernel.shape[-2])
        rows = np.pad(rows, [(0, 0), (0, (-rows.shape[1]) % 4)])
        return float(((rows.reshape(-1, 4) != 0).sum(1) <= 2).mean())

    states = {}

    class Probe(keras.callbacks.Callback):
        def record(self):
            state = {}
            for layer in ("conv", "fc1", "fc2"):
                kernel = keras.ops.convert_to_numpy(self.model.get_layer(layer).kernel)
                m = keras.ops.convert_to_numpy(mask) if layer == "fc1" else (kernel != 0)
                effective = kernel * m
                state[layer + ".kernel"] = {"mask": float((m == 0).mean()), "weight": float((effective == 0).mean()),
                                            "nm": nm_compliance(effective)}
            states[step_of(self.model)] = state

        def on_train_begin(self, logs=None):
            self.record()

        def on_train_batch_end(self, batch, logs=None):
            self.record()

    model.compile("sgd", "mse")
    g = np.random.default_rng(0)
    x = g.random((STEPS_PER_EPOCH * 8, 8, 8, 1), dtype="float32")
    y = g.random((STEPS_PER_EPOCH * 8, 2), dtype="float32")
    ours = SparsityCallback(os.path.join(out, backend), masks={"fc1": mask}, update_freq=2)
    model.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=[Masker(), ours, Probe()])
    with open(os.path.join(out, backend + ".json"), "w") as f:
        json.dump({"states": states, "classes": {l.name: type(l).__name__ for l in model.layers}}, f)


def main(out):
    os.makedirs(out, exist_ok=True)
    for backend in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_USE_LEGACY_KERAS="0", TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), out, backend], env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit("%s backend failed:\n%s\n%s" % (backend, proc.stdout[-3000:], proc.stderr[-5000:]))
    truth = {}
    for backend in BACKENDS:
        with open(os.path.join(out, backend + ".json")) as f:
            truth[backend] = json.load(f)
        os.remove(os.path.join(out, backend + ".json"))
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        child(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1])
