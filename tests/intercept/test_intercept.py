#!/usr/bin/env python3
"""Seccomp interception (huptime --master with a static program), the cases
a reload under load does not show:

  privilege  the master runs as root, the program as nobody (setpriv): a
             new version that asks for a privileged port gets EACCES, as it
             would without huptime, and the old version serves on;
  io_uring   a program that tries io_uring gets ENOSYS, falls back to plain
             system calls, and the master says why in one line;
  drain      an old version that ignores its stop signal is killed after
             --drain-timeout, and the new one serves; --unlink removes its
             file before the new version starts;
  nobody     the whole service, master included, as an unprivileged user
             (the filter then needs no_new_privs): restarts all the same;
  orphan     a master killed with SIGKILL: the program gets SIGTERM (its
             trapped calls could no longer be answered), and the port is
             free for a new master;
  revive     --revive: a killed program is started again, and a request
             made while none runs waits in the held listener's queue and
             is answered by the revived one;
  unready    a copy killed before it was ever ready (--ready=notify, and
             it never says READY=1): its socket is not kept, so the
             revived copy can bind the address again;
  missing    the program's file removed before a restart: --restart exits
             1 saying why, the old version serves on, and once the file
             is back the next restart works;
  preload    --intercept=preload on a static program: the launcher's
             warning names the reason and the way out (--master).
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "supervise"))
from common import (Fail, Skip, free_port, http_get, log, master_lines,  # noqa
                    run, wait_for, write_body)


def start(args, tmp, group, name, command, launcher_args=()):
    log_path = os.path.join(tmp, name + ".log")
    master = group.start([args.huptime, "--master", *launcher_args, "--",
                          *command], stderr=open(log_path, "w"))
    return master, log_path


def text_of(log_path):
    with open(log_path, errors="replace") as f:
        return f.read()


def restart(args, master):
    return subprocess.run([args.huptime, "--restart", f"--pid={master.pid}"],
                          capture_output=True, text=True, timeout=60)


def stop(master):
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=20)


def privileged_port():
    """A port below 1024 that root can bind now, or None."""
    import socket
    for port in range(990, 900, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return None


def private_network():
    """In a network namespace of our own (unshare --net): loopback up, and
    ports below 1024 privileged whatever the host (or container) says."""
    import fcntl
    import socket
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x",
                              fcntl.ioctl(s, siocgifflags, ifreq))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh14x", b"lo",
                                                  flags | iff_up))
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
        f.write("1024\n")


def case_privilege(args, tmp, group):
    if os.geteuid() != 0:
        raise Skip("needs root (the master must be privileged)")
    if not args.netns:
        # Again in a network namespace of its own, where low ports are
        # privileged (containers often set ip_unprivileged_port_start=0).
        out = subprocess.run(
            ["unshare", "--net", sys.executable, os.path.abspath(__file__),
             "--huptime", args.huptime, "--helpers", args.helpers,
             "--netns", "privilege"], capture_output=True, text=True,
            timeout=120)
        sys.stderr.write(out.stderr)
        if out.returncode == 77:
            raise Skip("privilege: skipped in the namespace")
        if out.returncode != 0:
            raise Fail(f"privilege (in its own network namespace): exit "
                       f"{out.returncode}")
        return
    private_network()
    low = privileged_port()
    if low is None:
        raise Skip("no free port below 1024")
    port = free_port()
    os.chmod(tmp, 0o755)
    os.chmod(os.path.dirname(tmp), 0o755)
    body = os.path.join(tmp, "body")
    config = os.path.join(tmp, "listen")
    write_body(body, 0)
    with open(config, "w") as f:
        f.write(f"tcp:127.0.0.1:{port}\n")
    # The helper reads its address from argv, so a shell wrapper picks the
    # address of the version being started from a file.
    wrapper = os.path.join(tmp, "serve.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup "
                "--clear-groups --inh-caps=-all "
                f"{os.path.join(args.helpers, 'srv_static')} "
                f"--listen \"$(cat {config})\" --body-file {body}\n")
    os.chmod(wrapper, 0o755)
    master, log_path = start(args, tmp, group, "privilege", [wrapper],
                             ["--intercept=seccomp"])
    wait_for(lambda: http_get(port), 20, "the first answer")
    with open(config, "w") as f:
        f.write(f"tcp:127.0.0.1:{low}\n")
    write_body(body, 1)
    out = restart(args, master)
    if out.returncode != 1 or "restart failed" not in out.stderr:
        raise Fail(f"a new version binding port {low} as nobody: --restart "
                   f"exited {out.returncode}: {out.stderr!r}")
    if "Permission denied" not in text_of(log_path):
        raise Fail("the new version did not get EACCES for port "
                   f"{low}:\n{text_of(log_path)[-2000:]}")
    if http_get(port) != "version 0 of supervise\n":
        raise Fail("the old version no longer answers")
    import socket
    with socket.socket() as s:
        try:
            s.connect(("127.0.0.1", low))
            raise Fail(f"something listens on port {low}")
        except ConnectionRefusedError:
            pass
    stop(master)
    log(f"privilege: port {low} refused to nobody ({out.stderr.strip()})")


class Static:
    """srv_static (or `program`) under huptime --master, answering
    "version 0" on a port of its own once start() returns."""

    def __init__(self, args, tmp, group, name, launcher_args=(),
                 program=None, extra=()):
        self.port = free_port()
        self.body = os.path.join(tmp, "body")
        write_body(self.body, 0)
        program = program or os.path.join(args.helpers, "srv_static")
        self.master, self.log_path = start(
            args, tmp, group, name,
            [program, *extra, "--listen", f"tcp:127.0.0.1:{self.port}",
             "--body-file", self.body], launcher_args)
        wait_for(lambda: http_get(self.port), 20, "the first answer")

    def started(self):
        """The pids the master says it started, in order."""
        return [int(line.split("started pid ")[1].split()[0])
                for line in master_lines(self.log_path)
                if "started pid" in line]

    def count(self, text):
        """How many of the master's lines contain `text`."""
        return len([line for line in master_lines(self.log_path)
                    if text in line])


