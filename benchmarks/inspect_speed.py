"""How fast `tb-sparsity inspect` reads a big checkpoint, against the physical limit.

    python -m benchmarks.inspect_speed            # a 2.4 GB sharded bf16 checkpoint, minutes
    python -m benchmarks.inspect_speed --quick    # 25 MB, seconds (for tests)

Writes a sharded bf16 safetensors checkpoint with NumPy into a temporary folder (the shapes
of a Llama-7B-like block: q, k, v, o 4096 x 4096, gate, up 11008 x 4096, down 4096 x 11008;
6 blocks, 3 shards and their `model.safetensors.index.json`; random bf16 values with two
zeros in every group of 4 along the input dimension, i.e. 50 % zeros, 2:4), then measures,
each in a subprocess of its own, with the page cache warm (one untimed read first) and the
three interleaved `--repeats` times:

  raw       every byte of the shards read into one reused 16 MB buffer (`readinto`): the
            physical limit of any reader;
  inspect   `python -m tb_sparsity_plugin inspect DIR --format json`;
  obvious   `safetensors.torch.load_file` shard by shard, then zeros and 2:4 groups counted
            with torch (`(t == 0).sum()`, `(t.view(r, -1, 4) != 0).sum(-1) <= 2`).

With `--cold` (the default without --quick) each variant also runs once after the
checkpoint's pages are evicted from the page cache (`posix_fadvise(DONTNEED)` on its files
only): the disk-bound case.

Reported per variant: the median of the time each process spends reading and counting
(measured inside it, from before the first file is opened to the answer; interpreter start
and imports excluded, they are shown apart), its whole wall time, and its peak resident set
size (`ru_maxrss` of the child, from `os.wait4`). Targets (issue 31): inspect <= 1.3 x raw,
peak <= the largest tensor + 100 MB. Writes docs/benchmark_inspect.md (or --output).
"""

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(ROOT, "docs", "benchmark_inspect.md")
TARGET_RATIO = 1.3
TARGET_HEADROOM_MB = 100
VARIANTS = ("raw", "inspect", "obvious")
# (hidden, intermediate, blocks, shards)
FULL = (4096, 11008, 6, 3)
QUICK = (512, 1376, 4, 2)

RAW = r"""
import os, sys, time, json
t = time.perf_counter()
buf = bytearray(16 << 20); view = memoryview(buf); total = 0
for path in sys.argv[1:]:
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            total += n
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": total}))
"""

INSPECT = r"""
import io, json, sys, time, contextlib
started = time.perf_counter()
from tb_sparsity_plugin.cli import main as cli
imported = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(["inspect", sys.argv[1], "--format", "json"])
done = time.perf_counter()
assert code == 0, code
doc = json.loads(out.getvalue())["checkpoints"][0]
print(json.dumps({"seconds": done - imported, "imports": imported - started,
                  "layers": len(doc["layers"]),
                  "sparsity": [l["sparsity"] for l in doc["layers"]],
                  "compliance": [l["n_m_compliance"] for l in doc["layers"]]}))
"""

OBVIOUS = r"""
import json, sys, time
started = time.perf_counter()
import torch
from safetensors.torch import load_file
imported = time.perf_counter()
sparsity, compliance = [], []
for path in sys.argv[1:]:
    tensors = load_file(path)
    for name in sorted(tensors):
        t = tensors[name]
        sparsity.append(int((t == 0).sum()) / t.numel())
        groups = (t.reshape(t.shape[0], -1, 4) != 0).sum(-1)
        compliance.append(float((groups <= 2).float().mean()))
    del tensors
done = time.perf_counter()
print(json.dumps({"seconds": done - imported, "imports": imported - started,
                  "layers": len(sparsity), "sparsity": sparsity, "compliance": compliance}))
"""


# -- the checkpoint ------------------------------------------------------------------------


def block_shapes(hidden, inter):
    return [("self_attn.q_proj", (hidden, hidden)), ("self_attn.k_proj", (hidden, hidden)),
            ("self_attn.v_proj", (hidden, hidden)), ("self_attn.o_proj", (hidden, hidden)),
            ("mlp.gate_proj", (inter, hidden)), ("mlp.up_proj", (inter, hidden)),
            ("mlp.down_proj", (hidden, inter))]


