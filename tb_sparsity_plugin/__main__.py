"""`python -m tb_sparsity_plugin`: the `tb-sparsity` command line (see cli/main.py)."""

import sys

from tb_sparsity_plugin.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
