"""Instructions per keep-alive request of nginx, plainly and under the
preload (valgrind --tool=callgrind, deterministic): what the steady
nginx/wrk row costs when no connection is accepted or closed.

nginx runs as one process (master_process off, the bench's configuration
otherwise: `return 200` from the configuration), and a client on one
keep-alive connection sends N requests; (I(N2) - I(N1)) / (N2 - N1) is
one request's cost in user space. No hook runs per such request, but the
preload's restart thread makes the process multi-threaded, and glibc's
multi-threaded paths (asynchronous cancellation around every cancellable
system call: epoll_wait, recv, writev...; malloc's locking) cost more:
this row puts a number on it.
"""

import http.client
import os
import re
import shutil
import signal
import subprocess
import time

from . import common
from .servers import NGINX_CONF, version_text

REQUESTS = (500, 2500)


def one_run(paths, preload, requests):
    """Instructions callgrind counted in the nginx process over a run of
    `requests` keep-alive requests."""
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
                conn.request("GET", "/")
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"nginx answered {answer.status}")
            conn.close()
            os.kill(proc.pid, signal.SIGQUIT)  # graceful: callgrind dumps
            _, err = proc.communicate(timeout=60)
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


def nginx_keepalive(paths):
    """{"plain": I/request, "preload": I/request, "extra": ...} or None
    without valgrind or nginx."""
    if not shutil.which("valgrind") or not shutil.which("nginx"):
        return None
    few, many = REQUESTS
    out = {}
    for variant, preload in (("plain", False), ("preload", True)):
        out[variant] = (one_run(paths, preload, many) -
                        one_run(paths, preload, few)) / (many - few)
    out["extra"] = out["preload"] - out["plain"]
    common.log(f"  nginx keep-alive request: {out['plain']:.0f} vs "
               f"{out['preload']:.0f} instructions ({out['extra']:+.0f}, "
               f"x{out['preload'] / out['plain']:.3f})")
    return out
