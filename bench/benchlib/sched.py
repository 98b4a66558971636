"""Why a restart window's longest no-answer interval is as long as it is:
what each CPU ran during it, and whether the old generation's serving
processes were running, waiting for a CPU (runnable) or asleep.

  python3 -m bench.benchlib.sched --build-dir DIR --source-dir DIR
      [--server cpp-epoll] [--method fork] [--restarts 8] [--clients 8]
      [--perf-data FILE]

(bench/why-gaps passes the directories.) Runs one restart row
(restart.py) while `perf record` takes the scheduler's switch and wake-up
events on every CPU, stamped with CLOCK_MONOTONIC: the clock of the
library's debug lines and of the load client's trace. Needs perf (Debian:
linux-perf) and the right to trace (root). Prints; judges nothing.

The old generation's serving processes are those that log "stopped
accepting" in the window, the new copy's those that log anything else;
only their main threads are followed (a threaded server's other threads
are not).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys

from . import common, restart

SWITCH = re.compile(
    r"^\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:\s+prev_comm=(.*?) "
    r"prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) "
    r"next_pid=(\d+)")
WAKEUP = re.compile(
    r"^\[(\d+)\]\s+([\d.]+):\s+sched:sched_wakeup(?:_new)?:\s+comm=(.*?) "
    r"pid=(\d+)")
LINE_PID = re.compile(r"huptime\[(\d+)\]: ")
STAMP = re.compile(r" @(\d+)\.(\d{6})$")


class Timeline:
    """Per CPU, who ran when; per task, when it ran, waited or slept."""

    def __init__(self):
        self.cpu_runs = {}   # cpu: [(from_ns, to_ns, pid, comm)]
        self.states = {}     # pid: [(from_ns, to_ns, "run"|"wait"|"sleep")]

    def read(self, lines):
        current = {}  # cpu: (since_ns, pid, comm)
        last = {}     # pid: (since_ns, state) while not running
        for line in lines:
            m = SWITCH.match(line)
            if m:
                cpu, ns = int(m.group(1)), int(float(m.group(2)) * 1e9)
                prev, prev_state = int(m.group(4)), m.group(5)
                nxt, nxt_comm = int(m.group(7)), m.group(6)
                if cpu in current:
                    since, pid, comm = current[cpu]
                    self.cpu_runs.setdefault(cpu, []).append(
                        (since, ns, pid, comm))
                    self.add_state(pid, since, ns, "run")
                # "R" and "R+": preempted, still runnable.
                last[prev] = (ns, "wait" if prev_state.startswith("R")
                              else "sleep")
                if nxt in last:
                    since, state = last.pop(nxt)
                    self.add_state(nxt, since, ns, state)
                current[cpu] = (ns, nxt, nxt_comm)
                continue
            m = WAKEUP.match(line)
            if m:
                ns, pid = int(float(m.group(2)) * 1e9), int(m.group(4))
                if pid in last and last[pid][1] == "sleep":
                    self.add_state(pid, last[pid][0], ns, "sleep")
                    last[pid] = (ns, "wait")

    def add_state(self, pid, a, b, state):
        self.states.setdefault(pid, []).append((a, b, state))

    def task_ms(self, pid, a, b):
        out = {"run": 0.0, "wait": 0.0, "sleep": 0.0}
        for x, y, state in self.states.get(pid, []):
            overlap = min(b, y) - max(a, x)
            if overlap > 0:
                out[state] += overlap / 1e6
        return out

    def cpu_ms(self, cpu, a, b):
        """{(pid, comm): ms} run on `cpu` within [a, b]."""
        out = {}
        for x, y, pid, comm in self.cpu_runs.get(cpu, []):
            overlap = min(b, y) - max(a, x)
            if overlap > 0:
                out[(pid, comm)] = out.get((pid, comm), 0) + overlap / 1e6
        return out


def perf_lines(data):
    out = subprocess.run(["perf", "script", "-i", data, "-F",
                          "cpu,time,event,trace"], capture_output=True,
                         text=True, timeout=300)
    return out.stdout.splitlines()


def generations(row, restart_index):
    """(old serving pids, new copy's pids) from the window's lines."""
    r = row.done[restart_index]
    end = (row.done[restart_index + 1].signal_ns
           if restart_index + 1 < len(row.done) else 1 << 62)
    old, seen = set(), set()
    for _, text in row.service.lines:
        stamp = STAMP.search(text.rstrip("\n"))
        pid = LINE_PID.search(text)
        if not stamp or not pid:
            continue
        ns = int(stamp.group(1)) * 10**9 + int(stamp.group(2)) * 1000
        if not r.signal_ns <= ns < end:
            continue
        seen.add(int(pid.group(1)))
        if "]: stopped accepting on" in text:
            old.add(int(pid.group(1)))
    return old, seen - old


def label(pid, comm, old, new):
    if pid in old:
        return f"old server {pid}"
    if pid in new:
        return f"new copy {pid}"
    if comm == "tracer":
        return "load client"
    if pid == 0:
        return "idle"
    return comm


def kind(name):
    """A label without its pid, to add windows up."""
    return re.sub(r" \d+$", "", name)


def explain(row, result, timeline, out=sys.stdout):
    """One paragraph per restart window; returns the windows' figures."""
    figures = []
    for i, (r, sw) in enumerate(zip(row.done, result.get("switch", []))):
        a = r.signal_ns + int(sw["gap_from"] * 1e6)
        b = r.signal_ns + int(sw["gap_to"] * 1e6)
        old, new = generations(row, i)
        print(f"restart {i + 1}: longest no-answer {sw['gap_ms']:.2f} ms, "
              f"{sw['gap_from']:.2f}-{sw['gap_to']:.2f} ms after the signal "
              f"(new copy ready at {sw.get('ready', float('nan')):.2f}, "
              f"first new accept at {sw.get('accept', float('nan')):.2f})",
              file=out)
        waits = []
        for pid in sorted(old):
            t = timeline.task_ms(pid, a, b)
            waits.append(t["wait"])
            print(f"  old server {pid}: running {t['run']:.2f} ms, waiting "
                  f"for a CPU {t['wait']:.2f}, asleep {t['sleep']:.2f}",
                  file=out)
        new_ms = 0.0
        kinds = {}
        for cpu in sorted(timeline.cpu_runs):
            ran = timeline.cpu_ms(cpu, a, b)
            named = {}
            for (pid, comm), ms in ran.items():
                name = label(pid, comm, old, new)
                named[name] = named.get(name, 0) + ms
                kinds[kind(name)] = kinds.get(kind(name), 0) + ms
                if pid in new:
                    new_ms += ms
            top = sorted(named.items(), key=lambda kv: -kv[1])[:3]
            print(f"  cpu{cpu}: " + ", ".join(f"{n} {ms:.2f} ms"
                                              for n, ms in top), file=out)
        # The old process that waited longest: nginx's master stops
        # accepting too, but sleeps; its workers are the servers.
        figures.append({"gap_ms": sw["gap_ms"],
                        "old_wait_ms": max(waits) if waits else None,
                        "new_copy_ms": new_ms, "ran_ms": kinds})
    return figures


def totals(figures):
    """The windows added up (bench/run's "why" part), or None."""
    known = [f for f in figures if f["old_wait_ms"] is not None]
    if not known:
        return None
    ran = {}
    for f in known:
        for name, ms in f["ran_ms"].items():
            ran[name] = ran.get(name, 0) + ms
    return {"windows": len(known),
            "waited_half": sum(1 for f in known
                               if f["old_wait_ms"] >= f["gap_ms"] / 2),
            "gap_ms": sum(f["gap_ms"] for f in known),
            "old_wait_ms": sum(f["old_wait_ms"] for f in known),
            "new_copy_ms": sum(f["new_copy_ms"] for f in known),
            "ran_ms": ran}


def summary(figures, out=sys.stdout):
    t = totals(figures)
    if not t:
        print("no window with a known old server", file=out)
        return
    print(f"in {t['waited_half']} of {t['windows']} windows an old server "
          f"waited for a CPU for at least half of the longest no-answer "
          f"interval; over all of them the one that waited longest waited "
          f"{t['old_wait_ms']:.1f} of {t['gap_ms']:.1f} ms, and the new "
          f"copy ran for {t['new_copy_ms']:.1f} ms (CPU time, all CPUs)",
          file=out)


def record_row(paths, server, method, restarts, clients, data,
               out=sys.stdout):
    """Runs one restart row under perf; (result, figures) or raises
    RuntimeError when perf fails."""
    perf = subprocess.Popen(
        ["perf", "record", "-q", "-a", "-k", "CLOCK_MONOTONIC",
         "-e", "sched:sched_switch", "-e", "sched:sched_wakeup",
         "-e", "sched:sched_wakeup_new", "-o", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    row = restart.Row(paths, server, method, restarts, 0.8)
    try:
        result = row.run(clients)
    finally:
        perf.send_signal(signal.SIGINT)
        try:
            perf.wait(timeout=60)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf.wait()
    if perf.returncode not in (0, -signal.SIGINT):
        raise RuntimeError("perf record failed: " +
                           perf.stderr.read().decode(errors="replace")[-500:])
    timeline = Timeline()
    timeline.read(perf_lines(data))
    return result, explain(row, result, timeline, out)


def run_all(paths, rows, restarts, clients):
    """bench/run's "why" part: per (server, method), the windows added
    up; [] without perf."""
    if not shutil.which("perf"):
        common.log("why: perf not found (linux-perf): skipped")
        return []
    saved = restart.STARTUP_EXTRA
    restart.STARTUP_EXTRA = 0
    out = []
    try:
        for server, method in rows:
            workdir = common.make_tempdir("why")
            try:
                with open(os.devnull, "w") as quiet:
                    result, figures = record_row(
                        paths, server, method, restarts, clients,
                        os.path.join(workdir, "perf.data"), quiet)
                t = totals(figures)
                if t:
                    t.update(server=server, method=method,
                             gap_in_windows_ms=result["gap_in_windows_ms"])
                    out.append(t)
                common.log(f"why {server}/{method}: "
                           + (f"{t['waited_half']} of {t['windows']} "
                              f"windows waited" if t else "nothing known"))
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                common.log(f"why {server}/{method}: {e}")
            finally:
                common.remove_tempdir(workdir)
    finally:
        restart.STARTUP_EXTRA = saved
    return out


def main(argv):
    p = argparse.ArgumentParser(prog="bench/why-gaps")
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--server", default="cpp-epoll")
    p.add_argument("--method", default="fork", choices=("fork", "master"))
    p.add_argument("--restarts", type=int, default=8)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--perf-data", help="keep perf's recording in this file "
                   "(for `perf script -i FILE`)")
    args = p.parse_args(argv)
    if not shutil.which("perf"):
        print("why-gaps: perf not found (Debian: apt-get install linux-perf)",
              file=sys.stderr)
        return 1
    paths = common.Paths(args.build_dir, args.source_dir)
    common.become_subreaper()
    restart.STARTUP_EXTRA = 0
    workdir = common.make_tempdir("why-gaps")
    data = args.perf_data or os.path.join(workdir, "perf.data")
    try:
        result, figures = record_row(paths, args.server, args.method,
                                     args.restarts, args.clients, data)
    except RuntimeError as e:
        print(f"why-gaps: {e}", file=sys.stderr)
        return 1
    finally:
        common.remove_tempdir(workdir)
    print(f"{args.server} {args.method}: {result['failed']} failed, "
          f"control windows' longest no-answer "
          f"{result['gap_control_ms']:.2f} ms", flush=True)
    summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
