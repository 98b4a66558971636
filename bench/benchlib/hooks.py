"""Hook cost, two ways:

- instructions, counted by valgrind --tool=callgrind (deterministic): the
  hookloop program runs a loop N times and 0 times, with and without the
  preload; (I(N) - I(0)) / N is the cost of one iteration in user space
  (libc, the loader and the library; the kernel is not counted).
    close(untracked)  one close() of an fd that is not open
    accept+close      accept4 + close of a tracked connection: the loop's
                      iteration minus the client's own close (an untracked
                      close, counted above) and socket/connect, which are
                      not hooked and cost the same both ways
- time on many threads: bench/hookcost (ns per call, best of 5), the same
  close loop on 4 threads at once, plain, plain with an idle thread (the
  preload's restart thread alone moves glibc to its multi-threaded paths)
  and preloaded: if the path serialised on a lock, 4 threads would cost
  far more per call than 1.
"""

import re
import shutil

from . import common

LOOPS = {"close": 20000, "accept": 2000}


def callgrind_instructions(paths, mode, n, preload):
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            "--trace-children=yes", paths.hookloop]
    if preload:
        argv += ["--preload", paths.library]
    argv += [mode, str(n)]
    status, _, err = common.run_quiet(argv, 300)
    counts = re.findall(r"Collected\s*:\s*(\d+)", err)
    if status != 0 or not counts:
        raise RuntimeError(f"callgrind {mode} {n}: status {status}: "
                           f"{err[-500:]}")
    return int(counts[-1])


def per_iteration(paths, mode, preload):
    n = LOOPS[mode]
    full = callgrind_instructions(paths, mode, n, preload)
    empty = callgrind_instructions(paths, mode, 0, preload)
    return (full - empty) / n


def instructions(paths):
    if not shutil.which("valgrind"):
        return None
    out = {}
    for variant, preload in (("plain", False), ("preload", True)):
        close = per_iteration(paths, "close", preload)
        loop = per_iteration(paths, "accept", preload)
        out[variant] = {"close": close, "accept_close": loop - close}
    out["extra_close"] = out["preload"]["close"] - out["plain"]["close"]
    out["extra_accept_close"] = (out["preload"]["accept_close"] -
                                 out["plain"]["accept_close"])
    common.log(f"  instructions: close(untracked) "
               f"{out['plain']['close']:.0f} -> {out['preload']['close']:.0f}"
               f" (+{out['extra_close']:.0f}); accept4+close(tracked) "
               f"{out['plain']['accept_close']:.0f} -> "
               f"{out['preload']['accept_close']:.0f} "
               f"(+{out['extra_accept_close']:.0f})")
    return out


def threads(paths):
    """bench/hookcost's table: {label: [close ns, accept+close ns,
    4-thread close ns]}, the minimum over its rounds."""
    status, out, err = common.run_quiet([paths.hookcost, paths.huptime], 300)
    if status != 0:
        raise RuntimeError(f"hookcost: {err[-500:]}")
    best = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in ("plain", "plain+1t", "preload"):
            values = [float(p) for p in parts[1:]]
            old = best.get(parts[0])
            best[parts[0]] = values if old is None else \
                [min(a, b) for a, b in zip(old, values)]
    common.log("  hookcost ns/call [close, accept+close, 4-thread close]: " +
               ", ".join(f"{k} {v}" for k, v in best.items()))
    return best
