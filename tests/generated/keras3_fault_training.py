"""A Keras 3 training (PyTorch backend) whose Keras 3 `SparsityCallback` writes onto a disk
that fills up; the user's callback frees the disk at the start of epoch 3.

    python tests/generated/keras3_fault_training.py LOG_DIR FILLER_FILE

4 epochs of 8 steps, `update_freq=1`. Prints one JSON line: the sparsity warnings raised, the
epochs completed, the steps whose `log` wrote its record and those whose `log` could not.
"""

import json
import os
import sys
import warnings

os.environ["KERAS_BACKEND"] = "torch"
os.environ["TF_USE_LEGACY_KERAS"] = "0"  # Keras 3
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tb_sparsity_plugin.keras import SparsityCallback  # noqa: E402


class Logged(SparsityCallback):
    written, failed = [], []

    def log(self, step=None):
        points = super().log(step)
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) if step is None else step
        (self.written if points else self.failed).append(step)
        return points


class FreeTheDisk(keras.callbacks.Callback):
    def __init__(self, filler):
        super().__init__()
        self.filler = filler

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            os.remove(self.filler)


def main(log_dir, filler):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, name="fc1"),
                              keras.layers.Dense(64, name="fc2"), keras.layers.Dense(4, name="fc3")])
    model.compile("sgd", "mse")
    x, y = np.random.rand(64, 32).astype("float32"), np.random.rand(64, 4).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=8, epochs=4, verbose=0,
                            callbacks=[FreeTheDisk(filler), Logged(log_dir, update_freq=1)])
    print(json.dumps({
        "warnings": [str(w.message) for w in caught if "Training goes on" in str(w.message)],
        "epochs": len(history.history["loss"]), "written": Logged.written, "failed": Logged.failed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
