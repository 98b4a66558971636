// Chaos (issue 6): SIGKILL at random moments of restarts under load, with
// a seed printed so that a failure can be replayed (HUPTIME_CHAOS_SEED).
// Fork mode: there the old generation serves while the new one starts, so
// killing either one must never leave the service refusing connections.
// (In exec mode the process that drains is the one that re-executes:
// killing it kills the service, as killing any server does; what is
// checked there, and for the master, is cases_chaos_supervised.cc.) Both
// check that two processes never hold the listening socket for longer
// than the drain timeout (accept_monitor.h).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <regex>
#include <thread>

#include "accept_monitor.h"
#include "cases.h"
#include "child_process.h"
#include "gap_monitor.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kKills = 120;
constexpr int kDrainTimeoutMs = 3000;

std::regex started_line(pid_t old_pid) {
  return std::regex(
      fmt::format(R"(huptime\[{}\]: new copy started as pid (\d+))", old_pid));
}

// The starting generation: a restart whose new copy takes 300 ms before
// listen() (warmup), SIGKILLed at a random moment of it. The old one
// must see the failure and keep serving.
void kill_starting(Harness& h, std::mt19937& rng) {
  h.write_startup("warmup=300");
  size_t from = h.log_cursor();
  pid_t old = h.leader();
  check(kill(old, SIGHUP) == 0, "SIGHUP to {} failed", old);
  LogMatch started =
      h.wait_log(started_line(old), from, "the new copy's start", seconds(10));
  pid_t fresh = std::stoi(started.groups[1]);
  std::this_thread::sleep_for(milliseconds(rng() % 250));  // the moment
  kill(fresh, SIGKILL);
  LogMatch failed =
      h.wait_log(failed_line(), from, "the killed copy's failure", seconds(10));
  check(std::stoi(failed.groups[2]) == fresh,
        "another copy failed: {} (killed {})", failed.line, fresh);
  check(pid_alive(old), "the old generation {} died", old);
}

// A draining generation: a normal restart, and the old leader SIGKILLed
// a random moment after the new one is ready. True when it was still
// there to be killed (it may have finished draining already).
bool kill_draining(Harness& h, std::mt19937& rng) {
  h.write_startup("ok");
  size_t from = h.log_cursor();
  pid_t old = h.leader();
  check(kill(old, SIGHUP) == 0, "SIGHUP to {} failed", old);
  LogMatch draining = h.wait_log(draining_line(old), from,
                                 "the old generation draining", seconds(10));
  pid_t fresh = std::stoi(draining.groups[1]);
  h.set_leader(fresh);
  std::this_thread::sleep_for(milliseconds(rng() % 20));  // the moment
  bool hit = kill(old, SIGKILL) == 0 && pid_alive(old);
  expect_exit(old, Deadline(seconds(10)), "the killed old generation");
  return hit;
}

}  // namespace

unsigned chaos_seed() {
  const char* text = getenv("HUPTIME_CHAOS_SEED");
  return text ? static_cast<unsigned>(std::strtoul(text, nullptr, 10))
              : 20261122u;
}

int port_of(const Harness& h) {
  const std::string& text = h.target().text;
  return std::stoi(text.substr(text.rfind(':') + 1));
}

void case_chaos(Harness& h) {
  unsigned seed = chaos_seed();
  fmt::print(stderr,
             "safe_test: chaos seed {} (HUPTIME_CHAOS_SEED={} "
             "replays this run)\n",
             seed, seed);
  std::mt19937 rng(seed);
  StartSpec spec;
  spec.launcher_args = {fmt::format("--drain-timeout={}ms", kDrainTimeoutMs)};
  h.start(spec);
  h.start_load();
  GapMonitor gaps(h.load());
  AcceptMonitor accepting(port_of(h));
  accepting.watch(getpgid(h.leader()), 0);
  int starting = 0, draining = 0, draining_hit = 0;
  for (int i = 0; i < kKills; ++i) {
    if (rng() % 2) {
      kill_starting(h, rng);
      ++starting;
    } else {
      draining_hit += kill_draining(h, rng) ? 1 : 0;
      ++draining;
    }
  }
  h.write_startup("ok");
  // Still answering after the last kill (wait_successes would count the
  // resets of killed generations as failures).
  uint64_t ok_before = h.stats().ok;
  Deadline answering(seconds(10));
  while (h.stats().ok < ok_before + 16 && !answering.expired())
    std::this_thread::sleep_for(milliseconds(10));
  check(h.stats().ok >= ok_before + 16, "no answers after the last kill");
  double longest_gap = gaps.stop();
  double longest_two = accepting.stop();
  h.load().stop();
  LoadStats stats = h.stats();
  fmt::print(stderr, "safe_test: chaos load: {}", format_summary(stats));
  h.note(
      fmt::format("seed={} kills={} starting={} draining={} "
                  "draining_alive={} requests={} failed={} refused={} "
                  "longest_gap_ms={:.0f} max_holders={} "
                  "longest_two_holders_ms={:.0f}",
                  seed, starting + draining, starting, draining, draining_hit,
                  stats.requests, stats.failed, stats.count(Outcome::kRefused),
                  longest_gap, accepting.max_holders(), longest_two));
  // A killed generation loses the requests it was answering (reset, EOF);
  // a connection is never refused while a ready generation exists.
  check(stats.count(Outcome::kRefused) == 0, "{} connections refused",
        stats.count(Outcome::kRefused));
  check(stats.ok > 0, "no request succeeded");
  // Two holders: a starting copy beside the serving one, or an old copy
  // that still accepts (accept_monitor.h).
  check(longest_two < kDrainTimeoutMs,
        "two processes held the listening socket for {:.0f} ms (drain "
        "timeout {} ms)",
        longest_two, kDrainTimeoutMs);
  h.expect_back_to_baseline("after the chaos", seconds(10), false);
  h.stop_service();  // every process gone: no orphan
}

}  // namespace huptime::test