def case_io_uring(args, tmp, group):
    svc = Static(args, tmp, group, "io_uring", extra=["--io-uring"])
    master = svc.master
    text = text_of(svc.log_path)
    if "called io_uring_setup(): refused with ENOSYS" not in text:
        raise Fail(f"no message about io_uring:\n{text[-2000:]}")
    if "io_uring_setup: Function not implemented; using plain calls" \
            not in text:
        raise Fail(f"the program did not get ENOSYS:\n{text[-2000:]}")
    stop(master)
    log("io_uring: refused with ENOSYS, the program fell back and serves")


def case_drain(args, tmp, group):
    stale = os.path.join(tmp, "stale.pid")
    # WINCH is ignored by default: the old version never stops by itself.
    svc = Static(args, tmp, group, "drain",
                 ["--stop-signal=WINCH", "--drain-timeout=1s",
                  f"--unlink={stale}"])
    master, log_path, port, body = svc.master, svc.log_path, svc.port, svc.body
    old_pid = svc.started()[0]
    write_body(body, 1)
    open(stale, "w").close()
    began = time.monotonic()
    out = restart(args, master)
    if out.returncode != 0:
        raise Fail(f"--restart: {out.stderr}")
    if os.path.exists(stale):
        raise Fail(f"--unlink={stale}: still there after the restart")
    wait_for(lambda: not os.path.exists(f"/proc/{old_pid}")
             or open(f"/proc/{old_pid}/stat").read().split()[2] == "Z",
             15, f"the old pid {old_pid} to be killed")
    took = time.monotonic() - began
    if "still running after the drain timeout; killing it" \
            not in text_of(log_path):
        raise Fail("the master did not say it killed the old version")
    if http_get(port) != "version 1 of supervise\n":
        raise Fail("the new version does not answer")
    stop(master)
    log(f"drain: the old pid {old_pid} was killed {took:.2f} s after the "
        "restart began (--drain-timeout=1s)")


