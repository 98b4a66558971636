"""Start-up: what the preload costs a program that starts and exits, run by
bench/startup (alternating runs, medians, RSS at exit from smaps_rollup): /bin/true,
and hookloop serve (socket, bind, listen, an epoll registration: under the
preload that also sets up the generation state, the restart signal and the
restart thread), at RLIMIT_NOFILE 1,024 and 524,288.
"""

import re

from . import common

NOFILE = "1024,524288"


def parse(text):
    """{nofile: {variant: (median_us, p90_us, rss_kib)}}"""
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"RLIMIT_NOFILE=(\d+)$", line.strip())
        if m:
            current = out.setdefault(int(m.group(1)), {})
            continue
        m = re.match(r"\s+(direct|preload|bare|launcher)\s+(\d+)\s+(\d+)\s+"
                     r"(\d+)", line)
        if m and current is not None:
            current[m.group(1)] = tuple(int(m.group(i)) for i in (2, 3, 4))
    return out


def run_all(paths, runs):
    programs = [("/bin/true", "/bin/true", []),
                ("small server", paths.hookloop, ["serve"])]
    results = []
    for label, program, args in programs:
        argv = [paths.startup, "--library", paths.library, "--launcher",
                paths.huptime, "--program", program, "--runs", str(runs),
                "--nofile", NOFILE]
        for arg in args:
            argv += ["--arg", arg]
        status, out, err = common.run_quiet(argv, 600)
        if status != 0:
            raise RuntimeError(f"startup {label}: {out[-500:]} {err[-500:]}")
        for note in re.findall(r"note: .*", out):
            common.log(f"  {label}: {note}")
        wanted = [int(n) for n in NOFILE.split(",")]
        for i, (nofile, variants) in enumerate(sorted(parse(out).items())):
            d, p = variants["direct"], variants["preload"]
            row = {"program": label, "nofile": nofile,
                   "nofile_wanted": wanted[min(i, len(wanted) - 1)],
                   "wall_direct_us": d[0], "wall_preload_us": p[0],
                   "wall_launcher_us": variants["launcher"][0],
                   "rss_direct_kib": d[2], "rss_preload_kib": p[2],
                   "rss_launcher_kib": variants["launcher"][2]}
            results.append(row)
            common.log(f"  {label} nofile={nofile}: {d[0]} -> {p[0]} us "
                       f"(+{p[0] - d[0]}), RSS {d[2]} -> {p[2]} KiB "
                       f"(+{p[2] - d[2]})")
    return results
