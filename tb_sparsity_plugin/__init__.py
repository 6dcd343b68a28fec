"""tb-sparsity-plugin: a TensorBoard plugin for tfmot pruning runs.

`SparsitySummaries` (the Keras callback) is loaded lazily, so importing this package never
imports TensorFlow.
"""


def __getattr__(name):
    if name == "SparsitySummaries":
        from tb_sparsity_plugin.tfmot.callback import SparsitySummaries

        return SparsitySummaries
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
