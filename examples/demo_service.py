"""The demo's service: hello_server under huptime, watched through its log.

Used by examples/demo.py.
"""

import os
import re
import signal
import socket
import subprocess
import time

from demo_procs import is_descendant, our_children, reap, wait_exit

READY = re.compile(r"^huptime\[(\d+)\]: ready \(generation (\d+), (\d+) listeners?\)")
FAILED = re.compile(r"^huptime\[\d+\]: (error: )?(new copy .*failed|re-exec failed).*")
ANY_PID = re.compile(r"^huptime\[(\d+)\]:")

READY_TIMEOUT = 15.0  # one reload: SIGHUP to ready, and the version answers
STOP_TIMEOUT = 35.0  # the library's drain limit is 30 s


class DemoError(Exception):
    pass


class Log:
    """Reads a log file as it grows; waits for a matching line."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "r", errors="replace")
        self.lines = []
        self.pending = ""

    def poll(self):
        chunk = self.file.read()
        if not chunk:
            return
        self.pending += chunk
        *complete, self.pending = self.pending.split("\n")
        self.lines.extend(complete)

    def wait_for(self, predicate, deadline, what, start=0, check=None):
        """Index and match of the first line from `start` on for which
        predicate(line) returns a truthy match, before `deadline`. `check`
        returns a reason to give up, or None; it runs before each read, so
        that what was logged before giving up is still seen."""
        index = start
        while True:
            give_up = check() if check else None
            self.poll()
            while index < len(self.lines):
                match = predicate(self.lines[index])
                if match:
                    return index, match
                index += 1
            if give_up:
                raise DemoError(give_up)
            if time.monotonic() > deadline:
                raise DemoError(f"timed out waiting for {what}")
            time.sleep(0.005)

    def pids(self):
        self.poll()
        return {int(m.group(1)) for m in map(ANY_PID.match, self.lines) if m}


def write_version(path, version):
    """Atomically, so a starting copy never reads a half-written file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{version}\n")
    os.rename(tmp, path)


def fetch(port):
    """The body of one GET / (no HTTP library: no proxy settings apply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200 "):
        return ""
    return body.decode(errors="replace")


def wait_for_version(port, version, deadline):
    """Until a fresh request is answered by `version`."""
    expected = f"hello from version {version} "
    while True:
        try:
            if fetch(port).startswith(expected):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DemoError(f"version {version} never answered")
        time.sleep(0.005)


class Service:
    """hello_server under huptime, and every pid its log mentions."""

    def __init__(self, args, mode, workdir, port):
        self.mode = mode
        self.port = port
        self.version_file = os.path.join(workdir, f"{mode}.version")
        self.log_path = os.path.join(workdir, f"{mode}.log")
        write_version(self.version_file, f"{mode}-1")
        log_file = open(self.log_path, "w")
        command = [
            os.path.join(args.build, "launcher", "huptime"), f"--{mode}",
            os.path.join(args.build, "examples", "hello_server"),
            "--port", str(port), "--version-file", self.version_file,
        ]
        self.launched = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        self.log = Log(self.log_path)
        self.pid = self.launched.pid
        self.generation = 0
        self.seen_to = 0

    def wait_ready(self, old_pid, deadline, first=False):
        """The next `ready` line of a newer generation (after a reload in
        fork mode, of another pid): the new generation claimed the listener
        and waits on it. Sets self.pid and self.generation. Gives up early
        when the log reports a failed reload or old_pid exits."""
        def newer(line):
            failure = FAILED.match(line)
            if failure:
                raise DemoError(f"reload failed: {line}")
            m = READY.match(line)
            if m and int(m.group(2)) > self.generation and (
                    first or self.mode == "exec" or
                    int(m.group(1)) != old_pid):
                return m
            return None
        def service_exited():
            # Not pid_alive(): while a thread other than the main one execs,
            # the main thread is briefly a zombie. Every copy of the service
            # is our child or orphaned to us, so reap() clears a real exit.
            reap(old_pid)
            try:
                os.kill(old_pid, 0)
                return None
            except ProcessLookupError:
                pass
            last = self.log.lines[-1] if self.log.lines else ""
            return f"the service (pid {old_pid}) exited; last log line: {last}"
        index, m = self.log.wait_for(newer, deadline, "the ready line",
                                     self.seen_to, service_exited)
        self.seen_to = index + 1
        self.pid, self.generation = int(m.group(1)), int(m.group(2))

    def start(self):
        self.wait_ready(self.launched.pid, time.monotonic() + READY_TIMEOUT,
                        first=True)
        wait_for_version(self.port, f"{self.mode}-1",
                         time.monotonic() + READY_TIMEOUT)

    def reload(self, number):
        version = f"{self.mode}-{number}"
        write_version(self.version_file, version)
        started = time.monotonic()
        deadline = started + READY_TIMEOUT
        # Master mode: the resident huptime restarts its child; its own pid
        # is the one a supervisor knows, and never changes.
        target = self.launched.pid if self.mode == "master" else self.pid
        os.kill(target, signal.SIGHUP)
        self.wait_ready(self.pid, deadline)
        wait_for_version(self.port, version, deadline)
        return time.monotonic() - started

    def stop(self):
        """SIGTERM to every copy still alive (normally only the current
        one); waits for them to exit. Returns the pids that would not exit
        (then killed)."""
        pids = self.log.pids() | {self.launched.pid}
        for pid in sorted(pids):
            if is_descendant(pid, pids):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        left = wait_exit(sorted(pids), time.monotonic() + STOP_TIMEOUT)
        # A copy started too late to be logged was orphaned to us meanwhile.
        late = [pid for pid in our_children() if pid != self.launched.pid]
        for pid in late:
            os.kill(pid, signal.SIGTERM)
        left += wait_exit(late, time.monotonic() + STOP_TIMEOUT)
        for pid in left:
            if is_descendant(pid, pids | set(late)):
                os.kill(pid, signal.SIGKILL)
        wait_exit(left, time.monotonic() + 5)
        self.launched.wait(timeout=5)
        return left