def case_nobody(args, tmp, group):
    if os.geteuid() != 0:
        raise Skip("needs root to become nobody")
    for path in (args.huptime, os.path.join(args.helpers, "srv_static")):
        if not os.access(path, os.X_OK) or any(
                not os.stat(d).st_mode & 0o001
                for d in parents(os.path.dirname(path))):
            raise Skip(f"nobody cannot run {path}")
    os.chmod(tmp, 0o755)
    os.chmod(os.path.dirname(tmp), 0o755)
    port = free_port()
    body = os.path.join(tmp, "body")
    write_body(body, 0)
    os.chmod(body, 0o644)
    master, log_path = start(
        args, tmp, group, "nobody",
        [os.path.join(args.helpers, "srv_static"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body])
    master.kill()  # started as root: replace it with one as nobody
    master.wait(timeout=10)
    wait_for(lambda: http_get(port) is None, 10, "the root copy to go")
    master = group.start(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         args.huptime, "--master", "--",
         os.path.join(args.helpers, "srv_static"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body],
        stderr=open(log_path, "w"))
    wait_for(lambda: http_get(port), 20, "the first answer as nobody")
    for version in (1, 2):
        write_body(body, version)
        os.chmod(body, 0o644)
        out = restart(args, master)
        if out.returncode != 0:
            raise Fail(f"restart {version} as nobody: {out.stderr}\n"
                       f"{text_of(log_path)[-2000:]}")
        if http_get(port) != f"version {version} of supervise\n":
            raise Fail(f"restart {version} as nobody: wrong version")
    stop(master)
    log("nobody: two restarts of a service run entirely as nobody")


def case_missing(args, tmp, group):
    import shutil
    program = os.path.join(tmp, "srv_static")
    shutil.copy(os.path.join(args.helpers, "srv_static"), program)
    svc = Static(args, tmp, group, "missing", program=program)
    master, port, body = svc.master, svc.port, svc.body
    os.rename(program, program + ".away")
    write_body(body, 1)
    out = restart(args, master)
    if out.returncode != 1 or "cannot start the new version" \
            not in out.stderr:
        raise Fail(f"restart without the program: exit {out.returncode}, "
                   f"{out.stderr!r}")
    if http_get(port) != "version 0 of supervise\n" or \
            master.poll() is not None:
        raise Fail("the old version does not serve on")
    os.rename(program + ".away", program)
    out = restart(args, master)
    if out.returncode != 0 or http_get(port) != "version 1 of supervise\n":
        raise Fail(f"restart with the program back: {out.stderr!r}")
    stop(master)
    log("missing: " + out.stderr.strip() if out.stderr.strip() else
        "missing: restart failed with the reason, then worked")


def process_gone(pid):
    """Exited (a zombie, or reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def case_orphan(args, tmp, group):
    svc = Static(args, tmp, group, "orphan")
    master, port = svc.master, svc.port
    child = svc.started()[0]
    master.kill()
    master.wait(timeout=10)

    wait_for(lambda: process_gone(child), 10,
             f"pid {child} to end after its master was killed")
    import socket
    with socket.socket() as s:
        # As servers do: TIME_WAIT connections do not count, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    log(f"orphan: pid {child} ended with its master; port {port} is free")


def case_revive(args, tmp, group):
    svc = Static(args, tmp, group, "revive", ["--revive"])
    master, log_path, port = svc.master, svc.log_path, svc.port
    for round in range(3):
        # Ready (and its listener held) before the kill.
        wait_for(lambda: svc.count(" is ready") > round, 10,
                 "the master to see it ready")
        child = svc.started()[-1]
        os.kill(child, signal.SIGKILL)
        # Dead first (a dying process may still accept), then a request
        # while the revival waits out its 100 ms back-off.
        wait_for(lambda: process_gone(child), 10, f"pid {child} to die")
        began = time.monotonic()
        answer = http_get(port, timeout=10)
        if answer != "version 0 of supervise\n":
            raise Fail(f"revival {round + 1}: a request made after the kill "
                       f"got {answer!r}\n{text_of(log_path)[-3000:]}")
        log(f"revive: pid {child} killed; a request made at once was "
            f"answered {time.monotonic() - began:.3f} s later")
        wait_for(lambda: svc.count("is ready (revived)") > round, 10,
                 f"revival {round + 1}")
    stop(master)


def case_unready(args, tmp, group):
    svc = Static(args, tmp, group, "unready", ["--revive", "--ready=notify"])
    master, log_path, port = svc.master, svc.log_path, svc.port
    os.kill(svc.started()[-1], signal.SIGKILL)
    wait_for(lambda: len(svc.started()) >= 2, 10, "a revival")
    wait_for(lambda: http_get(port), 10, "the revived copy to answer")
    if "Address already in use" in text_of(log_path):
        raise Fail(f"the revival could not bind:\n{text_of(log_path)}")
    stop(master)
    log("unready: a copy killed before it was ready left no socket behind")


def parents(path):
    out = []
    while path not in ("/", ""):
        out.append(path)
        path = os.path.dirname(path)
    return out


def case_preload(args, tmp, group):
    out = subprocess.run(
        [args.huptime, "--intercept=preload", "--master",
         os.path.join(args.helpers, "srv_static"), "--listen", "tcp:x"],
        capture_output=True, text=True, timeout=30)
    if "is statically linked; the preloaded library cannot see its " \
            "sockets" not in out.stderr or "--master" not in out.stderr:
        raise Fail(f"no warning with --intercept=preload: {out.stderr!r}")
    log("preload: " + out.stderr.splitlines()[0])


def test(args, tmp, group):
    if args.netns == "privilege":
        case_privilege(args, tmp, group)
        return
    skipped = []
    cases = (case_io_uring, case_drain, case_missing, case_preload, case_orphan,
             case_revive, case_unready, case_privilege, case_nobody)
    for case in cases:
        sub = os.path.join(tmp, case.__name__)
        os.mkdir(sub)
        try:
            case(args, sub, group)
        except Skip as skip:
            log(f"{case.__name__}: SKIP: {skip}")
            skipped.append(case.__name__)
    if len(skipped) == len(cases):
        raise Skip("every case skipped")


test.extra_args = ["--netns"]
run(test)
