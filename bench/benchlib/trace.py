"""Reading the tracer's output and judging a restart run from it.

A restart *window* runs from the restart signal (or command) to the moment
the new generation serves: the first answer with the new version's body
when the server has versions, else the moment the library logged the
switch (fork: the old copy stopped accepting; exec: the new image is
ready), or for stop+start the first answer to a request sent after the old
process was gone. A request is *inside* when its lifetime overlaps a
window. The *longest no-answer interval* is the longest time between two
consecutive answers (completions of successful requests); it is reported
for intervals that overlap a window and for the others (on a shared
machine, the latter is the scheduler's noise floor).

Fork and --master rows also have *beside* windows: from the spawn of the
same command, started beside the service on a port of its own with no
restart, to its first answer (restart.Row.beside_window). Requests and
intervals that overlap one are kept out of "outside" and reported apart:
what a new copy's start-up alone costs the old one on this machine, to
set the restart windows against.

The noise floor outside windows is the longest of many more intervals
than the windows hold (seconds of steady load against 8 windows of tens of
milliseconds), so it is also reported for *control* windows: each window's
length, placed just before its signal, in steady load. The in-window gap
against the control gap compares like with like.

Exec mode: the driver also notes when the library logged that it
re-executes; each gap then splits into the part before the exec (the
drain's tail and the library's steps: `pre_exec`) and the part after (the
program's own start-up in place, up to its first answer: `post_exec`).

Fork and --master: the service logs at debug level, where each library
line ends in its CLOCK_MONOTONIC time (lib/log.cc), and the driver notes
the hand-off's steps from them (SWITCH_EVENTS): the new copy ready, the
first and last process of the old generation stopped accepting, the new
copy's barrier released, its first accept. `switch` then says, for each
window, when each step came (ms after the signal) and which steps the
window's longest no-answer interval spans.
"""

import bisect
import re

from .common import median, percentile


class Request:
    __slots__ = ("start", "end", "outcome", "body")

    def __init__(self, start, end, outcome, body):
        self.start, self.end, self.outcome, self.body = start, end, outcome, body


def read_trace(path):
    """(requests sorted by end, {body index: first line})."""
    requests, bodies = [], {}
    with open(path) as f:
        for line in f:
            if line.startswith("# body "):
                _, _, index, text = line.rstrip("\n").split(" ", 3)
                bodies[int(index)] = text
                continue
            start, end, outcome, body = line.split()
            requests.append(Request(int(start), int(end), outcome, int(body)))
    requests.sort(key=lambda r: r.end)
    return requests, bodies


class Restart:
    """One restart as the driver did it: when it was signalled and how to
    tell that the new generation serves."""

    def __init__(self, signal_ns, body_key=None, logged_ns=None,
                 old_gone_ns=None):
        self.signal_ns = signal_ns
        self.exec_ns = None             # exec: the re-executing line
        self.body_key = body_key        # first answer with this body
        self.logged_ns = logged_ns      # the library's log line
        self.old_gone_ns = old_gone_ns  # stop+start: the old process exited
        self.serving_ns = None
        self.events = {}                # fork, master: SWITCH_EVENTS name: ns


# The hand-off's steps in the library's debug lines, in the order they
# should come: (name, pattern). The first line of each after the signal
# counts, except "stopped" (first and last: one per old process).
SWITCH_EVENTS = [
    ("ready", r"\]: ready \(generation"),
    ("stopped", r"\]: stopped accepting on"),
    ("released", r"\]: hand-off barrier:"),
    ("accept", r"\]: accepting on listener"),
]
STAMP = re.compile(r" @(\d+)\.(\d{6})$")


def note_switch_events(restarts, lines):
    """Fills restart.events from the service's stamped lines (text only;
    the reader's arrival times lag)."""
    stamped = []
    for text in lines:
        m = STAMP.search(text.rstrip("\n"))
        if m:
            stamped.append((int(m.group(1)) * 10**9 + int(m.group(2)) * 1000,
                            text))
    stamped.sort()
    starts = [r.signal_ns for r in restarts] + [float("inf")]
    for r, end in zip(restarts, starts[1:]):
        for ns, text in stamped:
            if not r.signal_ns <= ns < end:
                continue
            for name, pattern in SWITCH_EVENTS:
                if not re.search(pattern, text):
                    continue
                if name == "stopped":
                    r.events.setdefault("stopped_first", ns)
                    r.events["stopped_last"] = ns
                elif name == "accept":
                    # The new copy's, not an old worker's: after release.
                    if "released" in r.events:
                        r.events.setdefault(name, ns)
                else:
                    r.events.setdefault(name, ns)


def switch_timelines(restarts, answers):
    """Per restart with events: {step: ms after the signal}, plus the
    window's longest no-answer interval as "gap_from"/"gap_to" (ms after
    the signal) and "gap_ms"."""
    out = []
    for r in restarts:
        if not r.events or r.serving_ns is None:
            continue
        t = {k: (ns - r.signal_ns) / 1e6 for k, ns in r.events.items()}
        i = max(0, bisect.bisect_left(answers, r.signal_ns) - 1)
        best = (0, 0)
        while i + 1 < len(answers) and answers[i] <= r.serving_ns:
            if answers[i + 1] - answers[i] > best[1] - best[0]:
                best = (answers[i], answers[i + 1])
            i += 1
        t["gap_from"] = (best[0] - r.signal_ns) / 1e6
        t["gap_to"] = (best[1] - r.signal_ns) / 1e6
        t["gap_ms"] = (best[1] - best[0]) / 1e6
        out.append(t)
    return out


