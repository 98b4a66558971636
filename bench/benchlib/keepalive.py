"""Instructions per nginx request, plainly and under the preload
(valgrind --tool=callgrind, deterministic): what the steady nginx rows
should show, without the machine's noise.

nginx runs as one process (master_process off, the bench's configuration
otherwise: `return 200` from the configuration), and a client sends N
requests, either on one kept-alive connection (like wrk) or each on a
connection of its own (like the load client); (I(N2) - I(N1)) / (N2 - N1)
is one request's cost in user space. On a kept-alive connection no hook
runs, but the preload's restart thread makes the process multi-threaded,
and glibc's multi-threaded paths (asynchronous cancellation around every
cancellable system call: epoll_wait, recv, writev...; malloc's locking)
cost more. A connection per request adds the accept4 and close hooks.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from . import common
from .servers import NGINX_CONF, version_text

REQUESTS = (500, 2500)


def one_run(paths, preload, requests, fresh):
    """Instructions callgrind counted in the nginx process over a run of
    `requests` requests, each on a new connection when `fresh`, else all
    on one kept alive."""
    workdir = common.make_tempdir("keepalive-nginx")
    try:
        os.makedirs(os.path.join(workdir, "tmp"))
        port = common.free_port()
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                dir=workdir, port=port, text=version_text("nginx", 0))
                .replace("master_process on;", "master_process off;"))
        argv = ["valgrind", "--tool=callgrind",
                "--callgrind-out-file=/dev/null", "--trace-children=yes"]
        if preload:
            argv += [paths.huptime, "--"]
        argv += [shutil.which("nginx"), "-p", workdir, "-c", conf, "-e",
                 "stderr"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            conn = connect(port, proc, time.monotonic() + 60)
            for _ in range(requests):
                if fresh:
                    conn.close()
                    conn = connect(port, proc, time.monotonic() + 60)
                conn.request("GET", "/")
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"nginx answered {answer.status}")
            conn.close()
            err = quit_nginx(proc, port)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        counts = re.findall(r"Collected\s*:\s*(\d+)", err)
        if not counts:
            raise RuntimeError(f"callgrind nginx: {err[-300:]}")
        return int(counts[-1])
    finally:
        common.remove_tempdir(workdir)


def quit_nginx(proc, port):
    """SIGQUIT (graceful: callgrind writes its counts at the exit), and a
    connection every half second to wake nginx's epoll_wait: one process
    that caught the signal outside the wait sleeps in it with no timer
    set. Its stderr."""
    os.kill(proc.pid, signal.SIGQUIT)
    for _ in range(60):
        try:
            _, err = proc.communicate(timeout=0.5)
            return err
        except subprocess.TimeoutExpired:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
            except OSError:
                pass
    raise RuntimeError("nginx under callgrind did not exit on SIGQUIT")


def connect(port, proc, deadline):
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.connect()
            return conn
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx under callgrind did not answer")
            time.sleep(0.2)


def nginx_requests(paths):
    """{"keepalive"|"fresh": {"plain": I/request, "preload": I/request,
    "extra": ...}} or None without valgrind or nginx."""
    if not shutil.which("valgrind") or not shutil.which("nginx"):
        return None
    few, many = REQUESTS
    out = {}
    for kind, fresh in (("keepalive", False), ("fresh", True)):
        row = out[kind] = {}
        for variant, preload in (("plain", False), ("preload", True)):
            row[variant] = (one_run(paths, preload, many, fresh) -
                            one_run(paths, preload, few, fresh)) / \
                (many - few)
        row["extra"] = row["preload"] - row["plain"]
        common.log(f"  nginx request ({kind}): {row['plain']:.0f} vs "
                   f"{row['preload']:.0f} instructions ({row['extra']:+.0f},"
                   f" x{row['preload'] / row['plain']:.3f})")
    return out
