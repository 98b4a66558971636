"""Restart under load: one row per (server, method). Each row starts the
server, times its start-up (spawn to first answer), puts it under load from
the tracer (closed loop, one request per connection), restarts it a few
times at a fixed interval, stops the load and judges the trace
(trace.py).

Methods:
  fork, exec    huptime --fork / --exec, restarted with SIGHUP
  master        huptime --master (when the launcher has it): see
                HUPTIME_MASTER below; one more entry in ROWS
  stop+start    SIGTERM, wait for the exit, start again
  nginx-reload  nginx -s reload after rewriting its configuration
  gunicorn-hup  SIGHUP to gunicorn's master (new workers, old ones drain)
"""

import os
import re
import signal
import subprocess
import time

from . import common, trace
from .servers import SERVERS

# (server, method). The --master rows are added by rows() when the
# launcher supports the mode.
ROWS = [
    ("cpp-epoll", "fork"), ("cpp-epoll", "exec"),
    ("python-http", "fork"), ("python-http", "exec"),
    ("nginx", "fork"), ("nginx", "exec"),
    ("cpp-epoll", "stop+start"), ("python-http", "stop+start"),
    ("nginx", "nginx-reload"), ("gunicorn", "gunicorn-hup"),
]
# HOOK for --master (huptime --master CMD, being added): when
# `huptime --help` lists it, these rows run too. Its restart is SIGHUP to
# the pid the launcher started (the master stays); the switch is seen by
# the new version's body, or by the log line MASTER_SWITCHED when the
# server has no versions.
MASTER_ROWS = [("cpp-epoll", "master"), ("python-http", "master"),
               ("nginx", "master")]
MASTER_SWITCHED = r"huptime\[\d+\]: ready \(generation"

# Start-ups measured besides the service's own (extra_startups): with it,
# as many as there are restarts in a full run, so that exec's windows are
# compared with as many fresh start-ups (report.exec_targets).
STARTUP_EXTRA = 7

# Fork and --master rows also start the same command beside the service
# once per restart, BESIDE_AFTER_S after the restart was seen (the old
# generation has drained by then), and well before the next restart's
# control window (Row.beside_window, trace.py).
BESIDE_METHODS = ("fork", "master")
BESIDE_AFTER_S = 0.1

READY = re.compile(r"huptime\[(\d+)\]: ready \(generation (\d+)")


def huptime_modes(paths):
    """The restart modes `huptime --help` lists."""
    _, out, err = common.run_quiet([paths.huptime, "--help"], 10)
    return {m for m in ("fork", "exec", "master") if f"--{m}" in out + err}


def rows(paths):
    out = list(ROWS)
    if "master" in huptime_modes(paths):
        out += MASTER_ROWS
    return out


