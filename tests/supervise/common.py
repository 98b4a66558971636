"""Shared pieces of the supervisor tests (tests/supervise/*.py).

Each test is a script: exit 0 passes, 77 skips (a tool is missing), anything
else fails with the reason on stderr. Everything a test starts runs in a
process group of its own, under a temporary directory, on ports the kernel
chose, and is killed by process group when the test ends.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Fail(Exception):
    pass


def log(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr,
          flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.02):
    """Polls `predicate` until it returns a true value; Fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def http_get(port, timeout=2.0):
    """The body of GET / on 127.0.0.1:port, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return body.decode() if head.startswith(b"HTTP/1.") else None


def write_body(path, version):
    """Atomically, as a deploy would."""
    with open(path + ".tmp", "w") as f:
        f.write(f"version {version} of supervise\n")
    os.rename(path + ".tmp", path)


def proc_table():
    """{pid: (ppid, comm, state)} of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), comm, fields[0])
    return table


def descendants(root):
    """The pids below `root` (not root itself)."""
    table = proc_table()
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def processes_named(name):
    return [pid for pid, (_, comm, state) in proc_table().items()
            if comm == name and state != "Z"]


def cmdline_has(pid, text):
    """Whether /proc/PID/cmdline contains `text`."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return text.encode() in f.read()
    except OSError:
        return False


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Load:
    """The project's load client, closed loop, until stop()."""

    def __init__(self, loadclient, port, clients=8):
        self.proc = subprocess.Popen(
            [loadclient, "--target", f"tcp:127.0.0.1:{port}", "--clients",
             str(clients), "--expect-monotonic"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)

    def stop(self):
        """The summary fields (requests, ok, failed, ...) and body counts."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        lines = out.splitlines()
        if not lines or not lines[0].startswith("requests="):
            raise Fail(f"load client printed no summary: {out!r} {err!r}")
        summary = dict(item.split("=", 1) for item in lines[0].split())
        summary["bodies"] = lines[1:]
        summary["stderr"] = err
        summary["exit"] = self.proc.returncode
        return summary


def check_load(summary, what, backwards_ok=False):
    log(f"{what}: requests={summary['requests']} failed={summary['failed']} "
        f"refused={summary['refused']} max_ms={summary['max_ms']} "
        f"backwards={summary['backwards']}")
    if int(summary["requests"]) == 0:
        raise Fail(f"{what}: no request was made")
    backwards = 0 if backwards_ok else int(summary["backwards"])
    if int(summary["failed"]) != 0 or backwards != 0:
        raise Fail(f"{what}: {summary['failed']} failed, "
                   f"{summary['backwards']} went back to an older version\n"
                   f"{summary['stderr'][-2000:]}")


class Group:
    """Processes started by the test, each in a new session; all killed by
    process group at the end."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def kill_all(self):
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def arguments(extra=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--huptime", required=True)
    parser.add_argument("--helpers", required=True,
                        help="the build directory of tests/helpers")
    for name in extra or []:
        parser.add_argument(name)
    return parser.parse_args()


def run(test):
    """Runs test(args, tmp, group); exit status as the module says."""
    args = arguments(getattr(test, "extra_args", None))
    group = Group()
    status = 1
    with tempfile.TemporaryDirectory(prefix="huptime-supervise-") as tmp:
        try:
            test(args, tmp, group)
            log("PASS")
            status = 0
        except Skip as skip:
            log(f"SKIP: {skip}")
            status = SKIP
        except Fail as failure:
            log(f"FAIL: {failure}")
        finally:
            group.kill_all()
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    with open(os.path.join(tmp, name), errors="replace") as f:
                        tail = f.read()[-3000:]
                    if status != 0 and tail:
                        print(f"---- {name} (tail)\n{tail}", file=sys.stderr)
    sys.exit(status)


class Skip(Exception):
    pass


def need(tool):
    from shutil import which
    path = which(tool)
    if not path:
        raise Skip(f"{tool} is not installed")
    return path


def master_lines(log_path):
    with open(log_path, errors="replace") as f:
        return [line for line in f if re.search(r"huptime\[\d+\]: master:",
                                                line)]
