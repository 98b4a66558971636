#!/usr/bin/env python3
"""huptime --master under runit's runsv: `sv hup` restarts under load with 0
failed requests, runsv keeps the same pid, no doubled workers, `sv stop`
stops everything."""
import os
import re
import subprocess

from common import Fail, log, need, run, wait_for, free_port, write_body
from service_checks import (restart_under_load, service_command,
                            wait_all_gone)


def test(args, tmp, group):
    runsv = need("runsv")
    sv = need("sv")
    port = free_port()
    body = os.path.join(tmp, "body")
    write_body(body, 0)
    service = os.path.join(tmp, "svc")
    os.mkdir(service)
    run_script = os.path.join(service, "run")
    command = " ".join(service_command(args, port, body))
    with open(run_script, "w") as f:
        f.write(f"#!/bin/sh\nexec 2>&1\nexec {command}\n")
    os.chmod(run_script, 0o755)
    group.start([runsv, service],
                stdout=open(os.path.join(tmp, "svc.log"), "w"),
                stderr=subprocess.STDOUT)

    def sv_cmd(*words):
        return subprocess.run([sv, *words, service], capture_output=True,
                              text=True, timeout=30)

    def tracked_pid():
        out = sv_cmd("status").stdout
        found = re.search(r"^run: .*\(pid (\d+)\)", out)
        if not found:
            raise Fail(f"sv status: {out!r}")
        return int(found.group(1))

    wait_for(lambda: sv_cmd("status").stdout.startswith("run:"), 20,
             "runsv to run the service")

    def hup():
        out = sv_cmd("hup")
        if out.returncode != 0:
            raise Fail(f"sv hup: {out.stdout!r} {out.stderr!r}")

    master = restart_under_load(args, port, body, tracked_pid, hup)
    out = sv_cmd("stop")
    if not out.stdout.startswith("ok: down"):
        raise Fail(f"sv stop: {out.stdout!r}")
    wait_all_gone(master, port)
    log("sv stop: every process of the service is gone")
    sv_cmd("exit")


run(test)
