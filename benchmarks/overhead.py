"""Shared by the writers' overhead benchmarks (callback_overhead.py, torch_writer_overhead.py):
interleaved repetitions of training variants, their medians and ratios, the report file."""

import os
import statistics


def interleaved(variants, repeats, fit):
    """Run `fit(variant, rep, log_timer)` -> (wall s, CPU s) for every variant, `repeats` times,
    the order rotating every repetition so slow phases of a shared machine hit all alike.

    `log_timer` is a list the fit appends the seconds spent inside the writer's own logging to.
    Returns times, cpu_times, their medians, and the median logging time and call count per
    fit of every variant that logged.
    """
    times = {v: [] for v in variants}
    cpu_times = {v: [] for v in variants}
    log_times = {v: [] for v in variants}
    log_calls = {}
    order = list(variants)
    for rep in range(repeats):
        shift = rep % len(order)
        for variant in order[shift:] + order[:shift]:
            timer = []
            elapsed, cpu = fit(variant, rep, timer)
            times[variant].append(elapsed)
            cpu_times[variant].append(cpu)
            if timer:
                log_times[variant].append(sum(timer))
                log_calls[variant] = len(timer)
            print("  rep %d %s: %.2f s wall, %.2f s CPU" % (rep + 1, variant, elapsed, cpu), flush=True)
    return {
        "times": times, "cpu_times": cpu_times,
        "median": {v: statistics.median(t) for v, t in times.items()},
        "cpu_median": {v: statistics.median(t) for v, t in cpu_times.items()},
        "log_time": {v: statistics.median(t) for v, t in log_times.items() if t},
        "log_calls": log_calls,
    }


def ratios(result, pairs):
    """{"x/y": (wall ratio, CPU ratio)} of the medians."""
    med, cpu = result["median"], result["cpu_median"]
    return {"%s/%s" % (x, y): (med[x] / med[y], cpu[x] / cpu[y]) for x, y in pairs}


def ratio_table(result, pairs):
    lines = ["| ratio | wall | CPU |", "| --- | ---: | ---: |"]
    for name, (wall, cpu) in ratios(result, pairs).items():
        lines.append("| %s | %.3f | %.3f |" % (name, wall, cpu))
    return lines


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def write_report(text, output):
    print()
    print(text)
    if output:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w") as f:
            f.write(text)
        print("Written to %s" % output)
