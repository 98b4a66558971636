"""Which of the library's functions a program's start-up runs, and whether
lib/startup_order.ld keeps them in the start-up window.

  python3 -m bench.benchlib.startup_trace --build-dir DIR --source-dir DIR

(bench/startup-trace passes the directories.) Runs /bin/true and a small
server (`hookloop serve`) under `valgrind --tool=callgrind`, with
LD_PRELOAD and the variables the launcher sets (`hookloop --print-env`),
and without --trace-children: a traced exec goes through valgrind's own
launcher, which would load the library and hand HUPTIME_FDS down, as no
real start does. Then, for every function of ours that ran, it looks up
where the linker put it: inside .text.huptime_startup or not.

Prints the functions that ran outside the window (each one can cost a
64 KiB fault-around window of resident memory in every process: add
them to lib/startup_order.ld, in the group that runs them), and the names
in lib/startup_order.ld that the library no longer has (a stale entry
costs nothing but clutter). Exit status 1 when a start-up function lies
outside the window, so that a script can check; 77 (skipped, for
meson's symbols suite) without valgrind.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

OB = re.compile(r"^(c?)ob=\((\d+)\)(?: (.*))?$")
FN = re.compile(r"^(c?)fn=\((\d+)\)(?: (.*))?$")
LISTED = re.compile(r"\*\(\.text\.(_Z\S+?|[a-z]\w*) ")


def ran_functions(callgrind_out):
    """Names of the functions with a cost of their own in the profile."""
    objects, functions, names, current = {}, {}, set(), None
    with open(callgrind_out) as f:
        for line in f:
            line = line.rstrip("\n")
            m = OB.match(line)
            if m:
                if m.group(3) is not None:
                    objects[m.group(2)] = m.group(3)
                if not m.group(1):
                    current = m.group(2)
                continue
            m = FN.match(line)
            if m:
                if m.group(3) is not None:
                    functions[m.group(2)] = m.group(3)
                if not m.group(1) and current is not None:
                    names.add(functions[m.group(2)])
    return names


def symbols(library):
    """{name: [(address, size)]} of the library's functions, GCC's clone
    suffixes (.isra.0...) cut off: the list names a function once, and
    its pattern takes the clones (NAME.*) and every translation unit's
    copy of a local one. Cold parts (NAME.cold, in .text.unlikely) are
    left out, as the list leaves them out."""
    out = subprocess.run(["nm", "-S", "--defined-only", library],
                         capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW" and \
                ".cold" not in parts[3]:
            name = parts[3].split(".")[0]
            table.setdefault(name, []).append((int(parts[0], 16),
                                               int(parts[1], 16)))
    return table


def section(library, name):
    """(start, end) of a section."""
    out = subprocess.run(["readelf", "-S", "-W", library],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1] == name:
            start, size = int(parts[3], 16), int(parts[5], 16)
            return start, start + size
    raise RuntimeError(f"{library}: no section {name}")


def trace(hookloop, library, argv, workdir):
    """The names of what ran in `argv`'s start-up under the preload."""
    env_lines = subprocess.run([hookloop, "--print-env", library] + argv,
                               capture_output=True, text=True,
                               check=True).stdout.splitlines()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HUPTIME_") and k != "LD_PRELOAD"}
    for entry in env_lines:
        key, _, value = entry.partition("=")
        env[key] = value
    out = os.path.join(workdir, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no",
                    f"--callgrind-out-file={out}"] + argv, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=300)
    return ran_functions(out)


def main(argv):
    p = argparse.ArgumentParser(prog="bench/startup-trace")
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    args = p.parse_args(argv)
    if not shutil.which("valgrind"):
        print("startup-trace: valgrind not found: skipped")
        return 77
    library = os.path.join(os.path.abspath(args.build_dir), "lib",
                           "libhuptime.so")
    hookloop = os.path.join(os.path.abspath(args.build_dir), "bench",
                            "hookloop")
    table = symbols(library)
    start, end = section(library, ".text.huptime_startup")
    outside = {}
    with tempfile.TemporaryDirectory(prefix="huptime-startup-trace-") as w:
        for program in (["/bin/true"], [hookloop, "serve"]):
            for name in trace(hookloop, library, program, w):
                if ".cold" in name:
                    continue
                name = name.split(".")[0]
                if any(not start <= address < end
                       for address, _ in table.get(name, [])):
                    outside.setdefault(name, set()).add(
                        os.path.basename(program[0]))
    print(f".text.huptime_startup: {start:#x}-{end:#x} "
          f"({(end - start) // 1024} KiB)")
    for name in sorted(outside, key=lambda n: table[n][0]):
        where = ", ".join(f"{address:#x} ({size} bytes)"
                          for address, size in table[name]
                          if not start <= address < end)
        print(f"  outside: {name} at {where} "
              f"(run by {', '.join(sorted(outside[name]))})")
    with open(os.path.join(args.source_dir, "lib", "startup_order.ld")) as f:
        listed = set(LISTED.findall(f.read()))
    # .text.startup is GCC's section for static constructors, not a name.
    stale = sorted(n for n in listed if n not in table and n != "startup")
    for name in stale:
        print(f"  stale: {name} (no such function in the library)")
    print(f"{len(outside)} start-up function(s) outside the window, "
          f"{len(stale)} stale name(s) in lib/startup_order.ld")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