class Row:
    def __init__(self, paths, server_name, method, restarts, interval):
        self.paths = paths
        self.method = method
        self.restarts = restarts
        self.interval = interval
        self.dir = common.make_tempdir(f"{server_name}-{method}")
        self.port = common.free_port()
        self.server = SERVERS[server_name](paths, self.dir, self.port)
        self.service = None
        self.leader = None
        self.done = []  # trace.Restart
        self.beside = []  # (lo, hi) ns: beside_window()

    # --- starting -------------------------------------------------------
    def command(self):
        argv = self.server.argv()
        if self.method in ("fork", "exec", "master"):
            return [self.paths.huptime, f"--{self.method}", "--"] + argv
        return argv

    def start_beside(self):
        """Starts the same command once more, in a directory and on a port
        of its own, and stops it as soon as it answers: (spawn time in
        CLOCK_MONOTONIC ns, ms from spawn to its first answer or None)."""
        workdir = common.make_tempdir(f"{self.server.name}-startup")
        server = type(self.server)(self.paths, workdir, common.free_port())
        server.set_version(0)
        argv = server.argv()
        if self.method in ("fork", "exec", "master"):
            argv = [self.paths.huptime, f"--{self.method}", "--"] + argv
        service = common.Service(argv, env=dict(os.environ,
                                                HUPTIME_LOG="info"),
                                 cwd=workdir, name=server.name)
        try:
            return service.started_ns, service.wait_serving(server.port,
                                                            server.path)
        finally:
            service.stop()
            common.remove_tempdir(workdir)

    def extra_startups(self, count):
        """Start-up times (ms) of `count` more starts of the same command:
        one sample is too few on a shared machine, where the same start
        varies by tens of ms from one second to the next."""
        samples = [self.start_beside()[1] for _ in range(count)]
        return [ms for ms in samples if ms is not None]

    def beside_window(self):
        """Fork and --master: the same command started beside the service
        under load, with no restart (a *beside* window: from its spawn to
        its first answer). The service's no-answer intervals there are
        what any new copy's start-up costs the old one on this machine
        (trace.py); the restart windows are compared with them."""
        started_ns, ms = self.start_beside()
        if ms is not None:
            self.beside.append((started_ns, started_ns + int(ms * 1e6)))
    def start(self):
        # Debug lines carry their time (trace.SWITCH_EVENTS); a handful
        # per restart, none per request.
        level = "debug" if self.method in ("fork", "master") else "info"
        env = dict(os.environ, HUPTIME_LOG=level)
        self.service = common.Service(self.command(), env=env, cwd=self.dir,
                                      name=self.server.name)
        self.leader = self.service.proc.pid
        startup_ms = self.service.wait_serving(self.port, self.server.path)
        if startup_ms is None:
            raise RuntimeError(f"{self.server.name} ({self.method}) did not "
                               f"serve within 20 s: "
                               f"{self.service.lines[-5:]}")
        if self.method in ("fork", "exec", "master"):
            self.service.wait_line(lambda t: READY.search(t), 0, 10)
        return startup_ms

    # --- one restart ----------------------------------------------------
    def restart(self, n):
        self.server.set_version(n)
        key = self.server.body_key(n)
        mark = self.service.line_count()
        signal_ns = time.monotonic_ns()
        r = trace.Restart(signal_ns, body_key=key)
        getattr(self, "restart_" + self.method.replace("+", "_")
                .replace("-", "_"))(r, mark)
        self.done.append(r)

    def restart_fork(self, r, mark):
        os.kill(self.leader, signal.SIGHUP)
        pattern = re.compile(
            rf"huptime\[{self.leader}\]: new copy pid (\d+) is ready")
        found = self.service.wait_line(lambda t: pattern.search(t), mark, 30)
        if found:
            r.logged_ns = found[1]
            self.leader = int(pattern.search(found[2]).group(1))

    def restart_exec(self, r, mark):
        os.kill(self.leader, signal.SIGHUP)
        reexec = self.service.wait_line(
            lambda t: f"huptime[{self.leader}]: re-executing" in t, mark, 30)
        if reexec:
            r.exec_ns = reexec[1]
            # Bounded by the service's life: a re-executed image that dies
            # (nginx) never says it is ready. Its life is checked only
            # after a wait: session_members() reads every /proc/PID/stat,
            # CPU time the new image's start-up should not have to share.
            found = None
            end = time.monotonic() + 30
            while not found and time.monotonic() < end:
                found = self.service.wait_line(lambda t: READY.search(t),
                                               reexec[0] + 1, 0.5)
                if not found and not common.session_members(self.service.sid):
                    break
            if found:
                r.logged_ns = found[1]

    def restart_master(self, r, mark):
        os.kill(self.leader, signal.SIGHUP)
        found = self.service.wait_line(
            lambda t: re.search(MASTER_SWITCHED, t), mark, 30)
        if found:
            r.logged_ns = found[1]

    def restart_stop_start(self, r, mark):
        self.service.stop(signal.SIGTERM)
        r.old_gone_ns = time.monotonic_ns()
        self.service = common.Service(self.command(), cwd=self.dir,
                                      name=self.server.name)
        self.leader = self.service.proc.pid
        self.service.wait_serving(self.port, self.server.path)

    def restart_nginx_reload(self, r, mark):
        common.run_quiet(self.server.reload_argv(), 30)

    def restart_gunicorn_hup(self, r, mark):
        os.kill(self.leader, signal.SIGHUP)

    # --- the whole row --------------------------------------------------
    def run(self, clients):
        self.server.set_version(0)
        try:
            startup_ms = self.start()
            out = os.path.join(self.dir, "trace.txt")
            budget = 2 + self.restarts * (self.interval + 2)
            tracer = subprocess.Popen(
                [self.paths.tracer, "--target", f"tcp:127.0.0.1:{self.port}",
                 "--clients", str(clients), "--duration", str(budget),
                 "--out", out, "--path", self.server.path,
                 "--timeout-ms", "10000"])
            time.sleep(0.5)
            for n in range(1, self.restarts + 1):
                if not common.session_members(self.service.sid):
                    break  # the service died: nothing left to restart
                t0 = time.monotonic()
                self.restart(n)
                if self.method in BESIDE_METHODS:
                    time.sleep(BESIDE_AFTER_S)
                    self.beside_window()
                time.sleep(max(0.0, self.interval - (time.monotonic() - t0)))
            time.sleep(0.3)
            tracer.send_signal(signal.SIGTERM)
            tracer.wait(timeout=30)
            requests, bodies = trace.read_trace(out)
            trace.note_switch_events(self.done,
                                     [t for _, t in self.service.lines])
            result = trace.judge(requests, bodies, self.done, self.beside)
            # The one start-up of the service under test is kept; it and
            # STARTUP_EXTRA more are what exec's windows are compared with
            # (report.py: median with median, worst with slowest).
            samples = [startup_ms] + self.extra_startups(STARTUP_EXTRA)
            result["startup_ms"] = startup_ms
            result["startup_samples_ms"] = samples
            result["startup_median_ms"] = common.median(samples)
            result["alive"] = bool(common.session_members(self.service.sid))
            if not result["alive"]:
                result["last_lines"] = [t.rstrip() for _, t in
                                        self.service.lines[-3:]]
            return result
        finally:
            if self.service:
                self.service.stop()
            common.remove_tempdir(self.dir)


