"""Hook cost, two ways:

- instructions, counted by valgrind --tool=callgrind (deterministic): the
  hookloop program runs a loop N times and 0 times, with and without the
  preload; (I(N) - I(0)) / N is the cost of one iteration in user space
  (libc, the loader and the library; the kernel is not counted).
    close(untracked)  one close() of an fd that is not open (the whole
                      program counted)
    accept4+close     the server's accept4 + close of a tracked connection,
                      counted inside hookloop_server_side alone
                      (--toggle-collect): the client's side of the
                      connection is another process's in real life
    connect           the client's connect, counted inside
                      hookloop_client_connect alone: a system call no hook
                      touches, so what it costs more under the preload is
                      what every other cancellation point of the program
                      (read, write, recv, send...) costs more
- the same per variant "plain+1t": plain with one idle thread. The
  preload's restart thread alone moves glibc onto its multi-threaded paths
  (every cancellation point then enables and disables asynchronous
  cancellation around the system call); the difference to plain+1t is the
  hooks' own cost.
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


def callgrind_instructions(paths, mode, n, variant_args, only=None):
    """Instructions of the whole run, or only inside function `only`."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            "--trace-children=yes"]
    if only:
        argv += ["--collect-atstart=no", f"--toggle-collect={only}"]
    argv += hookloop_argv(paths, variant_args, [mode, str(n)])
    status, _, err = common.run_quiet(argv, 300)
    counts = re.findall(r"Collected\s*:\s*(\d+)", err)
    if status != 0 or not counts:
        raise RuntimeError(f"callgrind {mode} {n}: status {status}: "
                           f"{err[-500:]}")
    return int(counts[-1])


def per_iteration(paths, mode, variant_args, only=None):
    n = LOOPS[mode]
    full = callgrind_instructions(paths, mode, n, variant_args, only)
    empty = callgrind_instructions(paths, mode, 0, variant_args, only)
    return (full - empty) / n


def instructions(paths):
    if not shutil.which("valgrind"):
        return None
    out = {}
    for variant, args in VARIANTS:
        out[variant] = {
            "close": per_iteration(paths, "close", args),
            "accept_close": per_iteration(paths, "accept", args,
                                          "hookloop_server_side"),
            "connect": per_iteration(paths, "accept", args,
                                     "hookloop_client_connect")}
    plain, mt, pre = out["plain"], out["plain+1t"], out["preload"]
    for key in ("close", "accept_close", "connect"):
        out[f"extra_{key}"] = pre[key] - plain[key]
        out[f"hooks_{key}"] = pre[key] - mt[key]
    common.log("  instructions (plain / plain+1t / preload): close(untracked) "
               + " / ".join(f"{out[v]['close']:.0f}" for v, _ in VARIANTS) +
               "; accept4+close(tracked) " +
               " / ".join(f"{out[v]['accept_close']:.0f}"
                          for v, _ in VARIANTS) + "; connect " +
               " / ".join(f"{out[v]['connect']:.0f}" for v, _ in VARIANTS))
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
