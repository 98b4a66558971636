#!/usr/bin/env python3
"""The hand-off's order, read from the library's stamped debug lines
(lib/log.cc: " @SECONDS.MICROSECONDS" on CLOCK_MONOTONIC) of a pre-forking
service restarted under load in fork mode: for each restart, the new copy
reports ready, every process of the old generation stops accepting, and
only then does any process of the new one accept. This is the rule that
keeps versions from going back, seen from the inside; the load client
checks it from the outside (0 failed, none backwards)."""
import os
import re
import signal

from common import Fail, Load, check_load, http_get, log, free_port, \
    wait_for, write_body

RESTARTS = 3
LINE = re.compile(r"huptime\[(\d+)\]: (.*) @(\d+)\.(\d{6})$")


def stamped(path):
    """[(ns, pid, text)] of every huptime line; each must carry a stamp."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("huptime["):
                continue
            m = LINE.match(line)
            if not m:
                raise Fail(f"a debug line without its time: {line!r}")
            ns = int(m.group(3)) * 10**9 + int(m.group(4)) * 1000
            out.append((ns, int(m.group(1)), m.group(2)))
    return sorted(out)


def check_restart(lines, new, number):
    """The steps of the restart to the copy whose leader is `new`."""
    stops = [(ns, pid) for ns, pid, text in lines
             if text.startswith("stopped accepting on") and pid != new]
    ready = [ns for ns, pid, text in lines
             if text.startswith("ready (generation")]
    accepts = [(ns, pid) for ns, pid, text in lines
               if text.startswith("accepting on listener") and
               not any(p == pid for _, p, t in lines
                       if t.startswith("stopped accepting on"))]
    if not ready or len(stops) < 2 or not accepts:
        raise Fail(f"restart {number}: steps missing: ready={ready} "
                   f"stops={stops} accepts={accepts}")
    first_accept, first_pid = min(accepts)
    first_stop, last_stop = min(stops), max(stops)
    if not ready[0] <= first_stop[0] <= last_stop[0] <= first_accept:
        raise Fail(f"restart {number}: out of order: ready {ready[0]}, old "
                   f"stopped {first_stop[0]} (pid {first_stop[1]}).."
                   f"{last_stop[0]} (pid {last_stop[1]}), first new accept "
                   f"{first_accept} (pid {first_pid})\n" +
                   "\n".join(f"{ns} {pid} {text}" for ns, pid, text in lines))
    log(f"restart {number}: ready -> last old stop "
        f"{(last_stop[0] - ready[0]) / 1e6:.2f} ms -> first new accept "
        f"{(first_accept - last_stop[0]) / 1e6:.2f} ms")


def test(args, tmp, group):
    port = free_port()
    body = os.path.join(tmp, "body")
    write_body(body, 0)
    log_path = os.path.join(tmp, "fork.log")
    env = dict(os.environ, HUPTIME_LOG="debug")
    proc = group.start(
        [args.huptime, "--fork", "--",
         os.path.join(args.helpers, "srv_prefork"), "--listen",
         f"tcp:127.0.0.1:{port}", "--body-file", body, "--workers", "2"],
        stderr=open(log_path, "w"), env=env)
    wait_for(lambda: http_get(port), 10, "the first answer")
    load = Load(os.path.join(args.helpers, "loadclient"), port)
    leader, marks = proc.pid, []
    try:
        for version in range(1, RESTARTS + 1):
            write_body(body, version)
            marks.append(os.path.getsize(log_path))
            os.kill(leader, signal.SIGHUP)
            pattern = re.compile(
                rf"huptime\[{leader}\]: new copy pid (\d+) is ready")

            def handed_over():
                with open(log_path, errors="replace") as f:
                    f.seek(marks[-1])
                    return pattern.search(f.read())
            wait_for(handed_over, 20, f"restart {version}")
            leader = int(handed_over().group(1))
            want = f"version {version} of supervise\n"
            wait_for(lambda: http_get(port) == want, 20,
                     f"restart {version} to serve its version")
            marks[-1] = (marks[-1], leader)
    finally:
        summary = load.stop()
    with open(log_path, "rb") as f:
        data = f.read()
    ends = [m for m, _ in marks[1:]] + [len(data)]
    for number, ((start, new), end) in enumerate(zip(marks, ends), 1):
        part = os.path.join(tmp, f"restart-{number}.txt")
        with open(part, "wb") as f:
            f.write(data[start:end])
        check_restart(stamped(part), new, number)
    check_load(summary, f"{RESTARTS} restarts")
    os.killpg(proc.pid, signal.SIGTERM)


if __name__ == "__main__":
    from common import run
    run(test)
