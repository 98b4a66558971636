"""Process bookkeeping for the demo (examples/demo.py).

The demo becomes a child subreaper, so every copy of the service it started
stays its descendant: copies orphaned in fork mode are reparented to it and
reaped here. It only signals processes that are its own descendants.
"""

import ctypes
import os
import sys
import time


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("demo: warning: cannot become a child subreaper", file=sys.stderr)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def parent_pid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def is_descendant(pid, family):
    """True if pid is alive and its parent is this process or one of
    `family`: a service pid from the log, not a stranger that reused it.
    (Copies orphaned in fork mode are reparented to us, the subreaper.)"""
    return pid_alive(pid) and parent_pid(pid) in family | {os.getpid()}


def our_children():
    """Live processes whose parent is this one."""
    me = os.getpid()
    return [int(d) for d in os.listdir("/proc")
            if d.isdigit() and pid_alive(int(d)) and parent_pid(int(d)) == me]


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def exists(pid):
    """True until the process has been reaped (a zombie exists)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_exit(pids, deadline):
    """Waits until every one of `pids` has exited and been reaped: by us,
    as each one is our child or is orphaned to us (the subreaper) when its
    parent exits. Returns those still running at the deadline."""
    while True:
        for pid in pids:
            reap(pid)
        left = [pid for pid in pids if exists(pid)]
        if not left or time.monotonic() > deadline:
            return [pid for pid in left if pid_alive(pid)]
        time.sleep(0.01)


def reap_all():
    """Reaps every child left (copies orphaned to us at the last moment)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
