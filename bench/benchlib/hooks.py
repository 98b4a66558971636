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
- the same per variant "plain+1t": plain with one idle thread. The
  preload's restart thread alone moves glibc onto its multi-threaded paths
  (every cancellation point, accept4 and close among them, then enables
  and disables asynchronous cancellation around the system call); the
  difference to plain+1t is the hooks' own cost.
- time on many threads: hookloop threads (wall time per operation, all
  threads together, best of 3 alternating rounds), 1 and 4 threads, close
  of untracked fds and accept+close of tracked connections: if the path
  serialised on a lock, time per operation would grow with the threads
  under the preload and not without it.
"""

import re
import shutil

from . import common

LOOPS = {"close": 20000, "accept": 2000}


VARIANTS = (("plain", []), ("plain+1t", ["--idle-thread"]),
            ("preload", None))


def hookloop_argv(paths, variant_args, mode_args):
    """hookloop under the variant: extra arguments, or None for the
    preload (which brings its own restart thread once it has a
    listener)."""
    argv = [paths.hookloop]
    if variant_args is None:
        argv += ["--preload", paths.library]
    else:
        argv += variant_args
    return argv + mode_args


def callgrind_instructions(paths, mode, n, variant_args):
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            "--trace-children=yes"] + hookloop_argv(paths, variant_args,
                                                    [mode, str(n)])
    status, _, err = common.run_quiet(argv, 300)
    counts = re.findall(r"Collected\s*:\s*(\d+)", err)
    if status != 0 or not counts:
        raise RuntimeError(f"callgrind {mode} {n}: status {status}: "
                           f"{err[-500:]}")
    return int(counts[-1])


def per_iteration(paths, mode, variant_args):
    n = LOOPS[mode]
    full = callgrind_instructions(paths, mode, n, variant_args)
    empty = callgrind_instructions(paths, mode, 0, variant_args)
    return (full - empty) / n


def instructions(paths):
    if not shutil.which("valgrind"):
        return None
    out = {}
    for variant, args in VARIANTS:
        close = per_iteration(paths, "close", args)
        loop = per_iteration(paths, "accept", args)
        out[variant] = {"close": close, "accept_close": loop - close}
    plain, mt, pre = out["plain"], out["plain+1t"], out["preload"]
    out["extra_close"] = pre["close"] - plain["close"]
    out["extra_accept_close"] = pre["accept_close"] - plain["accept_close"]
    out["hooks_close"] = pre["close"] - mt["close"]
    out["hooks_accept_close"] = pre["accept_close"] - mt["accept_close"]
    common.log("  instructions (plain / plain+1t / preload): close(untracked) "
               + " / ".join(f"{out[v]['close']:.0f}" for v, _ in VARIANTS) +
               "; accept4+close(tracked) " +
               " / ".join(f"{out[v]['accept_close']:.0f}"
                          for v, _ in VARIANTS))
    return out


def threads(paths, rounds=3, n=200000):
    """{variant: {threads: [close ns, accept+close ns]}}: wall time per
    operation over all threads, best of `rounds` alternating rounds."""
    best = {}
    for _ in range(rounds):
        for variant, args in VARIANTS:
            for count in (1, 4):
                status, out, err = common.run_quiet(
                    hookloop_argv(paths, args, ["threads", str(count),
                                                str(n)]), 300)
                if status != 0:
                    raise RuntimeError(f"hookloop threads: {err[-300:]}")
                values = [float(v) for v in out.split()]
                old = best.setdefault(variant, {}).get(count)
                best[variant][count] = values if old is None else \
                    [min(a, b) for a, b in zip(old, values)]
    for variant, by_count in best.items():
        common.log(f"  {variant}: ns/op close, accept+close: 1 thread "
                   f"{by_count[1]}, 4 threads {by_count[4]}")
    return best
