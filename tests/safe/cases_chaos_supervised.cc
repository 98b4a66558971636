// Chaos for the PID a supervisor watches (issue 6): in exec mode the
// service itself, in master mode `huptime --master`. It is SIGKILLed at a
// random moment of a restart under load (exec mode: stopping accepting,
// the drain, the re-exec or the new image's start-up; master mode: the
// new copy's start, the hand-over or the old copy's drain), then started
// again as a supervisor would. After each kill, nothing of the killed
// service is left once its drain timeout has passed (no orphan), and the
// new start binds the port and answers; over the whole run, never two
// processes hold the listening socket for longer than the drain timeout
// (accept_monitor.h). The seed is printed; HUPTIME_CHAOS_SEED replays it.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "accept_monitor.h"
#include "cases.h"
#include "proc_scan.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kKills = 50;
constexpr int kDrainTimeoutMs = 3000;

// Polls /proc (20 ms) until no process of `group` is left; how many are
// left at the deadline.
size_t wait_group_gone(pid_t group, const Deadline& deadline) {
  for (;;) {
    size_t left = 0;
    for (const ProcStat& p : list_processes())
      if (p.pgrp == group) ++left;
    if (left == 0 || deadline.expired()) return left;
    poll(nullptr, 0, 20);
  }
}

}  // namespace

void case_chaos_supervised(Harness& h) {
  unsigned seed = chaos_seed();
  fmt::print(stderr,
             "safe_test: chaos seed {} (HUPTIME_CHAOS_SEED={} "
             "replays this run)\n",
             seed, seed);
  std::mt19937 rng(seed);
  bool master = h.options().mode == "master";
  StartSpec spec;
  spec.launcher_args = {fmt::format("--drain-timeout={}ms", kDrainTimeoutMs)};
  h.start(spec);
  h.start_load();
  AcceptMonitor accepting(port_of(h));
  accepting.watch(getpgid(h.leader()), master ? h.leader() : 0);
  int warm = 0;
  for (int i = 0; i < kKills; ++i) {
    pid_t victim = h.leader();
    pid_t group = getpgid(victim);
    bool slow = rng() % 2;  // a new version that takes 200 ms to listen
    warm += slow ? 1 : 0;
    h.write_startup(slow ? "warmup=200" : "ok");
    check(kill(victim, SIGHUP) == 0, "SIGHUP to {} failed", victim);
    std::this_thread::sleep_for(milliseconds(rng() % 400));  // the moment
    check(kill(victim, SIGKILL) == 0, "SIGKILL to {} failed", victim);
    size_t left = wait_group_gone(
        group, Deadline(milliseconds(kDrainTimeoutMs) + seconds(5)));
    check(left == 0,
          "kill {}: {} process(es) of the killed service (group {}) still "
          "there {} ms after the drain timeout",
          i + 1, left, group, 5000);
    h.start(spec);  // as the supervisor would; binds the port anew
    accepting.watch(getpgid(h.leader()), master ? h.leader() : 0);
  }
  double longest_two = accepting.stop();
  h.load().stop();
  LoadStats stats = h.stats();
  fmt::print(stderr, "safe_test: chaos load: {}", format_summary(stats));
  h.note(fmt::format(
      "seed={} kills={} slow_starts={} requests={} ok={} refused={} "
      "max_holders={} longest_two_holders_ms={:.0f}",
      seed, kKills, warm, stats.requests, stats.ok,
      stats.count(Outcome::kRefused), accepting.max_holders(), longest_two));
  check(longest_two < kDrainTimeoutMs,
        "two processes held the listening socket for {:.0f} ms (drain "
        "timeout {} ms)",
        longest_two, kDrainTimeoutMs);
  check(stats.ok > 0, "no request succeeded");
  h.stop_service();  // every process gone: no orphan
}

}  // namespace huptime::test