def two_four_bits(shape, rng):
    """bf16 bits: random normal values (|x| in [2^-7, 1)), random sign, two of every four
    consecutive values along the last (input) dimension zero."""
    rows, cols = shape
    bits = rng.integers(0x3C00, 0x3F80, size=(rows, cols), dtype=np.uint16)
    bits |= (rng.integers(0, 2, size=(rows, cols), dtype=np.uint16) << 15)
    keep = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1],
                     [0, 0, 1, 1]], dtype=np.uint16) * 0xFFFF
    choice = rng.integers(0, 6, size=(rows, cols // 4))
    bits &= keep[choice].reshape(rows, cols)
    return bits


def _write_safetensors(path, tensors):
    """The safetensors format (8-byte header length, JSON header, raw bytes), written
    directly: the `safetensors` package has no bf16 for NumPy arrays."""
    header, offset = {}, 0
    for name, bits in tensors:
        header[name] = {"dtype": "BF16", "shape": list(bits.shape),
                        "data_offsets": [offset, offset + bits.nbytes]}
        offset += bits.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for _, bits in tensors:
            f.write(bits.tobytes())


def make_checkpoint(folder, hidden, inter, blocks, shards):
    """The sharded checkpoint in `folder`; returns (shard paths, total bytes, largest tensor
    bytes, [(name, sparsity, compliance)] as written)."""
    rng = np.random.default_rng(0)
    shapes = block_shapes(hidden, inter)
    bases = {shape: two_four_bits(shape, rng) for _, shape in shapes}
    per_shard = math.ceil(blocks / shards)
    weight_map, paths, total = {}, [], 0
    for s in range(shards):
        name = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        tensors = []
        for b in range(s * per_shard, min(blocks, (s + 1) * per_shard)):
            for module, shape in shapes:
                base = bases[shape]
                # another tensor each time: flip low mantissa bits of the non-zeros only
                bits = base ^ (np.uint16(1 + b % 127) * (base != 0).astype(np.uint16))
                tensor = "model.layers.%d.%s.weight" % (b, module)
                tensors.append((tensor, bits))
                weight_map[tensor] = name
        path = os.path.join(folder, name)
        _write_safetensors(path, tensors)
        paths.append(path)
        total += os.path.getsize(path)
        del tensors
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    largest = max(bits.nbytes for bits in bases.values())
    return paths, total, largest


# -- measuring -----------------------------------------------------------------------------


def measure(variant, folder, shards):
    """(result dict, wall seconds) of one variant in a subprocess."""
    script = {"raw": RAW, "inspect": INSPECT, "obvious": OBVIOUS}[variant]
    args = [folder] if variant == "inspect" else shards
    env = dict(os.environ, PYTHONPATH=ROOT)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script] + args, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (variant, err.decode()[-2000:]))
    return json.loads(out.decode().strip().splitlines()[-1]), wall


