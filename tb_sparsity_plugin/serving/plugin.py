"""The TensorBoard plugin: thin HTTP routes over documents.py (reader.py + run_document.py).

Each `*_route` parses the request and answers through `http_util.Respond`; the work is
done by `*_impl` methods that return plain data (the command line uses the same
analysis). Routes are documented in http_api.md.
"""

import logging
import os
import threading
import time

from werkzeug import wrappers

from tensorboard import errors
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin

from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.serving import documents
from tb_sparsity_plugin.analysis import exports
from tb_sparsity_plugin.reading import logdir_files
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.analysis import quality
from tb_sparsity_plugin.reading import reader as reader_lib
from tb_sparsity_plugin.serving import request_params
from tb_sparsity_plugin.sources import registry
from tb_sparsity_plugin.analysis import schedules

logger = logging.getLogger(__name__)

# The `series` and `summaries` routes' batch limits (http_api.md).
MAX_SERIES_RUNS = 100
MAX_SERIES_LAYERS = 300
MAX_STEP = 10_000_000
IS_ACTIVE_TTL_SECONDS = 10.0
LOGDIR_CHECK_TTL_SECONDS = 10.0
STATIC_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".map": "application/json",
}


def static_dir():
    """The dashboard's files: the installed copy, else frontend/src of a source checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, "static")
    if os.path.isfile(os.path.join(installed, "index.js")):
        return installed
    return os.path.join(os.path.dirname(package), "frontend", "src")


def _runs_and_thresholds(request):
    """The runs (`run=A&run=B...`) and `threshold` flag of a request for several runs."""
    return (request_params.several(request, "run", MAX_SERIES_RUNS),
            request_params.flag(request, "threshold"))


class LogdirUnreadableError(errors.PublicError):
    """The logdir cannot be read (503): the server cannot reach its data, a retry may help."""

    http_code = 503


class SparsityPlugin(base_plugin.TBPlugin):
    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context):
        cache.keep_little_free_memory()
        self._provider = context.data_provider
        self._reader = (
            reader_lib.Reader(self._provider, logdir=getattr(context, "logdir", None),
                              scan_ahead=True)
            if self._provider
            else None
        )
        self._documents = documents.RunDocuments(self._reader) if self._reader else None
        self._static_dir = os.path.realpath(static_dir())
        self._active_lock = threading.Lock()
        self._active = (0.0, False)
        self._logdir = getattr(context, "logdir", None)
        self._logdir_check_lock = threading.Lock()
        self._logdir_check = (-LOGDIR_CHECK_TTL_SECONDS, None)  # (monotonic time, problem)

    # -- TensorBoard's plugin interface ---------------------------------------------

    def get_plugin_apps(self):
        return {
            "/index.js": self.index_js_route,
            "/static/*": self.static_route,
            "/runs": self.runs_route,
            "/run": self.run_route,
            "/summaries": self.summaries_route,
            "/series": self.series_route,
            "/schedule": self.schedule_route,
            "/metrics": self.metrics_route,
            "/quality": self.quality_route,
            "/table": self.table_route,
            "/export": self.export_route,
        }

    def data_plugin_names(self):
        # Our own summaries activate the tab at no cost; tfmot's scalars need
        # is_active() below.
        return (metadata.PLUGIN_NAME,)

    def is_active(self):
        """Whether any run holds tfmot sparsity tags (cached: called on every listing)."""
        if self._reader is None:
            return False
        with self._active_lock:
            checked_at, active = self._active
        if active or time.monotonic() - checked_at < IS_ACTIVE_TTL_SECONDS:
            return active
        try:
            active = self._reader.has_sparsity_data(RequestContext(), "")
        except Exception:  # a listing failure must not break TensorBoard's plugin list
            logger.warning("sparsity: is_active listing failed", exc_info=True)
            active = False
        with self._active_lock:
            self._active = (time.monotonic(), active)
        return active

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(
            es_module_path="/index.js", tab_name=metadata.TAB_NAME
        )

    # -- implementations (plain data) ------------------------------------------------

    def _required_documents(self):
        """The encoded-documents cache (FailedPreconditionError without a data provider)."""
        self._require_reader()
        return self._documents

    def _require_reader(self):
        if self._reader is None:
            raise errors.FailedPreconditionError("TensorBoard gave the plugin no data provider")
        return self._reader

    def runs_impl(self, ctx, experiment_id):
        runs = self._require_reader().list_runs(ctx, experiment_id)
        return {
            "runs": [
                {
                    "run": r.run,
                    "group": r.group,
                    "num_layers": r.num_layers,
                    "schedule_source": r.source,
                    "last_step": r.last_step,
                    "framework": r.framework,
                    "source_label": registry.label(r.source),
                }
                for r in runs
            ]
        }

    def run_impl(self, ctx, experiment_id, run, thresholds=False):
        return run_document.analyze_run(self._read_run(ctx, experiment_id, run, thresholds), thresholds)

    def _read_run(self, ctx, experiment_id, run, thresholds=False):
        data = self._require_reader().read_run(ctx, experiment_id, run, thresholds=thresholds)
        if data is None:
            raise errors.NotFoundError("no sparsity data for run %r" % run)
        return data

    def _require_run(self, ctx, experiment_id, run):
        if self._require_reader().fingerprint(ctx, experiment_id, run) is None:
            raise errors.NotFoundError("no sparsity data for run %r" % run)

    def metrics_impl(self, ctx, experiment_id, run):
        self._require_run(ctx, experiment_id, run)
        tags = self._reader.scalar_tags(ctx, experiment_id)
        return {"run": run, "metrics": quality.metric_catalog(tags, run)}

    def quality_impl(self, ctx, experiment_id, run, metric_id,
                     tolerance=quality.DEFAULT_TOLERANCE, direction=None):
        run_doc = self.run_impl(ctx, experiment_id, run)
        tags = self._reader.scalar_tags(ctx, experiment_id)
        catalog = quality.metric_catalog(tags, run)
        metric = next((m for m in catalog if m["id"] == metric_id), None)
        if metric is None:
            raise errors.NotFoundError(
                "metric: %r is not a scalar of run %r's group (see metrics?run=...)"
                % (request_params.shorten(metric_id), run))
        series = self._reader.read_metric_series(
            ctx, experiment_id, metric["run"], [metric["tag"]]).get(metric["tag"], [])
        evaluation = {}
        if metric["alignment"] == quality.EPOCH_END:
            for m in catalog:
                if quality.EVALUATION_TAG.match(m["tag"]):
                    evaluation[(m["run"], m["tag"])] = self._reader.read_metric_series(
                        ctx, experiment_id, m["run"], [m["tag"]]).get(m["tag"], [])
                    break  # one tag of the group tells the steps per epoch
        return quality.quality(run_doc, metric, series, evaluation, tolerance, direction)

    def table_impl(self, ctx, experiment_id, run, step=None):
        rows = run_document.state_at(self.run_impl(ctx, experiment_id, run, thresholds=True), step)
        return {"run": run, "step": rows[0]["step"], "rows": rows}

    def schedule_impl(self, class_name, config, max_step, params=None):
        return run_document.analyze_schedule(
            {"class_name": class_name, "config": config}, max_step, params
        )

    # -- routes ------------------------------------------------------------------------

    @wrappers.Request.application
    def runs_route(self, request):
        def impl(ctx, eid):
            doc = self.runs_impl(ctx, eid)
            if not doc["runs"]:  # empty because the logdir cannot be read? Say so.
                self._raise_if_logdir_unreadable()
            return doc

        return self._json(request, impl)

    def _raise_if_logdir_unreadable(self):
        problem = self._logdir_problem()
        if problem:
            raise LogdirUnreadableError(problem[0].upper() + problem[1:] + ".")

    def _logdir_problem(self):
        """Why TensorBoard's logdir cannot be read (a bucket that does not answer, a path
        that does not exist), checked at most every LOGDIR_CHECK_TTL_SECONDS, or None."""
        if self._logdir is None:  # e.g. TensorBoard started with --logdir_spec
            return None
        with self._logdir_check_lock:  # concurrent requests share one check
            checked_at, problem = self._logdir_check
            if time.monotonic() - checked_at >= LOGDIR_CHECK_TTL_SECONDS:
                problem = logdir_files.logdir_problem(self._logdir)
                self._logdir_check = (time.monotonic(), problem)
        return problem

    @wrappers.Request.application
    def run_route(self, request):
        def impl(ctx, eid):
            run = request_params.single(request, "run")
            thresholds = request_params.flag(request, "threshold")
            series = request_params.choice(
                request, "series", (documents.SERIES_ALL, documents.SERIES_NONE),
                documents.SERIES_ALL)
            return self._required_documents().document(ctx, eid, run, thresholds, series)

        return self._json(request, impl)

    @wrappers.Request.application
    def summaries_route(self, request):
        def impl(ctx, eid):
            first_layers = request_params.integer(
                request, "first_layers", 0, MAX_SERIES_LAYERS, required=False) or 0
            return self._required_documents().summaries(
                ctx, eid, *_runs_and_thresholds(request), first_layers)

        return self._json(request, impl)

    @wrappers.Request.application
    def series_route(self, request):
        def impl(ctx, eid):
            runs, thresholds = _runs_and_thresholds(request)
            layers = request_params.several(request, "layer", MAX_SERIES_LAYERS)
            packed = request_params.flag(request, "packed")
            return self._required_documents().series(ctx, eid, runs, layers, thresholds, packed)

        return self._json(request, impl)

    @wrappers.Request.application
    def schedule_route(self, request):
        def impl(ctx, eid):
            class_name = request_params.single(request, "class_name")
            if class_name not in schedules.KNOWN_CLASSES:
                raise errors.InvalidArgumentError(
                    "class_name: must be one of %s" % ", ".join(schedules.KNOWN_CLASSES)
                )
            max_step = request_params.integer(request, "max_step", 1, MAX_STEP)
            params = request_params.integer(request, "params", 1, 10**12, required=False)
            config = {}
            allowed = set(schedules.REQUIRED[class_name]) | set(schedules.DEFAULTS[class_name])
            for key in request.args:
                if key in ("class_name", "max_step", "params"):
                    continue
                if key not in allowed:
                    raise errors.InvalidArgumentError(
                        "%s: not a %s config key (use %s)"
                        % (request_params.shorten(key), class_name, ", ".join(sorted(allowed)))
                    )
                config[key] = request_params.number(request, key)
            return self.schedule_impl(class_name, config, max_step, params)

        return self._json(request, impl)

    @wrappers.Request.application
    def metrics_route(self, request):
        return self._json(request, lambda ctx, eid: self.metrics_impl(
            ctx, eid, request_params.single(request, "run")))

    @wrappers.Request.application
    def quality_route(self, request):
        def impl(ctx, eid):
            run = request_params.single(request, "run")
            metric = request_params.single(request, "metric")
            tolerance = quality.DEFAULT_TOLERANCE
            if request_params.single(request, "tolerance", required=False) is not None:
                tolerance = request_params.number(request, "tolerance")
                if not 0 <= tolerance <= 1e12:
                    raise errors.InvalidArgumentError("tolerance: must be in [0, 1e12]")
            direction = request_params.choice(request, "direction", DIRECTIONS, None)
            return self.quality_impl(ctx, eid, run, metric, float(tolerance),
                                     DIRECTIONS.get(direction))

        return self._json(request, impl)

    @wrappers.Request.application
    def table_route(self, request):
        def impl(ctx, eid):
            run = request_params.single(request, "run")
            step = request_params.integer(request, "step", 0, MAX_STEP, required=False)
            fmt = request_params.choice(request, "format", ("json", "csv"), "json")
            doc = self.table_impl(ctx, eid, run, step)
            if fmt == "json":
                return doc
            return _Download(exports.format_state_csv([(run, doc["rows"])]), "text/csv",
                             "%s_step%d.csv" % (request_params.file_stem(run), doc["step"]))

        return self._json(request, impl)

    @wrappers.Request.application
    def export_route(self, request):
        def impl(ctx, eid):
            run = request_params.single(request, "run")
            fmt = request_params.choice(request, "format", ("json", "csv"), "json")
            doc = self.run_impl(ctx, eid, run, thresholds=True)
            if fmt == "json":  # (its series are run_data.Points: encode_json writes them)
                return documents.EncodedJson(doc)
            return _Download(exports.format_export_csv(doc), "text/csv",
                             "%s_series.csv" % request_params.file_stem(run))

        return self._json(request, impl)

    @wrappers.Request.application
    def index_js_route(self, request):
        return self._static_file(request, "index.js")

    @wrappers.Request.application
    def static_route(self, request):
        # request.path is ".../data/plugin/sparsity/static/<path>" (already URL-decoded).
        path = request.path.split("/static/", 1)[-1] if "/static/" in request.path else ""
        return self._static_file(request, path)

    # -- helpers -------------------------------------------------------------------------

    def _json(self, request, impl):
        """Run `impl(ctx, experiment_id)`; answer JSON, errors as JSON with 4xx."""
        try:
            ctx = plugin_util.context(request.environ)
            eid = plugin_util.experiment_id(request.environ)
            body = impl(ctx, eid)
            if isinstance(body, documents.EncodedJson):
                return http_util.Respond(
                    request, body.gzipped, "application/json", content_encoding="gzip")
            if isinstance(body, _Download):
                return http_util.Respond(
                    request, body.content, body.content_type,
                    headers=[("Content-Disposition", 'attachment; filename="%s"' % body.filename)])
            return http_util.Respond(request, body, "application/json")
        except errors.PublicError as e:
            return http_util.Respond(
                request, {"error": str(e)}, "application/json", code=e.http_code
            )
        except Exception as e:
            # TensorBoard's Python data provider reads files on some calls (a run's first
            # event time): a bucket that stopped answering raises from there. Say that;
            # anything else is a bug, said as such rather than with a bare 500 page.
            try:
                self._raise_if_logdir_unreadable()
            except LogdirUnreadableError as unreadable:
                return http_util.Respond(request, {"error": str(unreadable)},
                                         "application/json", code=unreadable.http_code)
            logger.exception("sparsity plugin: %s failed", request.path)
            return http_util.Respond(
                request,
                {"error": "internal error in the sparsity plugin: %s" % type(e).__name__},
                "application/json",
                code=500,
            )

    def _static_file(self, request, relpath):
        resolved = self._resolve_static(relpath)
        if resolved is None:
            return http_util.Respond(
                request, {"error": "not found"}, "application/json", code=404
            )
        ext = os.path.splitext(resolved)[1].lower()
        with open(resolved, "rb") as f:
            content = f.read()
        return http_util.Respond(request, content, STATIC_TYPES[ext])

    def _resolve_static(self, relpath):
        """The real path of a file inside the static dir, or None (traversal, unknown type)."""
        if not relpath or len(relpath) > 300 or "\x00" in relpath or "\\" in relpath:
            return None
        if relpath.startswith("/") or ":" in relpath:
            return None
        parts = relpath.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        if os.path.splitext(relpath)[1].lower() not in STATIC_TYPES:
            return None
        candidate = os.path.realpath(os.path.join(self._static_dir, *parts))
        if os.path.commonpath([candidate, self._static_dir]) != self._static_dir:
            return None
        return candidate if os.path.isfile(candidate) else None


DIRECTIONS = {"higher": quality.HIGHER, "lower": quality.LOWER}


class _Download:
    """A non-JSON answer of a data route (CSV), sent as an attachment."""

    def __init__(self, content, content_type, filename):
        self.content = content
        self.content_type = content_type
        self.filename = filename
