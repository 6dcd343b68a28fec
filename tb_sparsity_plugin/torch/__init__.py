"""Everything that knows PyTorch's pruning: the `SparsityWriter` (writer.py, imports torch), its schedules' math and its traps' diagnostics (pure: no torch).

`from tb_sparsity_plugin.torch import SparsityWriter` (install with
`pip install 'tb-sparsity-plugin[torch]'`); the rest of the package never imports torch.
"""


def __getattr__(name):
    # Lazy: the pure modules of this package (schedules, diagnostics) must not import torch.
    if name == "SparsityWriter":
        from tb_sparsity_plugin.torch.writer import SparsityWriter

        return SparsityWriter
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


__all__ = ["SparsityWriter"]
