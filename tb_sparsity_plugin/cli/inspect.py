"""`tb-sparsity inspect PATH...`: per-layer sparsity and N:M compliance of checkpoint files,
next to what their recipe declared, with the same diagnostics and gates as `report`.

`add_arguments(parser)` and `run(args)` are the subcommand (cli/main.py registers it; the
checkpoints' analysis is checkpoints/inspection.py). Exit status: 0 ok, 1 a gate (--fail-on)
failed, 2 bad input (missing path, unreadable, corrupt or refused file), said in one line on
stderr.
"""

import argparse
import re
import sys

from tb_sparsity_plugin import words
from tb_sparsity_plugin.checkpoints import inspection
from tb_sparsity_plugin.checkpoints import to_logdir
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.cli import arguments
from tb_sparsity_plugin.cli import inspect_formats as render

EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE = 0, 1, 2

EPILOG = """\
examples:
  tb-sparsity inspect out/model.safetensors          one file
  tb-sparsity inspect out/                           a folder: its checkpoint(s)
  tb-sparsity inspect model.pt --nm 1:4 --include 'bias$'
  tb-sparsity inspect out/ --format json > layers.json
  tb-sparsity inspect out/ --fail-on warning         CI gate

N:M groups run along each layer's input dimension: torch [out, in, ...] along dim 1,
Keras [..., in, out] along the second-to-last (docs/checkpoints.md).

exit status:
  0  ok
  1  a gate failed (--fail-on); one "FAIL path: ..." line per failure on stderr
  2  bad input: a missing path, a truncated, corrupt or unsupported file, a refused pickle
"""


def parse_nm(text):
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError("not an N:M pattern: %r (use e.g. 2:4)" % text)
    n, m = int(match.group(1)), int(match.group(2))
    if not (0 <= n < m <= 255):
        raise argparse.ArgumentTypeError("N:M needs 0 <= N < M <= 255, got %s" % text)
    return n, m


def add_arguments(parser):
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="checkpoint files or folders (local, s3://, gs://): safetensors "
                             "(sharded too), torch.save .pt/.pth/.bin, Lightning .ckpt, Keras "
                             ".keras/.h5; a folder of checkpoints gives one entry per step")
    parser.add_argument("--nm", type=parse_nm, default=(2, 4), metavar="N:M",
                        help="the pattern whose compliance is counted: at most N non-zeros "
                             "in every M consecutive inputs (default 2:4)")
    parser.add_argument("--include", type=arguments.regex, metavar="REGEX",
                        help="also measure tensors whose name matches REGEX (re.search), "
                             "besides the Linear/Conv/Dense/Embedding weights")
    parser.add_argument("--format", choices=sorted(render.FORMATTERS), default="table")
    parser.add_argument("--fail-on", choices=("error", "warning", "info"),
                        help="exit 1 when a diagnostic of this severity (or worse) is found")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    # Writing the checkpoints as a run of a logdir (a folder of checkpoints = a run over
    # steps) is done by the logdir writer; these only carry its options.
    parser.add_argument("--logdir", metavar="LOGDIR",
                        help="also write the checkpoints as a run of LOGDIR (with --run)")
    parser.add_argument("--run", metavar="NAME", help="the run's name under --logdir")
    return parser


def gate_failures(docs, fail_on):
    if not fail_on:
        return []
    limit = words.SEVERITY_RANK[fail_on]
    return ["FAIL %s: %s %s%s: %s" % (doc["path"], d["severity"], d["code"],
                                      " (%s)" % d["layer"] if d.get("layer") else "",
                                      d["message"])
            for doc in docs for d in doc["diagnostics"]
            if words.severity_rank(d["severity"]) <= limit]


def _write(args, text):
    try:
        arguments.write_output(args.output, text)
    except OSError as e:
        raise CheckpointError("cannot write %s: %s" % (args.output, e.strerror or e))


def _write_logdir(args, docs):
    if (args.logdir is None) != (args.run is None):
        raise CheckpointError("--logdir and --run go together")
    to_logdir.write_run(docs, args.logdir, args.run)


def run(args):
    """The subcommand: exit status, errors said in one line on stderr."""
    try:
        docs = inspection.inspect_paths(args.paths, args.nm, args.include)
        if args.logdir is not None or args.run is not None:
            _write_logdir(args, docs)
        _write(args, render.FORMATTERS[args.format](docs))
    except CheckpointError as e:
        return _error(str(e))
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except BrokenPipeError:
        return EXIT_OK
    except (OSError, MemoryError, ValueError) as e:  # a file system or a library's refusal
        return _error("%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    failures = gate_failures(docs, args.fail_on)
    for line in failures:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return EXIT_GATE_FAILED if failures else EXIT_OK


def _error(message, status=EXIT_USAGE):
    sys.stderr.write("tb-sparsity: error: %s\n" % " ".join(message.split()))
    sys.stderr.flush()
    return status
