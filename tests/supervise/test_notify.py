#!/usr/bin/env python3
"""The systemd notify protocol (sd_notify) as huptime speaks it, in every
mode, against a notify socket the test reads; every message is checked:

  start            READY=1
  restart          RELOADING=1 + MONOTONIC_USEC (CLOCK_MONOTONIC, µs), then
                   READY=1 (fork mode: with MAINPID= the new main pid)
  failed restart   RELOADING=1 ..., then READY=1 + STATUS=restart failed: ...
  stop             STOPPING=1

and, with --ready=notify, READY=1 at first start only once the program
itself said READY=1.
"""
import os
import re
import socket
import subprocess
import sys
import time

from common import Fail, free_port, http_get, log, run, wait_for, write_body

MODES = ["fork", "exec", "master", "seccomp"]
# seccomp: --master with the program's system calls intercepted instead of
# the library preloaded (the master speaks for it, as in master mode).
LAUNCH = {"fork": ["--fork"], "exec": ["--exec"], "master": ["--master"],
          "seccomp": ["--master", "--intercept=seccomp"]}


class NotifySocket:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path

    def next(self, timeout=20):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            raise Fail(f"no notify message within {timeout} s")

    def none_left(self):
        self.sock.settimeout(0.3)
        try:
            extra = self.sock.recv(4096).decode()
        except socket.timeout:
            return
        raise Fail(f"unexpected notify message {extra!r}")


def fields(message):
    out = {}
    for line in message.splitlines():
        name, _, value = line.partition("=")
        out[name] = value
    return out


def expect(message, want, what):
    got = fields(message)
    if set(got) != set(want) or any(
            v is not None and got[k] != v for k, v in want.items()):
        raise Fail(f"{what}: got {message!r}, want fields {want}")
    return got


def check_reloading(message, before_us, what):
    got = expect(message, {"RELOADING": "1", "MONOTONIC_USEC": None}, what)
    usec = int(got["MONOTONIC_USEC"])
    after_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    if not before_us <= usec <= after_us:
        raise Fail(f"{what}: MONOTONIC_USEC={usec} not within the restart "
                   f"[{before_us}, {after_us}]")


def restart(huptime, command):
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    out = subprocess.run([huptime, "--restart", "--", *command],
                         capture_output=True, text=True, timeout=60)
    return before, out


def one_mode(args, tmp, group, mode):
    port = free_port()
    body = os.path.join(tmp, f"body-{mode}")
    write_body(body, 0)
    allow = os.path.join(tmp, f"allow-{mode}")
    open(allow, "w").close()
    notify = NotifySocket(os.path.join(tmp, f"notify-{mode}.sock"))
    command = [sys.executable, os.path.join(os.path.dirname(__file__),
                                            "term_server.py"), str(port), body]
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    proc = group.start(
        [args.huptime, *LAUNCH[mode], f"--check=test -e {allow}", "--",
         *command], env=env,
        stderr=open(os.path.join(tmp, f"huptime-{mode}.log"), "w"))
    ready = {"READY": "1", "STATUS": "serving"} if mode in (
        "master", "seccomp") else {
        "READY": "1"}
    expect(notify.next(), ready, f"{mode}: first start")
    wait_for(lambda: http_get(port), 10, "the first answer")

    write_body(body, 1)
    before, out = restart(args.huptime, command)
    if out.returncode != 0:
        raise Fail(f"{mode}: huptime --restart: {out.stderr}")
    new_pid = re.search(r"\(pid (\d+)\)", out.stdout).group(1)
    check_reloading(notify.next(), before, f"{mode}: restart")
    after = dict(ready)
    if mode == "fork":
        after = {"MAINPID": new_pid, "READY": "1"}
    expect(notify.next(), after, f"{mode}: restart done")

    os.unlink(allow)
    before, out = restart(args.huptime, command)
    if out.returncode == 0:
        raise Fail(f"{mode}: a restart whose --check fails exited 0")
    check_reloading(notify.next(), before, f"{mode}: failed restart")
    got = expect(notify.next(), {"READY": "1", "STATUS": None},
                 f"{mode}: failed restart done")
    if not got["STATUS"].startswith("restart failed: check"):
        raise Fail(f"{mode}: STATUS={got['STATUS']!r}")

    out = subprocess.run([args.huptime, "--stop", "--", *command],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise Fail(f"{mode}: huptime --stop: {out.stderr}")
    expect(notify.next(), {"STOPPING": "1"}, f"{mode}: stop")
    proc.wait(timeout=20)
    notify.none_left()
    log(f"{mode}: READY, RELOADING, {'MAINPID+' if mode == 'fork' else ''}"
        "READY, RELOADING, READY+STATUS, STOPPING: all as expected")


def ready_notify_first_start(args, tmp, group, mode):
    """--ready=notify: READY=1 reaches systemd only once the program itself
    said READY=1 (srv_epoll: 600 ms after it listens), not when it
    listens."""
    port = free_port()
    startup = os.path.join(tmp, f"startup-{mode}")
    with open(startup, "w") as f:
        f.write("notify=600\n")
    notify = NotifySocket(os.path.join(tmp, f"ready-{mode}.sock"))
    command = [os.path.join(args.helpers, "srv_epoll"), "--listen",
               f"tcp:127.0.0.1:{port}", "--startup-file", startup]
    proc = group.start(
        [args.huptime, *LAUNCH[mode], "--ready=notify", "--", *command],
        env=dict(os.environ, NOTIFY_SOCKET=notify.path),
        stderr=open(os.path.join(tmp, f"ready-{mode}.log"), "w"))
    wait_for(lambda: http_get(port), 10, "the first answer")
    answered = time.monotonic()
    message = notify.next()
    waited = time.monotonic() - answered
    if not message.startswith("READY=1\n") or waited < 0.3:
        raise Fail(f"{mode} --ready=notify: {message!r} {waited:.3f} s after "
                   "the first answer; the program says READY=1 600 ms after "
                   "it listens")
    subprocess.run([args.huptime, "--stop", "--", *command],
                   capture_output=True, timeout=60)
    proc.wait(timeout=20)
    log(f"{mode} --ready=notify: READY=1 {waited:.3f} s after the first "
        "answer, when the program said it")


def test(args, tmp, group):
    for mode in MODES:
        one_mode(args, tmp, group, mode)
    for mode in MODES:
        ready_notify_first_start(args, tmp, group, mode)


run(test)