def run_one(variant, folder, shards):
    """One measurement, from a fresh intermediate process: its RUSAGE_CHILDREN peak (the
    largest of all its reaped children) is then the variant's own."""
    code = ("import json, resource, sys; sys.path.insert(0, %r); "
            "from benchmarks.inspect_speed import measure; "
            "r, wall = measure(%r, %r, %r); "
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024; "
            "print(json.dumps({'result': r, 'wall': wall, 'peak': peak}))"
            % (ROOT, variant, folder, shards))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def evict(paths):
    """Drop these files' pages from the page cache (theirs only: posix_fadvise DONTNEED),
    so the next read comes from the disk."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run(args):
    hidden, inter, blocks, shards = QUICK if args.quick else FULL
    folder = tempfile.mkdtemp(prefix="tb_sparsity_inspect_bench_", dir=args.workdir)
    try:
        print("writing the checkpoint into %s ..." % folder, flush=True)
        paths, total, largest = make_checkpoint(folder, hidden, inter, blocks, shards)
        run_one("raw", folder, paths)  # warms the page cache: not measured
        samples = {v: [] for v in VARIANTS}
        for rep in range(args.repeats):
            order = VARIANTS if rep % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                samples[variant].append(run_one(variant, folder, paths))
                print("  %s #%d: %.2f s" % (variant, rep + 1,
                                            samples[variant][-1]["result"]["seconds"]),
                      flush=True)
        cold = {}
        if args.cold:  # the same, each run after this checkpoint's pages are evicted
            for variant in VARIANTS:
                evict(paths)
                cold[variant] = run_one(variant, folder, paths)
                print("  %s, cold: %.2f s" % (variant, cold[variant]["result"]["seconds"]),
                      flush=True)
        got = samples["inspect"][0]["result"]
        want = samples["obvious"][0]["result"]
        agree = (got["layers"] == want["layers"] and got["sparsity"] == want["sparsity"]
                 and got["compliance"] == want["compliance"])
        return {"bytes": total, "largest": largest, "shards": shards, "blocks": blocks,
                "hidden": hidden, "inter": inter, "samples": samples, "agree": agree,
                "cold": cold,
                "tensors": got["layers"]}
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


# -- the page ------------------------------------------------------------------------------


def _median(samples, key):
    values = [s["result"][key] if key in s["result"] else s[key] for s in samples]
    return statistics.median(values)


def markdown(result, args, machine):
    gb = result["bytes"] / 1e9
    med = {v: _median(result["samples"][v], "seconds") for v in VARIANTS}
    wall = {v: _median(result["samples"][v], "wall") for v in VARIANTS}
    peak = {v: max(s["peak"] for s in result["samples"][v]) for v in VARIANTS}
    imports = {v: _median(result["samples"][v], "imports") for v in ("inspect", "obvious")}
    limit = result["largest"] + TARGET_HEADROOM_MB * 1e6
    lines = [
        "# `tb-sparsity inspect` speed", "",
        "Generated by `python -m benchmarks.inspect_speed%s`." % (" --quick" if args.quick
                                                                  else ""), "",
        "Checkpoint: %.2f GB of bf16 safetensors in %d shards with their index, %d tensors "
        "(%d blocks of q, k, v, o %d x %d, gate and up %d x %d, down %d x %d), 50 %% zeros "
        "in a 2:4 pattern along the input dimension; the largest tensor is %.0f MB. Written "
        "with NumPy by the benchmark, read with the page cache warm (one untimed read first), "
        "each variant in a process of its own, interleaved, %d repetitions (medians; peak: "
        "the largest)." % (gb, result["shards"], result["tensors"], result["blocks"],
                           result["hidden"], result["hidden"], result["inter"],
                           result["hidden"], result["hidden"], result["inter"],
                           result["largest"] / 1e6, args.repeats), "",
        "Machine: %s, %s cores, %s GB RAM; Python %s." % (
            machine["cpu"], machine["cores"], machine["ram_gb"], machine["python"]), "",
    ]
    if machine.get("load"):
        lines += ["System %s, this benchmark included." % machine["load"], ""]
    lines += [
        "| variant | what it does | read and count (s) | GB/s | whole process (s) | "
        "imports (s) | peak RSS (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    what = {"raw": "reads every byte (the physical limit)",
            "inspect": "`tb-sparsity inspect DIR --format json`",
            "obvious": "`safetensors.torch.load_file` per shard, counted with torch"}
    for v in VARIANTS:
        lines.append("| %s | %s | %.3f | %.2f | %.3f | %s | %.0f |" % (
            v, what[v], med[v], gb / med[v], wall[v],
            "%.3f" % imports[v] if v in imports else "", peak[v] / 1e6))
    ratio = med["inspect"] / med["raw"]
    lines += ["", "| ratio | value | target | met |", "| --- | ---: | ---: | --- |",
              "| inspect / raw read, read and count | %.2f | %.1f | %s |" % (
                  ratio, TARGET_RATIO, "yes" if ratio <= TARGET_RATIO else "no"),
              "| inspect / raw read, whole process | %.2f | | |" % (wall["inspect"] /
                                                                    wall["raw"]),
              "| obvious way / raw read, read and count | %.2f | | |" % (med["obvious"] /
                                                                         med["raw"]),
              "| inspect / obvious way, read and count | %.2f | | |" % (med["inspect"] /
                                                                        med["obvious"]),
              "| inspect peak RSS / (largest tensor + %d MB) | %.2f | 1.0 | %s |" % (
                  TARGET_HEADROOM_MB, peak["inspect"] / limit,
                  "yes" if peak["inspect"] <= limit else "no"),
              "| obvious way peak RSS / (largest tensor + %d MB) | %.2f | | |" % (
                  TARGET_HEADROOM_MB, peak["obvious"] / limit), ""]
    if result["cold"]:
        c = {v: result["cold"][v]["result"]["seconds"] for v in VARIANTS}
        lines += ["With a cold page cache (this checkpoint's pages evicted with "
                  "`posix_fadvise(DONTNEED)` before each run, one run each): raw %.3f s "
                  "(%.2f GB/s), inspect %.3f s (%.2f x raw), the obvious way %.3f s (%.2f x "
                  "raw)." % (c["raw"], gb / c["raw"], c["inspect"], c["inspect"] / c["raw"],
                             c["obvious"], c["obvious"] / c["raw"]), ""]
    lines += ["inspect and the obvious way report %s per tensor (sparsity and 2:4 "
              "compliance)." % ("the same figures" if result["agree"] else
                                "DIFFERENT figures: a bug"), ""]
    return "\n".join(lines)


def summary_rows():
    """The page's ratios for `python -m benchmarks`' table (its other_results): name, ratio,
    target, source; empty before the benchmark has run."""
    if not os.path.exists(DEFAULT_OUTPUT):
        return [{"name": "inspect / raw read", "ratio": None, "target": TARGET_RATIO,
                 "source": "`python -m benchmarks.inspect_speed` (no output yet)"}]
    out = []
    with open(DEFAULT_OUTPUT, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 4 and cells[0].startswith("inspect ") and cells[2]:
                out.append({"name": "checkpoint %s" % cells[0], "ratio": float(cells[1]),
                            "target": float(cells[2]),
                            "source": os.path.relpath(DEFAULT_OUTPUT, ROOT)})
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a 25 MB checkpoint, for tests")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--workdir", default=None, help="where the checkpoint is written "
                                                   "(default: the system's temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the checkpoint afterwards")
    p.add_argument("--cold", action=argparse.BooleanOptionalAction, default=None,
                   help="also one run of each with the checkpoint evicted from the page "
                        "cache (default: on, off with --quick)")
    p.add_argument("--output", default=DEFAULT_OUTPUT,
                   help="markdown file to write (default %(default)s)")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.cold is None:
        args.cold = not args.quick
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks.machine import cpu_model
    from benchmarks.overhead import load_average, write_report

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": "%.0f" % mem,
               "python": platform.python_version()}
    before = load_average()
    result = run(args)
    if before is not None:
        machine["load"] = "load average (1 min) %.1f before, %.1f after" % (before,
                                                                          load_average())
    write_report(markdown(result, args, machine), args.output)
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
