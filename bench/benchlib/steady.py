"""Steady overhead: requests/s and p99 latency of the same server with and
without the preload, side by side. Both copies run at once on two ports;
each round runs every client against one copy, then the other, the order
swapped every round, so that drift on the machine hits both alike. The
ratio of a round compares two runs seconds apart; the table gives the
median of the per-round ratios.

Clients: wrk (keep-alive where the server allows it, 2 threads, 8
connections) and the project's load client (8 closed-loop clients, one
request per connection: every request is an accept and a close).

With two CPUs or more, the servers run on one CPU and the clients on
another (taskset): left to the scheduler, client and server threads
migrate between two shared cores and the rounds of one variant differ by
±5%, ten times the difference the 0.99 target asks about. Many short
rounds, and the median of their ratios, for the same reason.
"""

import math
import os
import re
import shutil
import statistics

from . import common
from .servers import SERVERS

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, p99, int(errors.group(1)) if errors else 0


def parse_loadclient(text, seconds):
    fields = dict(kv.split("=", 1) for kv in text.split() if "=" in kv)
    return (int(fields["ok"]) / seconds, float(fields["p99_ms"]),
            int(fields["failed"]))


def pinned(argv, role):
    """argv on the CPU of its role ("server" or "client"), when there are
    two CPUs to choose from and taskset is there."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not shutil.which("taskset"):
        return argv
    cpu = cpus[0] if role == "server" else cpus[1]
    return ["taskset", "-c", str(cpu)] + argv


def run_client(paths, client, port, path, seconds):
    if client == "wrk":
        _, out, _ = common.run_quiet(pinned(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency",
             f"http://127.0.0.1:{port}{path}"], "client"), seconds + 30)
        return parse_wrk(out)
    _, out, _ = common.run_quiet(pinned(
        [paths.loadclient, "--target", f"tcp:127.0.0.1:{port}", "--clients",
         "8", "--duration", str(seconds), "--path", path], "client"),
        seconds + 30)
    return parse_loadclient(out.splitlines()[0], seconds)


def start_pair(paths, server_name):
    """The server twice: plain and under huptime (fork mode)."""
    pair = {}
    for variant in ("plain", "preload"):
        workdir = common.make_tempdir(f"steady-{server_name}-{variant}")
        server = SERVERS[server_name](paths, workdir, common.free_port())
        server.set_version(0)
        argv = server.argv()
        if variant == "preload":
            argv = [paths.huptime, "--"] + argv
        service = common.Service(pinned(argv, "server"), cwd=workdir,
                                 name=server_name)
        if service.wait_serving(server.port, server.path) is None:
            raise RuntimeError(f"{server_name} {variant} did not start")
        pair[variant] = (server, service)
    return pair


def stop_pair(pair):
    for server, service in pair.values():
        service.stop()
        common.remove_tempdir(server.dir)


def run_all(paths, rounds, seconds, servers=("cpp-epoll", "nginx")):
    clients = ["loadclient"] + (["wrk"] if shutil.which("wrk") else [])
    results = []
    for server_name in servers:
        if not SERVERS[server_name](paths, "", 0).available():
            continue
        pair = start_pair(paths, server_name)
        try:
            for client in clients:
                runs = {"plain": [], "preload": []}
                for rnd in range(rounds):
                    order = ("plain", "preload") if rnd % 2 == 0 else \
                        ("preload", "plain")
                    for variant in order:
                        server, _ = pair[variant]
                        runs[variant].append(run_client(
                            paths, client, server.port, server.path, seconds))
                results.append(summarise(server_name, client, runs))
                r = results[-1]
                common.log(f"  {server_name} {client}: {r['rps_plain']:.0f}"
                           f" vs {r['rps_preload']:.0f} req/s"
                           f" (x{r['rps_ratio']:.3f}), p99"
                           f" {r['p99_plain']:.3f} vs {r['p99_preload']:.3f}"
                           f" ms")
        finally:
            stop_pair(pair)
    return results


def median_se(values):
    """The standard error of the median of `values` (1.2533 s / sqrt(n),
    its large-sample value for normally spread rounds): how far the
    median ratio may be off by the rounds' noise alone."""
    if len(values) < 2:
        return float("nan")
    return 1.2533 * statistics.stdev(values) / math.sqrt(len(values))


def summarise(server_name, client, runs):
    ratios = [b[0] / a[0] for a, b in zip(runs["plain"], runs["preload"])
              if a[0] > 0]
    p99_ratios = [b[1] / a[1] for a, b in zip(runs["plain"], runs["preload"])
                  if a[1] > 0]
    return {
        "server": server_name, "client": client, "rounds": len(ratios),
        "rps_plain": common.median([r[0] for r in runs["plain"]]),
        "rps_preload": common.median([r[0] for r in runs["preload"]]),
        "rps_ratio": common.median(ratios),
        "rps_ratio_min": min(ratios) if ratios else float("nan"),
        "rps_ratio_max": max(ratios) if ratios else float("nan"),
        "rps_ratios": ratios,
        "rps_ratio_se": median_se(ratios),
        "p99_plain": common.median([r[1] for r in runs["plain"]]),
        "p99_preload": common.median([r[1] for r in runs["preload"]]),
        "p99_ratio": common.median(p99_ratios),
        "errors": sum(r[2] for v in runs.values() for r in v),
    }
