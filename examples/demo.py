#!/usr/bin/env python3
"""The huptime demo: reload a server under load and count what failed.

    demo.py [--build DIR] [--reloads N] [--clients N] [--dwell SECONDS]

For each mode (fork, exec, then master) it starts examples/hello_server
under `huptime --MODE` on a port the kernel picked, puts it under
closed-loop load (the project's loadclient, N clients), then N times: writes
a new version into the version file, sends SIGHUP to the service (in master
mode: to the resident huptime, whose pid never changes) and waits (with a
deadline) for the new generation's `ready` line in the log and for the new
version to answer. Then it stops the load and the service and prints one
row per mode. Exit status 0 only if every reload became ready, the load
client saw no failed request and no process was left behind.

Each mode gets its own port (from the kernel) and the logs go to a
directory from mkdtemp, removed on success (see --keep). Process handling,
in demo_procs.py: the demo is a child subreaper, so old generations
orphaned in fork mode are reparented to it and reaped here, and it only
signals its own descendants.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from demo_procs import become_subreaper, reap_all
from demo_service import DemoError, Service

SUMMARY = re.compile(r"(\w+)=([\d.]+)")
BODY = re.compile(r"^body\[\d+\]=hello from version (\S+) \(pid (\d+)\).* count=(\d+)$")


def free_port():
    """A TCP port the kernel considers free (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_load(args, port, workdir, mode):
    out = open(os.path.join(workdir, f"{mode}.load.out"), "w+")
    err = open(os.path.join(workdir, f"{mode}.load.err"), "w+")
    command = [os.path.join(args.build, "tests", "helpers", "loadclient"),
               "--target", f"tcp:127.0.0.1:{port}",
               "--clients", str(args.clients), "--expect-monotonic"]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err)
    return proc, out, err


def stop_load(proc, out, err):
    """SIGINT, then the summary line as a dict plus the versions seen."""
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise DemoError("the load client did not stop")
    out.seek(0)
    err.seek(0)
    lines = out.read().splitlines()
    errors = err.read().strip()
    if not lines or not lines[0].startswith("requests="):
        raise DemoError(f"no summary from the load client: {errors}")
    summary = dict(SUMMARY.findall(lines[0]))
    versions, pids = [], set()
    for line in lines[1:]:
        m = BODY.match(line)
        if m and m.group(1) not in versions:
            versions.append(m.group(1))
        if m:
            pids.add(m.group(2))
    return rc, summary, versions, pids, errors


def run_mode(args, mode, workdir):
    port = free_port()
    service = Service(args, mode, workdir, port)
    result = {"mode": mode, "reloads": 0, "reload_ms": [], "error": None}
    load = None
    try:
        service.start()
        load = start_load(args, port, workdir, mode)
        time.sleep(args.dwell)  # let the load run against version 1 first
        for number in range(2, args.reloads + 2):
            result["reload_ms"].append(service.reload(number) * 1000)
            result["reloads"] += 1
            time.sleep(args.dwell)  # serve each version for a while
    except DemoError as e:
        result["error"] = str(e)
    finally:
        # Clean up even if interrupted again meanwhile (bounded by the
        # timeouts of stop_load and Service.stop).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if load is not None:
            try:
                rc, summary, versions, pids, errors = stop_load(*load)
                result.update(rc=rc, summary=summary, versions=versions,
                              pids=pids, load_errors=errors)
            except DemoError as e:
                result["error"] = result["error"] or str(e)
        result["left"] = service.stop()
        result["log"] = service.log_path
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, interrupted)
    return result


def interrupted(signum, frame):
    """SIGTERM: stop like on Ctrl-C, cleaning up."""
    raise KeyboardInterrupt


def versions_text(mode, versions, expected):
    numbers = [v.split("-", 1)[1] for v in versions if v.startswith(mode + "-")]
    if not numbers:
        return "none"
    return f"{len(numbers)}/{expected} ({numbers[0]}..{numbers[-1]})"


def print_table(results, args):
    header = ("mode", "reloads", "requests", "failed", "p99_ms", "max_ms",
              "slowest_reload_ms", "versions_seen", "server_pids")
    rows = [header]
    for r in results:
        s = r.get("summary", {})
        reload_ms = r["reload_ms"]
        rows.append((
            r["mode"], str(r["reloads"]), s.get("requests", "-"),
            s.get("failed", "-"), s.get("p99_ms", "-"), s.get("max_ms", "-"),
            f"{max(reload_ms):.0f}" if reload_ms else "-",
            versions_text(r["mode"], r.get("versions", []), args.reloads + 1),
            str(len(r.get("pids", ())))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\np99_ms, max_ms: latency of the successful requests; "
          "slowest_reload_ms: from SIGHUP\nto the new version answering; "
          "server_pids: processes that answered.\n")


def judge(result):
    """Problems with one mode's run, as sentences."""
    problems = []
    if result["error"]:
        problems.append(result["error"])
    s = result.get("summary")
    if s is None:
        problems.append("no load figures")
    else:
        if int(s.get("failed", "1")) != 0:
            problems.append(
                f"{s['failed']} failed requests (refused={s.get('refused')} "
                f"reset={s.get('reset')} eof={s.get('eof')} "
                f"timeout={s.get('timeout')} badstatus={s.get('badstatus')})")
        if int(s.get("backwards", "0")) != 0:
            problems.append(f"{s['backwards']} responses from an older "
                            "version after a newer one had answered")
        if result.get("rc") != 0:
            problems.append(f"load client exit status {result.get('rc')}")
    if result["left"]:
        problems.append(f"processes left behind: {result['left']}")
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(here, "..", "build"))
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--dwell", type=float, default=0.25)
    parser.add_argument("--keep", action="store_true",
                        help="keep the logs (always kept on failure)")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)

    for program in ("launcher/huptime", "examples/hello_server",
                    "tests/helpers/loadclient"):
        if not os.access(os.path.join(args.build, program), os.X_OK):
            print(f"demo: {args.build}/{program} is missing: build first "
                  "(./run-demo does)", file=sys.stderr)
            return 2

    signal.signal(signal.SIGTERM, interrupted)
    become_subreaper()
    workdir = tempfile.mkdtemp(prefix="huptime-demo.")
    results = []
    for mode in ("fork", "exec", "master"):
        print(f"demo: {mode} mode: hello_server under huptime --{mode}, "
              f"{args.clients} clients, {args.reloads} reloads", flush=True)
        results.append(run_mode(args, mode, workdir))
    print_table(results, args)

    failed = False
    for r in results:
        for problem in judge(r):
            failed = True
            print(f"demo: {r['mode']} mode: {problem}")
        if r.get("load_errors") and judge(r):
            print(r["load_errors"])
    if failed:
        print(f"demo: FAILED; logs kept in {workdir}")
        return 1
    print("demo: OK: every request answered across "
          f"{sum(r['reloads'] for r in results)} reloads")
    if args.keep:
        print(f"demo: logs in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:
        # run_mode has stopped the load and the service on its way out.
        print("demo: interrupted", file=sys.stderr)
        status = 130
    reap_all()
    sys.exit(status)