def find_serving(restart, requests, bodies):
    """Sets restart.serving_ns from the trace (or the log)."""
    if restart.body_key is not None:
        wanted = {i for i, text in bodies.items() if text == restart.body_key}
        for r in requests:
            if r.outcome == "ok" and r.body in wanted and \
                    r.end >= restart.signal_ns:
                restart.serving_ns = r.end
                return
    if restart.old_gone_ns is not None:
        for r in requests:
            if r.outcome == "ok" and r.start >= restart.old_gone_ns:
                restart.serving_ns = r.end
                return
    if restart.logged_ns is not None:
        restart.serving_ns = restart.logged_ns


def latency_summary(latencies_ms):
    s = sorted(latencies_ms)
    return {"n": len(s), "p50": percentile(s, 50), "p99": percentile(s, 99),
            "max": s[-1] if s else float("nan")}


def longest_gap(answers, lo, hi):
    """The longest interval between consecutive answers (sorted ends)
    that overlaps [lo, hi], in ms."""
    i = max(0, bisect.bisect_left(answers, lo) - 1)
    longest = 0.0
    while i + 1 < len(answers) and answers[i] <= hi:
        longest = max(longest, (answers[i + 1] - answers[i]) / 1e6)
        i += 1
    return longest


def control_windows(windows, margin_ns=50_000_000):
    """For each window, one as long ending `margin_ns` before its start,
    when it fits after the previous window (else none)."""
    out, previous_end = [], None
    for lo, hi in sorted(windows):
        c_hi = lo - margin_ns
        c_lo = c_hi - (hi - lo)
        if previous_end is None or c_lo > previous_end:
            out.append((c_lo, c_hi))
        previous_end = hi
    return out


def exec_split(restarts, answers):
    """Exec mode: [(pre_exec_ms, post_exec_ms)] per restart whose
    re-executing line was seen: last answer before it to it, and it to the
    first answer after it."""
    out = []
    for r in restarts:
        if r.exec_ns is None:
            continue
        i = bisect.bisect_right(answers, r.exec_ns)
        if 0 < i < len(answers):
            out.append(((r.exec_ns - answers[i - 1]) / 1e6,
                        (answers[i] - r.exec_ns) / 1e6))
    return out


def judge(requests, bodies, restarts, beside=()):
    """The numbers of one restart run (times in ms). `beside`: the beside
    windows, (lo, hi) ns; one that overlaps a restart or control window is
    dropped."""
    for restart in restarts:
        find_serving(restart, requests, bodies)
    windows = [(r.signal_ns, r.serving_ns) for r in restarts
               if r.serving_ns is not None]
    controls = control_windows(windows)

    def overlaps(a, b, spans):
        return any(a <= hi and b >= lo for lo, hi in spans)

    beside = [(lo, hi) for lo, hi in beside
              if not overlaps(lo, hi, windows + controls)]
    inside, outside, near = [], [], []
    for r in requests:
        if r.outcome != "ok":
            continue
        ms = (r.end - r.start) / 1e6
        if overlaps(r.start, r.end, windows):
            inside.append(ms)
        elif overlaps(r.start, r.end, beside):
            near.append(ms)
        else:
            outside.append(ms)
    answers = [r.end for r in requests if r.outcome == "ok"]
    gap_in, gap_out = 0.0, 0.0
    for a, b in zip(answers, answers[1:]):
        gap = (b - a) / 1e6
        if overlaps(a, b, windows):
            gap_in = max(gap_in, gap)
        elif not overlaps(a, b, beside):
            gap_out = max(gap_out, gap)
    gaps_in = [longest_gap(answers, lo, hi) for lo, hi in windows]
    gaps_control = [longest_gap(answers, lo, hi) for lo, hi in controls]
    gaps_beside = [longest_gap(answers, lo, hi) for lo, hi in beside]
    split = exec_split(restarts, answers)
    timelines = switch_timelines(restarts, answers)
    to_serving = [(r.serving_ns - r.signal_ns) / 1e6 for r in restarts
                  if r.serving_ns is not None]
    failures = {}
    for r in requests:
        if r.outcome != "ok":
            failures[r.outcome] = failures.get(r.outcome, 0) + 1
    return {
        "requests": len(requests),
        "failed": sum(failures.values()),
        "failures": failures,
        "inside": latency_summary(inside),
        "outside": latency_summary(outside),
        "longest_gap_ms": max(gap_in, gap_out),
        "gap_in_windows_ms": gap_in,
        "gap_outside_ms": gap_out,
        # Per window, in order; and in the control windows before them.
        "gaps_in_windows_ms": gaps_in,
        "gaps_control_ms": gaps_control,
        "gap_control_ms": max(gaps_control, default=float("nan")),
        # The same command started beside it, no restart (fork, master).
        "beside": latency_summary(near),
        "gaps_beside_ms": gaps_beside,
        "gap_beside_ms": max(gaps_beside, default=float("nan")),
        "beside_startup_ms": [(hi - lo) / 1e6 for lo, hi in beside],
        "pre_exec_ms": [a for a, _ in split],
        "post_exec_ms": [b for _, b in split],
        "switch": timelines,
        "restarts": len(restarts),
        "restarts_seen": len(to_serving),
        "to_serving_median_ms": median(to_serving),
        "to_serving_max_ms": max(to_serving) if to_serving else float("nan"),
    }
