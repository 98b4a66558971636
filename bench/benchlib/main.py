"""bench/run's driver: runs the parts in order, writes
bench/results/DATE.md, DATE.png and DATE.json, and the README's
Performance section.

  python3 -m bench.benchlib.main --build-dir DIR --source-dir DIR
      [--quick] [--no-readme] [--parts steady,hooks,startup,restart,why]
      [--only ROW]...

--quick: fewer rounds and restarts, for trying the script (its results
are written like any other). --only limits the restart rows (a server, a
method or server/method).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

from . import (common, hooks, keepalive, report, restart, sched,
               startup, steady)

PARTS = ("steady", "hooks", "startup", "restart", "why")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run")
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--only", action="append", default=[])
    return p.parse_args(argv)


def first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    distro = "?"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    return (f"{os.cpu_count()} × {cpu}, {mem_kib // 1024 // 1024} GiB, "
            f"{distro}, Linux {platform.release()}; "
            f"{first_line(['nginx', '-v'])}, "
            f"gunicorn "
            f"{first_line(['gunicorn', '--version']).split()[-1].strip(')')}, "
            f"Python {platform.python_version()}, "
            f"{first_line(['wrk', '--version']).split(' [')[0]}")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_parts(args, paths, res):
    parts = args.parse_parts
    q = args.quick
    if "steady" in parts:
        common.log("==> steady overhead")
        res["steady"] = steady.run_all(paths, rounds=2 if q else 21,
                                       seconds=1)
    if "hooks" in parts:
        common.log("==> hook cost")
        res["instructions"] = hooks.instructions(paths)
        res["threads"] = hooks.threads(paths)
        res["nginx_requests"] = keepalive.nginx_requests(paths)
    if "startup" in parts:
        common.log("==> start-up")
        res["startup"] = startup.run_all(paths, runs=30 if q else 100)
    if "restart" in parts:
        common.log("==> restart under load")
        res["restart"] = restart.run_all(paths, **res["params"],
                                         only=args.only)
    if "why" in parts:
        # Separate runs of the fork and --master rows under perf (tracing
        # would add to the latencies measured above).
        common.log("==> why: the fork and master rows under perf")
        modes = restart.huptime_modes(paths)
        rows = [(server, method) for server in ("cpp-epoll", "nginx")
                for method in ("fork", "master") if method in modes]
        res["why"] = sched.run_all(paths, rows, res["params"]["restarts"],
                                   res["params"]["clients"])


def write_results(args, res, stamp):
    results_dir = os.path.join(args.source_dir, "bench", "results")
    os.makedirs(results_dir, exist_ok=True)
    png = f"{stamp}.png"
    with tempfile.TemporaryDirectory() as work:
        have_plot = report.plot(res, os.path.join(results_dir, png), work)
    body = report.markdown(res, png if have_plot else "")
    with open(os.path.join(results_dir, f"{stamp}.md"), "w") as f:
        f.write(f"# huptime benchmarks, {res['date']}\n\n{body}")
    with open(os.path.join(results_dir, f"{stamp}.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    common.log(f"==> wrote bench/results/{stamp}.md"
               + (f" and {png}" if have_plot else ""))
    if not args.no_readme:
        readme_body = report.markdown(
            res, f"bench/results/{png}" if have_plot else "")
        readme_body = readme_body.replace("\n### ", "\n#### ")
        if readme_body.startswith("### "):
            readme_body = "#" + readme_body
        readme = os.path.join(args.source_dir, "README.md")
        if report.update_readme(readme, readme_body):
            common.log("==> README.md: Performance section updated")
        else:
            common.log("==> README.md has no bench markers: not updated")
    print(body)


def main(argv):
    args = parse_args(argv)
    args.parse_parts = set(args.parts.split(","))
    paths = common.Paths(args.build_dir, args.source_dir)
    missing = paths.missing()
    if missing:
        print("bench/run: not built: " + ", ".join(missing), file=sys.stderr)
        return 1
    common.become_subreaper()
    now = datetime.datetime.now(datetime.timezone.utc)
    res = {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
           "load_before": load_average(),
           "params": {"restarts": 3 if args.quick else 8, "interval": 0.8,
                      "clients": 8}}
    run_parts(args, paths, res)
    res["load_after"] = load_average()
    write_results(args, res, now.strftime("%Y-%m-%d-%H%M"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
