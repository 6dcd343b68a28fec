"""The run-route fix proposed in docs/benchmarks.md, as a subclass, to measure before/after.

Not used by TensorBoard normally: `python benchmarks/tb_launcher.py with-proposed ...`
serves `ProposedSparsityPlugin` instead of `SparsityPlugin` so the benchmark can compare.

What it changes (the profile of a warm `run` request: 86 % of the time in
`http_util.Respond` -> `json_util.Cleanse` + `json.dumps` of a 5.7 MB document, 14 % in
the analysis):

1. the serialized answer is cached per run and reused while the reader returns the same
   (cached) RunData object: the analysis and the encoding run once per data change;
2. compact JSON (`separators=(",", ":")`), no `Cleanse` pass (the reader only lets finite
   numbers through, `allow_nan=False` enforces it);
3. `threshold` is left out unless asked for (`run?run=R&threshold=1`): the dashboard never
   draws it and it was 46 % of the bytes;
4. `measured` keeps only the points where the value changes, plus the last point: the mask
   changes only on pruning steps, so the drawn step function is the same (63 of 1000 points
   per layer in the medium logdir).
"""

import json
import threading

from werkzeug import wrappers

from tensorboard import errors
from tensorboard import plugin_util
from tensorboard.backend import http_util

from tb_sparsity_plugin import analysis
from tb_sparsity_plugin import plugin as plugin_lib


def step_changes(series):
    """[[step, value]] reduced to the first point, every change, and the last point."""
    if len(series) <= 2:
        return series
    out = [series[0]]
    for prev, point in zip(series, series[1:]):
        if point[1] != prev[1]:
            out.append(point)
    if out[-1] is not series[-1]:
        out.append(series[-1])
    return out


class ProposedSparsityPlugin(plugin_lib.SparsityPlugin):
    def __init__(self, context):
        super().__init__(context)
        self._body_lock = threading.Lock()
        self._bodies = {}  # (experiment_id, run, threshold) -> (RunData, JSON text)

    def get_plugin_apps(self):
        apps = super().get_plugin_apps()
        apps["/run"] = self.run_route
        return apps

    @wrappers.Request.application
    def run_route(self, request):
        try:
            ctx = plugin_util.context(request.environ)
            eid = plugin_util.experiment_id(request.environ)
            run = plugin_lib._single(request, "run")
            with_threshold = plugin_lib._single(request, "threshold", required=False) == "1"
            data = self._require_reader().read_run(ctx, eid, run)
            if data is None:
                raise errors.NotFoundError("no sparsity data for run %r" % run)
            key = (eid, run, with_threshold)
            with self._body_lock:
                hit = self._bodies.get(key)
            if hit is not None and hit[0] is data:
                body = hit[1]
            else:
                doc = analysis.analyze_run(data)
                for layer in doc["layers"]:
                    layer["measured"] = step_changes(layer["measured"])
                    if not with_threshold:
                        layer["threshold"] = None
                body = json.dumps(doc, separators=(",", ":"), allow_nan=False)
                with self._body_lock:
                    self._bodies[key] = (data, body)
            return http_util.Respond(request, body, "application/json")
        except errors.PublicError as e:
            return http_util.Respond(
                request, {"error": str(e)}, "application/json", code=e.http_code
            )
