"""What the supervisor tests check of a service run as `huptime --master`
with srv_prefork (a master process and 2 workers) under a real supervisor:
restarts under load through the supervisor's own signal command, the pid the
supervisor tracks never changes, no doubled workers, and the supervisor's
stop ends every process."""
import os
import time

from common import (Fail, Load, check_load, cmdline_has, descendants,
                    fd_count, http_get, log, wait_for, write_body)

RESTARTS = 10


def service_command(args, port, body):
    return [args.huptime, "--master", "--",
            os.path.join(args.helpers, "srv_prefork"), "--listen",
            f"tcp:127.0.0.1:{port}", "--body-file", body, "--workers", "2"]


def settled_tree(master):
    """The master's processes once they stop changing: srv_prefork's master
    and its 2 workers (old generations drain and exit)."""
    def three():
        tree = descendants(master)
        return tree if len(tree) == 3 else None
    return wait_for(three, 20, f"pid {master} to have exactly 3 processes "
                    "(no doubled workers)")


def restart_under_load(args, port, body, supervisor_pid, signal_service):
    """Restarts RESTARTS times with `signal_service()`; returns the pid the
    supervisor tracks, checked unchanged throughout."""
    master = supervisor_pid()
    wait_for(lambda: http_get(port) == "version 0 of supervise\n", 20,
             "the first answer")
    settled_tree(master)
    fds_before = fd_count(master)
    load = Load(os.path.join(args.helpers, "loadclient"), port)
    try:
        wait_for(lambda: http_get(port), 5, "service under load")
        for version in range(1, RESTARTS + 1):
            write_body(body, version)
            signal_service()
            want = f"version {version} of supervise\n"
            wait_for(lambda: http_get(port) == want, 30,
                     f"restart {version} to serve its version")
            if supervisor_pid() != master:
                raise Fail(f"restart {version}: the supervisor now tracks "
                           f"pid {supervisor_pid()}, not {master}")
        time.sleep(0.2)  # some load on the last version too
    finally:
        summary = load.stop()
    check_load(summary, f"{RESTARTS} restarts through the supervisor")
    settled_tree(master)
    if fd_count(master) != fds_before:
        raise Fail(f"the master's open fds went from {fds_before} to "
                   f"{fd_count(master)}")
    log(f"pid {master} unchanged over {RESTARTS} restarts; 3 processes; "
        f"{fds_before} fds before and after")
    return master


def wait_all_gone(master, port):
    def gone():
        if os.path.exists(f"/proc/{master}"):
            with open(f"/proc/{master}/stat") as f:
                if f.read().split(") ")[1][0] != "Z":
                    return False
        return not [p for p in os.listdir("/proc") if p.isdigit() and
                    cmdline_has(p, f"127.0.0.1:{port}")]
    wait_for(gone, 20, "every process of the service to exit after stop")

