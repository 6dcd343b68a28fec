"""The one way tests, benchmarks and scripts/screenshot.py start a real `tensorboard` process.

    from benchmarks.tb_launcher import TensorBoardProcess
    with TensorBoardProcess(logdir, load_fast="true", env={...}, extra_args=[...]) as tb:
        runs = tb.wait_ready(runs_expected=3)        # the Sparsity plugin lists 3 runs
        tb.get_json("/data/plugins_listing")

It lives here, not in the plugin package, because it is tooling: the benchmark was its first
user and this file is also the program the benchmark runs to compare TensorBoard with and
without the plugin (`plugin="with" | "without"`), so the whole launch (flags, environment,
readiness, shutdown) is in one file. Tests (tests/conftest.py) and scripts/screenshot.py
import it from here; it imports only the standard library, so it works in any venv that
has TensorBoard (also scripts/test_oldest_tensorboard.sh's).

What it guarantees:
- a free port without a race: `--port 0` lets the OS pick one, and the URL is read from
  TensorBoard's own "TensorBoard X at URL" line, so the constructor returns once
  TensorBoard listens (or raises, with the tail of its output);
- `--load_fast`, `--path_prefix` and any extra flags (e.g. `--samples_per_plugin`) are
  passed; the environment is the caller's plus `env`, and PYTHONPATH keeps what the caller
  has, with this repository first (or removed, for `plugin="without"`);
- `wait_ready` / `wait_until` poll with a timeout and end in an error that says what was
  awaited and shows TensorBoard's output tail;
- the process runs in its own session and `stop()` ends the whole group (TensorBoard and
  the Rust data server it starts); `stop()` also runs from `with`, and at interpreter exit
  for anything a caller forgot.

Run as a script it is that `with|without` program:

    python benchmarks/tb_launcher.py with|without --logdir D --port P ...

builds `tensorboard.program.TensorBoard(plugins=default.get_plugins())` the way
`tensorboard.main` does, drops any `sparsity` plugin an installed entry point brought in,
and appends `SparsityPlugin` only for `with`. Run as a script (not `-m`) so that the
repository is not on sys.path unless the caller puts it there: the `without` process never
imports tb_sparsity_plugin.
"""

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING = re.compile(r"TensorBoard \S+ at (http://\S+?)/? \(Press CTRL\+C to quit\)")
_RUNNING = set()  # processes to end at interpreter exit if their owner did not


class TensorBoardProcess:
    """A real `tensorboard` on a free local port, started by the constructor.

    plugin: "installed" runs `python -m tensorboard.main` (the plugin comes from its entry
    point, as for a user); "with" / "without" run this file, which adds or removes it.
    reload_interval: seconds, or None for TensorBoard's default.
    """

    def __init__(self, logdir, load_fast="false", *, plugin="installed", path_prefix="",
                 extra_args=(), env=None, log_path=None, reload_interval=1,
                 startup_timeout=180):
        self.logdir = logdir if "://" in logdir else os.path.abspath(logdir)
        self.path_prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        args = ["--logdir", self.logdir, "--host", "127.0.0.1", "--port", "0",
                "--load_fast", load_fast]
        if self.path_prefix:
            args += ["--path_prefix", self.path_prefix]
        if reload_interval is not None:
            args += ["--reload_interval", str(reload_interval)]
        if plugin == "installed":
            command = [sys.executable, "-m", "tensorboard.main"]
        elif plugin in ("with", "without"):
            command = [sys.executable, os.path.abspath(__file__), plugin]
        else:
            raise ValueError("plugin must be installed, with or without: %r" % (plugin,))
        self._own_log = log_path is None
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix="tensorboard-", suffix=".log")
            os.close(fd)
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            command + args + list(extra_args), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=_environment(plugin, env), cwd=ROOT,
            start_new_session=True)
        _RUNNING.add(self)
        try:
            self.url = self.wait_until(self._serving_url, startup_timeout,
                                       "the 'TensorBoard ... at URL' line")
        except BaseException:
            self.stop()
            raise
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- requests -------------------------------------------------------------------------

    def get(self, path, timeout=30):
        """(status, body) of GET `path` (relative to the path prefix)."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.status, r.read()

    def get_json(self, path, timeout=30):
        return json.loads(self.get(path, timeout)[1])

    # -- readiness ------------------------------------------------------------------------

    def wait_until(self, check, timeout, what):
        """check()'s first result that is not None, polled every 0.5 s; an error with
        TensorBoard's output if it exits or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("tensorboard exited with code %s while we waited for %s\n%s"
                                   % (self.proc.returncode, what, self.output_tail()))
            try:
                result = check()
                if result is not None:
                    return result
            except Exception as e:  # not up yet; kept for the message
                last_error = e
            if time.monotonic() > deadline:
                raise TimeoutError("tensorboard (%s) gave no %s within %d s%s\n%s" % (
                    " ".join(self.proc.args[1:]), what, timeout,
                    " (last error: %r)" % last_error if last_error else "",
                    self.output_tail()))
            time.sleep(0.5)

    def wait_ready(self, runs_expected=1, timeout=120):
        """The Sparsity plugin's run list, once it has at least `runs_expected` runs
        (TensorBoard ingests asynchronously)."""
        def listed():
            runs = self.get_json("/data/plugin/sparsity/runs", timeout=10)["runs"]
            return runs if len(runs) >= runs_expected else None

        return self.wait_until(listed, timeout, "%d sparsity run(s)" % runs_expected)

    # -- output and shutdown --------------------------------------------------------------

    def log(self):
        """Everything TensorBoard wrote to stdout and stderr so far."""
        if not self._log.closed:
            self._log.flush()
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def output_tail(self, lines=40):
        tail = self.log().splitlines()[-lines:]
        return "--- tensorboard output, last %d lines (%s) ---\n%s" % (
            len(tail), self.log_path, "\n".join(tail))

    def _serving_url(self):
        match = SERVING.search(self.log())
        return match.group(1) if match else None

    def stop(self):
        """End TensorBoard and its children (idempotent); removes a log we created."""
        _RUNNING.discard(self)
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
                try:
                    os.killpg(self.proc.pid, sig)  # its own session: TensorBoard + data server
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if not self._log.closed:
            self._log.close()
            if self._own_log:
                try:
                    os.remove(self.log_path)
                except OSError:
                    pass


def _environment(plugin, env):
    """The caller's environment plus `env`; PYTHONPATH with this repository first, or
    without it for the `without` program."""
    full = dict(os.environ)
    paths = [p for p in full.get("PYTHONPATH", "").split(os.pathsep)
             if p and os.path.realpath(p) != os.path.realpath(ROOT)]
    if plugin != "without":
        paths.insert(0, ROOT)
    full["PYTHONPATH"] = os.pathsep.join(paths)
    full.update(env or {})
    return full


@atexit.register
def _stop_leftovers():
    for tb in list(_RUNNING):
        tb.stop()


# -- the `with|without` program -------------------------------------------------------------


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
        from tb_sparsity_plugin.serving.plugin import SparsityPlugin

        plugins.append(SparsityPlugin)
    tb = program.TensorBoard(plugins=plugins)
    tb.configure(argv=["tensorboard"] + argv[1:])
    return tb.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
