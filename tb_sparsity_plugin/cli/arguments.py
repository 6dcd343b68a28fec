"""What the `tb-sparsity` subcommands share of their command lines: a regular expression as
an option's type, and writing the answer to `--output` or stdout."""

import argparse
import re
import sys


def regex(text):
    """argparse type: a compiled regular expression, or a usage error saying why not."""
    try:
        return re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError("bad regular expression %r: %s" % (text, e))


def write_output(path, text):
    """`text` into the file `path` (None: stdout). Raises OSError when the file cannot be
    written (the caller says it in its own words)."""
    if path:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
