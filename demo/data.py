"""The demos' data: MNIST when it can be had within a timeout, else scikit-learn's digits.

Shared by the Keras demo (mnist_pruning.py) and the PyTorch demo (torch_pruning.py), so both
train on the same images. MNIST comes through `keras.datasets.mnist` (tf_keras, imported only
when MNIST is tried) or from a local ``mnist.npz``.
"""

import socket
import threading

import numpy as np


# -- loading --------------------------------------------------------------------------------------


def _load_npz(path):
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _keras_mnist(timeout):
    """keras.datasets.mnist.load_data() in a thread: (data, None) or (None, reason)."""
    result = {}

    def target():
        try:
            import tf_keras as keras

            result["data"] = keras.datasets.mnist.load_data()
        except BaseException as e:  # noqa: BLE001 - any failure means: use the fallback
            result["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        thread = threading.Thread(target=target, name="mnist-download", daemon=True)
        thread.start()
        thread.join(timeout)
    finally:
        socket.setdefaulttimeout(previous)
    if "data" in result:
        return result["data"], None
    if thread.is_alive():
        return None, "no answer within %g s" % timeout
    return None, result.get("error", "unknown error")


def _digits():
    """scikit-learn's bundled 8x8 digits (1797 images), upsampled to 28x28 like MNIST."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype("float32") / 16.0 * 255.0  # 0..16 -> 0..255 like MNIST
    big = np.kron(images, np.ones((1, 3, 3), dtype="float32"))  # 24x24
    big = np.pad(big, ((0, 0), (2, 2), (2, 2)))  # 28x28
    rng = np.random.default_rng(0)
    order = rng.permutation(len(big))
    big, labels = big[order], digits.target[order]
    cut = int(len(big) * 0.85)
    return (big[:cut], labels[:cut]), (big[cut:], labels[cut:])


def load_data(data_path=None, timeout=10.0, offline=False):
    """((x_train, y_train), (x_test, y_test)) as float32 in [0, 1], shape (n, 28, 28, 1); and
    a sentence saying which data set it is."""
    if data_path:
        (xtr, ytr), (xte, yte) = _load_npz(data_path)
        name = "MNIST from %s" % data_path
    else:
        data, reason = (None, "--offline") if offline else _keras_mnist(timeout)
        if data is not None:
            (xtr, ytr), (xte, yte) = data
            name = "MNIST (keras.datasets.mnist)"
        else:
            (xtr, ytr), (xte, yte) = _digits()
            name = ("scikit-learn digits upsampled to 28x28 (fallback: MNIST unavailable: %s; "
                    "pass --data mnist.npz to use a local copy)" % reason)

    def prep(x):
        x = np.asarray(x, dtype="float32")
        if x.max() > 1.5:
            x = x / 255.0
        return x.reshape((-1, 28, 28, 1))

    return (prep(xtr), np.asarray(ytr, dtype="int64")), (prep(xte), np.asarray(yte, dtype="int64")), name
