"""What only the event files still hold when several trainings share a run directory.

Each `fit` with Keras' TensorBoard callback (or tfmot's PruningSummaries, a subclass) opens
new event files in `train` and `validation`, writes its Keras model config at step 0 and
its `evaluation_*_vs_iterations` at each epoch end. TensorBoard's loaders keep one record
per step of a series (the Rust loader the last; the Python loader's model configs the
first), so after several trainings the data provider holds one model config and, under the
Rust loader, only the last training's evaluation records. The files hold all of them.

Local logdirs only (the reader passes the paths its DamageScanner lists); read from the
start of each file up to its first damaged record, cached by (size, mtime).
"""

import json
import os

from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.tfmot import keras_config
from tb_sparsity_plugin.reading import recovery

KERAS_MODEL_TAG = "keras"
# A model config is written when `fit` starts: within the first records of its file.
CONFIG_BYTES = 4 << 20

# (path, tags) -> result, fingerprinted by the file's (size, mtime), within a quarter of the
# plugin's cache bound. Only a config's wrappers are kept: a parsed model config is ~10x
# bigger, and the large benchmark's 300-layer ones filled the bound.
_cache = cache.BoundedCache(max_bytes=cache.cache_bytes() // 4)


def _cached(path, key, compute):
    try:
        st = os.stat(path)
    except OSError:
        return []
    stamp = (st.st_size, st.st_mtime_ns)
    hit = _cache.get((path, key), stamp)
    if hit is not None:
        return hit
    try:
        result = compute()
    except OSError:
        return []
    _cache.put((path, key), result, stamp, 4 * len(repr(result)))  # as the reader's models
    return result


def keras_model_wrappers(paths):
    """[(wall_time, {wrapper name: info})] of every Keras model config in the files
    (keras_config.wrappers_in_model_config), in time order; configs that are not a JSON
    object are skipped."""
    out = []
    for path in paths:
        out.extend(_cached(path, KERAS_MODEL_TAG, lambda p=path: _wrappers_of(p)))
    return sorted(out, key=lambda c: c[0])


def _wrappers_of(path):
    found = []
    for event in recovery.events_with_tags(path, [KERAS_MODEL_TAG], CONFIG_BYTES):
        for value in event.summary.value:
            if value.tag != KERAS_MODEL_TAG or not value.tensor.string_val:
                continue
            try:
                model = json.loads(value.tensor.string_val[0])
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(model, dict):
                found.append((event.wall_time, keras_config.wrappers_in_model_config(model)))
    return found


def scalar_points(paths, tags):
    """[(step, wall_time)] of the scalar records with one of `tags` in the files."""
    key = tuple(sorted(tags))
    out = []
    for path in paths:
        out.extend(_cached(path, key, lambda p=path: _points_of(p, key)))
    return out


def _points_of(path, tags):
    return [(int(event.step), event.wall_time)
            for event in recovery.events_with_tags(path, tags)
            if any(recovery.scalar_of(v) is not None for v in event.summary.value
                   if v.tag in tags)]
