#!/usr/bin/env python3
"""huptime --master keeps the safe-reload rules, under load:

  overlap   a new version that takes 1.5 s to start (it binds, sleeps,
            then listens) never makes a request wait for it: the old
            generation serves meanwhile (exec mode would pause for it);
  rollback  a new version that exits 1, or crashes, before it is ready:
            --restart exits 1 with the reason and the old one serves on;
  storm     20 restart signals to the master in a burst end on the newest
            version, without a failed request.

The master's pid never changes, and the requests of the whole run all
succeed."""
import os
import signal
import subprocess
import time

from common import (Fail, Load, check_load, free_port, http_get, log, run,
                    wait_for, write_body)

WARMUP_MS = 1500


def test(args, tmp, group):
    port = free_port()
    body = os.path.join(tmp, "body")
    startup = os.path.join(tmp, "startup")
    write_body(body, 0)
    open(startup, "w").close()
    command = [os.path.join(args.helpers, args.server or "srv_epoll"),
               "--listen",
               f"tcp:127.0.0.1:{port}", "--body-file", body,
               "--startup-file", startup]
    master = group.start([args.huptime, "--master", "--", *command],
                         stderr=open(os.path.join(tmp, "master.log"), "w"))
    wait_for(lambda: http_get(port), 10, "the first answer")

    def restart():
        began = time.monotonic()
        out = subprocess.run(
            [args.huptime, "--restart", f"--pid={master.pid}"],
            capture_output=True, text=True, timeout=60)
        return out, time.monotonic() - began

    load = Load(os.path.join(args.helpers, "loadclient"), port)
    try:
        with open(startup, "w") as f:
            f.write(f"warmup={WARMUP_MS}\n")
        for version in range(1, 4):
            write_body(body, version)
            out, took = restart()
            if out.returncode != 0:
                raise Fail(f"restart {version}: {out.stderr}")
            if took < WARMUP_MS / 1000:
                raise Fail(f"restart {version} took {took:.3f} s: the "
                           "warm-up did not happen")
        for fault in ["exit1", "crash-after-bind"]:
            with open(startup, "w") as f:
                f.write(fault + "\n")
            write_body(body, 99)
            out, _ = restart()
            if out.returncode != 1 or "restart failed" not in out.stderr:
                raise Fail(f"{fault}: --restart exited {out.returncode}: "
                           f"{out.stderr!r}")
            if http_get(port) != "version 3 of supervise\n":
                raise Fail(f"{fault}: the old version no longer answers")
            log(f"{fault}: {out.stderr.strip()}")
        open(startup, "w").close()
        for version in range(4, 24):
            write_body(body, version)
            os.kill(master.pid, signal.SIGHUP)
        wait_for(lambda: http_get(port) == "version 23 of supervise\n", 60,
                 "the storm to end on the newest version")
    finally:
        summary = load.stop()
    # Under seccomp interception the old version stops accepting when it
    # handles its stop signal, a few ms after the new one serves: in that
    # window both answer, so a client may see the old after the new.
    check_load(summary, "master: warm-ups, rollbacks and a storm",
               backwards_ok=args.backwards_ok == "yes")
    if float(summary["max_ms"]) >= WARMUP_MS / 2:
        raise Fail(f"a request waited {summary['max_ms']} ms: old and new "
                   "did not overlap during the warm-up")
    if master.poll() is not None:
        raise Fail("the master exited")
    status = subprocess.run([args.huptime, "--status", f"--pid={master.pid}"],
                            capture_output=True, text=True, timeout=30)
    if f"(mode master, pid {master.pid}," not in status.stdout or \
            "restarts:" not in status.stdout:
        raise Fail(f"--status of the master: {status.stdout!r}")
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=20)
    log(f"worst latency {summary['max_ms']} ms with a {WARMUP_MS} ms warm-up; "
        f"master pid {master.pid} throughout")


# --server srv_static --backwards-ok yes: the same under seccomp interception
# (tests/intercept).
test.extra_args = ["--server", "--backwards-ok"]
run(test)
