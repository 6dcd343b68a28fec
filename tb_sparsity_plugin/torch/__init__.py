"""The PyTorch writer: `from tb_sparsity_plugin.torch import SparsityWriter` (imports torch).

Install with `pip install 'tb-sparsity-plugin[torch]'`. The rest of the package never imports
torch.
"""

from tb_sparsity_plugin.torch.writer import SparsityWriter

__all__ = ["SparsityWriter"]
