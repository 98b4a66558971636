"""What every part of the benchmark shares: where the built programs are,
free ports, temporary directories, starting a service in a session of its
own and ending exactly the processes of that session, waiting for a first
answer, and medians.

Every wait is bounded; every process started here is ended here, by pid
(the session's members, found in /proc), never by name.
"""

import ctypes
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

PR_SET_CHILD_SUBREAPER = 36


class Paths:
    """The programs of a meson build directory the benchmark runs."""

    def __init__(self, build_dir, source_dir):
        b = os.path.abspath(build_dir)
        self.build = b
        self.source = os.path.abspath(source_dir)
        self.huptime = os.path.join(b, "launcher", "huptime")
        self.library = os.path.join(b, "lib", "libhuptime.so")
        self.srv_epoll = os.path.join(b, "tests", "helpers", "srv_epoll")
        self.loadclient = os.path.join(b, "tests", "helpers", "loadclient")
        self.tracer = os.path.join(b, "bench", "tracer")
        self.hookloop = os.path.join(b, "bench", "hookloop")
        self.startup = os.path.join(b, "bench", "startup")

    def missing(self):
        return [p for p in (self.huptime, self.library, self.srv_epoll,
                            self.loadclient, self.tracer, self.hookloop,
                            self.startup)
                if not os.access(p, os.X_OK if not p.endswith(".so")
                                 else os.R_OK)]


def become_subreaper():
    """Orphans of the services (old copies, daemons) become our children,
    so that none escapes the clean-up and all are reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans():
    """Reaps children that no Popen object waits for (adopted orphans)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def free_port():
    """A TCP port the kernel chose on 127.0.0.1 (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tempdir(name):
    return tempfile.mkdtemp(prefix=f"huptime-bench-{name}-")


def remove_tempdir(path):
    shutil.rmtree(path, ignore_errors=True)


def session_members(sid):
    """Pids of the live processes whose session id is `sid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # fields[0] is the state, [3] the session id (stat fields 3 and 6).
        if int(fields[3]) == sid and (fields[0] != "Z" or execing(entry)):
            members.append(int(entry))
    return members


def execing(pid):
    """Whether a process that shows as a zombie is in fact alive: while a
    thread other than the leader calls execve (huptime's restart thread
    re-executing in place, exec mode), the kernel ends the other threads
    and the leader shows state Z until the exec takes over its pid; it
    still has the exec'ing thread then. A process that really exited has
    only itself left (and stays a zombie: read again, the state of one
    that has just finished exec'ing is no longer Z)."""
    try:
        if len(os.listdir(f"/proc/{pid}/task")) > 1:
            return True
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2:].split()[0] != "Z"
    except OSError:
        return False


def http_ok(port, path="/", timeout=1.0):
    """One HTTP/1.0 GET to 127.0.0.1:port; the body when the status is 200,
    else None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if head.split(b"\r\n")[0].split(b" ")[1:2] != [b"200"]:
        return None
    return body


class Service:
    """A service started in a session of its own, its stderr read on a
    thread: lines kept with the time they arrived (time.monotonic_ns, the
    tracer's clock)."""

    def __init__(self, argv, env=None, cwd=None, name="service"):
        self.name = name
        self.argv = argv
        self.lines = []  # (monotonic_ns, text)
        self.cond = threading.Condition()
        self.started_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        self.sid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            now = time.monotonic_ns()
            with self.cond:
                self.lines.append((now, raw.decode(errors="replace")))
                self.cond.notify_all()

    def wait_line(self, predicate, start=0, timeout=10.0):
        """The first (index, ns, text) from line `start` on that satisfies
        predicate(text), or None after `timeout` seconds."""
        end = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    ns, text = self.lines[i]
                    if predicate(text):
                        return i, ns, text
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def line_count(self):
        with self.cond:
            return len(self.lines)

    def wait_serving(self, port, path="/", timeout=20.0):
        """Polls every 5 ms until a request succeeds; the time from start
        to that answer in ms, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if http_ok(port, path, 0.5) is not None:
                return (time.monotonic_ns() - self.started_ns) / 1e6
            if self.proc.poll() is not None and not session_members(self.sid):
                return None
            time.sleep(0.005)
        return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Ends every process of the session (sig, then SIGKILL)."""
        for attempt_sig in (sig, signal.SIGKILL):
            for pid in session_members(self.sid):
                try:
                    os.kill(pid, attempt_sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                reap_orphans()
                if not session_members(self.sid):
                    break
                time.sleep(0.02)
            if not session_members(self.sid):
                break
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        reap_orphans()
        self.reader.join(timeout=2)


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1,
                   int(round(pct / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def run_quiet(argv, timeout, env=None, input_text=None):
    """Runs a command to completion; (exit status, stdout, stderr)."""
    p = subprocess.run(argv, env=env, input=input_text, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def log(text):
    print(text, flush=True)
