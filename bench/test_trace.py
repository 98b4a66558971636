"""Unit test of bench/benchlib/trace.judge's windows (suite `unit`):
restart, control and beside windows on a made-up trace whose answers and
holes are placed by hand, so every number judge() reports is known.

    python3 bench/test_trace.py
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench.benchlib import trace  # noqa: E402

MS = 1_000_000


def answers_every_ms(lo_ms, hi_ms, body=0, holes=()):
    """One 0.5 ms request ending at each whole ms in [lo_ms, hi_ms), except
    inside the holes [(from_ms, to_ms)]."""
    out = []
    for t in range(lo_ms, hi_ms):
        if any(a < t < b for a, b in holes):
            continue
        out.append(trace.Request(t * MS - MS // 2, t * MS, "ok", body))
    return out


class JudgeWindows(unittest.TestCase):
    def run_judge(self, beside):
        # Version 0 until 1000 ms, version 1 after; the restart is
        # signalled at 990 ms, so its window is [990, 1000] ms. Holes: 4 ms
        # in the restart window, 6 ms in the beside window at 1200 ms, 3 ms
        # elsewhere at 1500 ms.
        requests = answers_every_ms(100, 1000, 0, holes=[(994, 998)])
        requests += answers_every_ms(1000, 2000, 1,
                                     holes=[(1203, 1209), (1500, 1503)])
        requests.sort(key=lambda r: r.end)
        bodies = {0: "v0", 1: "v1"}
        restart = trace.Restart(990 * MS, body_key="v1")
        return trace.judge(requests, bodies, [restart], beside)

    def test_beside_window_is_measured_apart(self):
        res = self.run_judge([(1200 * MS, 1220 * MS)])
        self.assertEqual(res["gap_in_windows_ms"], 4.0)
        self.assertEqual(res["gap_beside_ms"], 6.0)
        self.assertEqual(res["beside_startup_ms"], [20.0])
        # Outside keeps only the 3 ms hole; the 6 ms one is beside's.
        self.assertEqual(res["gap_outside_ms"], 3.0)
        # Answers at 1200..1220 ms overlap it, less the hole's 1204..1208.
        self.assertEqual(res["beside"]["n"], 21 - 5)
        # The control window: as long as the restart window, 50 ms
        # before its signal, where answers come every ms.
        self.assertEqual(res["gap_control_ms"], 1.0)

    def test_without_beside_windows_outside_keeps_everything(self):
        res = self.run_judge([])
        self.assertEqual(res["gap_outside_ms"], 6.0)
        self.assertTrue(math.isnan(res["gap_beside_ms"]))
        self.assertEqual(res["beside"]["n"], 0)

    def test_beside_window_over_a_control_window_is_dropped(self):
        # The control window is [930, 940] ms.
        res = self.run_judge([(925 * MS, 935 * MS)])
        self.assertTrue(math.isnan(res["gap_beside_ms"]))
        self.assertEqual(res["beside_startup_ms"], [])
        self.assertEqual(res["gap_outside_ms"], 6.0)


if __name__ == "__main__":
    unittest.main()
