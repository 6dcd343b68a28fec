"""Start TensorBoard with or without the sparsity plugin (for the memory comparison).

    python benchmarks/tb_launcher.py with|without --logdir D --port P ...

Builds `tensorboard.program.TensorBoard(plugins=default.get_plugins())` the way
`tensorboard.main` does, drops any `sparsity` plugin an installed entry point brought in,
and appends `SparsityPlugin` only for `with`. Run as a script (not `-m`) so that the
repository is not on sys.path unless the caller puts it there: the `without` process never
imports tb_sparsity_plugin.
"""

import sys


def _is_sparsity(loader):
    name = getattr(loader, "plugin_name", None)
    module = getattr(loader, "__module__", "") or ""
    return name == "sparsity" or module.startswith("tb_sparsity_plugin")


def main(argv):
    if not argv or argv[0] not in ("with", "without"):
        sys.stderr.write(__doc__)
        return 2
    from tensorboard import default, program

    plugins = [p for p in default.get_plugins() if not _is_sparsity(p)]
    if argv[0] == "with":
        from tb_sparsity_plugin.plugin import SparsityPlugin

        plugins.append(SparsityPlugin)
    tb = program.TensorBoard(plugins=plugins)
    tb.configure(argv=["tensorboard"] + argv[1:])
    return tb.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
