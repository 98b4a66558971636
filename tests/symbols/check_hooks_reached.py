#!/usr/bin/env python3
"""Every exported hook is really reached in a real program.

Runs srv_hookprobe (which calls each function it lists once, through the
ordinary libc symbols a program links against, e.g. accept4@GLIBC_2.10)
under the launcher with HUPTIME_LOG=trace, and checks that each function
that is both probed and exported by libhuptime.so logged "hook NAME". A
hook exported under the wrong version, or not at all, never logs.

usage: check_hooks_reached.py HUPTIME PROBE LIBHUPTIME.MAP
"""
import os
import re
import subprocess
import sys


def exported(map_path):
    text = open(map_path).read()
    body = re.search(r"global:(.*?)local:", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return {n.strip() for n in body.split(";") if n.strip()}


def main():
    huptime, probe, map_path = sys.argv[1:4]
    probed = set(subprocess.run([probe, "--list"], check=True,
                                capture_output=True, text=True,
                                timeout=30).stdout.split())
    env = dict(os.environ, HUPTIME_LOG="trace")
    run = subprocess.run([huptime, "--", probe], env=env, capture_output=True,
                         text=True, timeout=60)
    if run.returncode != 0:
        print(f"probe failed with status {run.returncode}:\n{run.stderr}")
        return 1
    seen = set(re.findall(r"hook (\w+)", run.stderr))
    expected = probed & exported(map_path)
    missing = sorted(expected - seen)
    print(f"probed {len(probed)}, exported and probed {len(expected)}, "
          f"reached {len(expected & seen)}")
    if missing:
        print("never reached: " + ", ".join(missing))
        return 1
    if "syscall" in expected and not re.search(r"hook syscall\(", run.stderr):
        print("syscall() was called but no raw call was routed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