def run_all(paths, restarts, interval, clients, only=None):
    results = []
    for server_name, method in rows(paths):
        if only and f"{server_name}/{method}" not in only and \
                server_name not in only and method not in only:
            continue
        row = Row(paths, server_name, method, restarts, interval)
        if not row.server.available():
            common.log(f"  {server_name} {method}: skipped (not installed)")
            continue
        common.log(f"  {server_name} {method}: {restarts} restarts ...")
        try:
            result = row.run(clients)
        except Exception as error:  # a row that fails is reported, not fatal
            common.log(f"  {server_name} {method}: FAILED: {error}")
            result = {"error": str(error)}
        result.update(server=server_name, method=method)
        if "error" not in result:
            common.log(
                f"    requests={result['requests']} failed={result['failed']}"
                f" in max={result['inside']['max']:.2f}ms"
                f" out max={result['outside']['max']:.2f}ms"
                f" gap in/out={result['gap_in_windows_ms']:.2f}/"
                f"{result['gap_outside_ms']:.2f}ms"
                f" to_serving={result['to_serving_median_ms']:.1f}ms"
                f" gap control={result['gap_control_ms']:.2f}ms"
                f" beside={result['gap_beside_ms']:.2f}ms"
                f" startup={result['startup_ms']:.1f}ms (median of "
                f"{len(result['startup_samples_ms'])}: "
                f"{result['startup_median_ms']:.1f}ms)"
                + (f" pre/post exec max={max(result['pre_exec_ms']):.2f}/"
                   f"{max(result['post_exec_ms']):.2f}ms"
                   if result["pre_exec_ms"] else "")
                + ("" if result["alive"] else " (service gone)"))
            for t in result["switch"]:
                steps = sorted((v, k) for k, v in t.items() if k != "gap_ms")
                common.log(f"      switch: gap {t['gap_ms']:.2f} ms; " +
                           " ".join(f"{k}={v:.2f}" for v, k in steps))
        results.append(result)
    return results
