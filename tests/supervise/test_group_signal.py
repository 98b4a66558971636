#!/usr/bin/env python3
"""The restart signal sent to every process of a pre-forking service at once
(what `systemctl kill -s HUP` and `kill -HUP -PGID` do): one restart per
signal, run by the main process. In exec mode the main process re-executes
in place and its pid never changes; a worker never takes the restart over.
10 group signals per mode, under load, 0 failed requests."""
import os
import re
import signal
import time

from common import (Fail, Load, check_load, free_port, http_get, log, run,
                    wait_for, write_body)

SIGNALS = 10


def restarts_logged(path):
    with open(path, errors="replace") as f:
        return re.findall(r"huptime\[(\d+)\]: restart #(\d+) requested",
                          f.read())


def one_mode(args, tmp, group, mode):
    port = free_port()
    body = os.path.join(tmp, f"body-{mode}")
    write_body(body, 0)
    log_path = os.path.join(tmp, f"{mode}.log")
    proc = group.start(
        [args.huptime, f"--{mode}", "--",
         os.path.join(args.helpers, "srv_prefork"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body, "--workers", "2"],
        stderr=open(log_path, "w"))
    wait_for(lambda: http_get(port), 10, "the first answer")
    time.sleep(0.2)  # the workers are forked
    load = Load(os.path.join(args.helpers, "loadclient"), port)
    try:
        for version in range(1, SIGNALS + 1):
            write_body(body, version)
            os.killpg(proc.pid, signal.SIGHUP)
            want = f"version {version} of supervise\n"
            wait_for(lambda: http_get(port) == want, 20,
                     f"{mode}: group signal {version} to serve its version")
            if mode == "exec" and proc.poll() is not None:
                raise Fail(f"exec: the main process {proc.pid} exited")
    finally:
        summary = load.stop()
    check_load(summary, f"{mode}: {SIGNALS} group signals")
    restarts = restarts_logged(log_path)
    if len(restarts) != SIGNALS:
        raise Fail(f"{mode}: {len(restarts)} restarts for {SIGNALS} "
                   f"signals: {restarts}")
    if mode == "exec" and {pid for pid, _ in restarts} != {str(proc.pid)}:
        raise Fail(f"exec: restarts run by {restarts}, not only by the main "
                   f"process {proc.pid}")
    os.killpg(proc.pid, signal.SIGTERM)
    log(f"{mode}: {SIGNALS} group signals, {len(restarts)} restarts")


def test(args, tmp, group):
    for mode in ["exec", "fork"]:
        one_mode(args, tmp, group, mode)


run(test)
