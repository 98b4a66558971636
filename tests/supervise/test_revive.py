#!/usr/bin/env python3
"""--revive: a service that crashes is started again while the master keeps
its listeners open, so clients wait in the listen queue instead of being
refused; revivals back off exponentially and stop at --revive-limit, after
which the master exits the way the service did. Without --revive the master
exits with the service's status at once. A killed master takes the service
with it."""
import os
import re
import signal
import subprocess

from common import (Fail, Load, check_load, cmdline_has, free_port, http_get,
                    log, run, wait_for, write_body)

CRASHES = 4


def count(log_path, pattern):
    with open(log_path, errors="replace") as f:
        return len(re.findall(pattern, f.read()))


def under_load(args, tmp, group):
    """srv_blocking aborts after every 1500 answers (between two accepts,
    so it never drops a connection it accepted)."""
    port = free_port()
    body = os.path.join(tmp, "body")
    write_body(body, 0)
    log_path = os.path.join(tmp, "revive.log")
    master = group.start(
        [args.huptime, "--revive", "--revive-limit=0", "--",
         os.path.join(args.helpers, "srv_blocking"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body, "--crash-after",
         "1500"], stderr=open(log_path, "w"))
    wait_for(lambda: http_get(port), 10, "the first answer")
    load = Load(os.path.join(args.helpers, "loadclient"), port)
    try:
        wait_for(lambda: count(log_path, r"master: pid \d+ is ready \(revived\)")
                 >= CRASHES, 60, f"{CRASHES} crashes and revivals")
    finally:
        summary = load.stop()
    check_load(summary, f"{CRASHES} crashes under load with --revive")
    if int(summary["refused"]) != 0:
        raise Fail("connections were refused while the service was down")
    crashes = count(log_path, r"was killed by SIGABRT")
    if crashes < CRASHES:
        raise Fail(f"only {crashes} crashes logged")
    delays = [int(d) for d in re.findall(r"reviving it in (\d+) ms",
                                         open(log_path).read())]
    if delays[:3] != [100, 200, 400]:
        raise Fail(f"backoff delays {delays}, expected 100, 200, 400, ...")
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=20)
    log(f"{crashes} crashes, revived after {delays} ms, pid {master.pid} "
        "throughout")


def limit_reached(args, tmp, group):
    """--revive-limit=2: the third crash in a row ends it; the master dies
    of SIGABRT, as the service did."""
    port = free_port()
    body = os.path.join(tmp, "body")
    log_path = os.path.join(tmp, "limit.log")
    master = group.start(
        [args.huptime, "--revive-limit=2", "--",
         os.path.join(args.helpers, "srv_blocking"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body, "--crash-after", "1"],
        stderr=open(log_path, "w"))
    for crash in range(3):
        wait_for(lambda: http_get(port, timeout=10), 10,
                 f"an answer before crash {crash + 1}")
    status = master.wait(timeout=20)
    if status != -signal.SIGABRT:
        raise Fail(f"after the limit the master exited with {status}, "
                   "not by SIGABRT")
    if count(log_path, r"not reviving it again: 2 revivals") != 1:
        raise Fail("the master did not say why it gave up")
    log("--revive-limit=2: gave up after 3 crashes, exited by SIGABRT")


def without_revive(args, tmp, group):
    """--master alone: the service's exit status is the master's."""
    out = subprocess.run([args.huptime, "--master", "--", "sh", "-c",
                          "exit 3"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 3:
        raise Fail(f"--master with a service exiting 3 exited "
                   f"{out.returncode}: {out.stderr}")
    log("--master: exits 3 when the service exits 3")


def master_killed(args, tmp, group):
    """SIGKILL to the master: the service stops too (SIGTERM to its main
    process), so the supervisor's next master can bind the port again."""
    port = free_port()
    command = [os.path.join(args.helpers, "srv_prefork"), "--listen",
               f"tcp:127.0.0.1:{port}", "--workers", "2"]
    log_path = os.path.join(tmp, "killed.log")
    master = group.start([args.huptime, "--master", "--", *command],
                         stderr=open(log_path, "w"))
    wait_for(lambda: http_get(port), 10, "the first answer")
    service = [int(p) for p in os.listdir("/proc") if p.isdigit()
               and cmdline_has(p, f"127.0.0.1:{port}") and
               int(p) != master.pid]
    if len(service) != 3:
        raise Fail(f"expected 3 service processes, found {service}")
    master.kill()
    master.wait(timeout=10)
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and
                             _state(p) != "Z" for p in service), 10,
             "the service to stop after its master was killed")
    again = group.start([args.huptime, "--master", "--", *command],
                        stderr=open(log_path, "a"))
    wait_for(lambda: http_get(port), 10, "a new master to serve the port")
    again.send_signal(signal.SIGTERM)
    again.wait(timeout=20)
    log("master killed: its service stopped, a new master serves the port")


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0]
    except OSError:
        return "Z"


def test(args, tmp, group):
    under_load(args, tmp, group)
    master_killed(args, tmp, group)
    limit_reached(args, tmp, group)
    without_revive(args, tmp, group)


run(test)
