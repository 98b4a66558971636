#!/usr/bin/env python3
"""Socket activation with systemd-socket-activate (what a .socket unit does):
in every mode, the service's own bind() to the activated address is answered
with the activated socket (without it, the bind would fail: the activator
holds the address), restarts under load fail no request, and LISTEN_* do
not reach the service."""
import os
import re
import subprocess

from common import (Fail, Load, check_load, descendants, free_port, http_get,
                    log, need, run, wait_for, write_body)

MODES = ["fork", "exec", "master", "seccomp"]
# seccomp: --master intercepting a static server's system calls; its bind()
# is answered with the activated socket all the same.
LAUNCH = {"fork": ["--fork"], "exec": ["--exec"], "master": ["--master"],
          "seccomp": ["--master", "--intercept=seccomp"]}
SERVER = {"seccomp": "srv_static"}
RESTARTS = 5


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            found = re.match(r"socket:\[(\d+)\]", target)
            if found:
                out.add(int(found.group(1)))
    except OSError:
        pass
    return out


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().split(b"\0")


def one_mode(args, tmp, group, mode, activate):
    port = free_port()
    body = os.path.join(tmp, f"body-{mode}")
    write_body(body, 0)
    command = [os.path.join(args.helpers, SERVER.get(mode, "srv_epoll")),
               "--listen",
               f"tcp:127.0.0.1:{port}", "--body-file", body]
    proc = group.start(
        [activate, "-l", f"127.0.0.1:{port}", args.huptime, *LAUNCH[mode], "--",
         *command], stderr=open(os.path.join(tmp, f"{mode}.log"), "w"))
    activated = wait_for(lambda: socket_inodes(proc.pid), 10,
                         "systemd-socket-activate to listen")
    # The first connection makes the activator exec huptime.
    wait_for(lambda: http_get(port, timeout=5), 20, "the first answer")
    service = proc.pid if mode in ("fork", "exec") else wait_for(
        lambda: (descendants(proc.pid) or [None])[0], 10, "the first copy")
    if not activated & socket_inodes(service):
        raise Fail(f"{mode}: the service (pid {service}) does not use the "
                   f"activated socket {activated}")
    leaked = [v for v in environ_of(service) if v.startswith(b"LISTEN_")]
    if leaked:
        raise Fail(f"{mode}: the service sees {leaked}")
    load = Load(os.path.join(args.helpers, "loadclient"), port)
    try:
        for version in range(1, RESTARTS + 1):
            write_body(body, version)
            out = subprocess.run([args.huptime, "--restart", "--", *command],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise Fail(f"{mode}: restart {version}: {out.stderr}")
            want = f"version {version} of supervise\n"
            wait_for(lambda: http_get(port) == want, 10,
                     f"restart {version} to serve its version")
    finally:
        summary = load.stop()
    # seccomp: the old version stops accepting on TERM, a few ms after the
    # new one serves (test_master_safe.py).
    check_load(summary, f"{mode}: {RESTARTS} restarts, socket-activated",
               backwards_ok=mode == "seccomp")
    subprocess.run([args.huptime, "--stop", "--", *command],
                   capture_output=True, timeout=60)
    proc.wait(timeout=20)
    log(f"{mode}: the service used activated socket {sorted(activated)}")


def test(args, tmp, group):
    activate = need("systemd-socket-activate")
    for mode in MODES:
        one_mode(args, tmp, group, mode, activate)


run(test)
