"""The `tb-sparsity` command: options, run selection, gates, report formats, and a logdir turned into a data provider by TensorBoard's own loaders."""
