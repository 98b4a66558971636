// The old generation's way out: a slow new version (warm-up), idle
// keep-alive connections bounded by --drain-timeout, --stop while a
// generation drains, and the --stop-signal it receives.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "cases.h"
#include "child_process.h"
#include "gap_monitor.h"
#include "idle_conn.h"
#include "proc_scan.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kRestartTimeout = seconds(30);

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return ms_between(from, to) / 1000.0;
}

// The log line that says the old generation stopped accepting: fork mode,
// the old leader's "draining"; exec mode, "re-executing" (the old image is
// gone). Returns when it was seen.
Clock::time_point wait_switch(Harness& h, pid_t old, size_t from,
                              Clock::duration within) {
  if (h.fork_mode())
    h.wait_log(
        draining_line(old), from,
        fmt::format("'huptime[{}]: new copy pid N is ready; draining'", old),
        within);
  else
    h.wait_log(reexec_line(old), from,
               fmt::format("'huptime[{}]: re-executing'", old), within);
  return Clock::now();
}

// Opens `count` idle connections (the odd ones with half a request) and
// waits until the leader has accepted them.
std::vector<std::unique_ptr<IdleConnection>> open_idle(Harness& h, int count) {
  int fds = count_fds(h.leader());
  std::vector<std::unique_ptr<IdleConnection>> idle;
  for (int i = 0; i < count; ++i)
    idle.push_back(std::make_unique<IdleConnection>(
        h.target(), i % 2 ? "GET / HTTP/1.0\r\n" : ""));
  wait_fds(h.leader(), fds + count, "accepting the idle connections");
  return idle;
}

}  // namespace

// warmup=5000: the new version binds, then takes 5 s before listen().
// Fork mode: the old generation answers all along and --restart returns
// only once the new one is ready. Exec mode: connections wait in the
// kernel's queue; none fails.
void case_warmup(Harness& h) {
  h.start({{"--start-timeout=30s"}, "", {}});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  h.write_startup("warmup=5000");
  size_t from = h.log_cursor();
  uint64_t v0_before = h.version_count(h.stats(), 0);
  GapMonitor gaps(h.load());
  auto pending = std::async(std::launch::async,
                            [&h] { return h.restart(kRestartTimeout); });
  // Half-way through the warm-up: still the old version only.
  bool early = pending.wait_for(seconds(4)) == std::future_status::ready;
  LoadStats mid = h.stats();
  CommandResult result = pending.get();
  double longest = gaps.stop();
  h.note(fmt::format("longest_gap_ms={:.0f}", longest));
  check(!early, "--restart returned during the warm-up: {}", result.describe());
  h.expect_restart_ok(result);
  check(result.seconds() >= 4.9,
        "--restart returned after {:.2f} s, before "
        "the 5 s warm-up ended",
        result.seconds());
  check(h.version_count(mid, 1) == 0, "version 1 answered during its warm-up");
  if (h.fork_mode()) {
    uint64_t served = h.version_count(mid, 0) - v0_before;
    check(served >= 100, "only {} answers in the first 4 s of the warm-up",
          served);
    check(longest < 1000, "{:.0f} ms without an answer during the warm-up",
          longest);
  }
  wait_switch(h, old, from, seconds(5));
  h.mark_stale(0, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after the warm-up");
  if (h.fork_mode())
    expect_exit(old, Deadline(seconds(10)), "the old leader after draining");
  h.finish_load();
  h.stop_service();
}

// Two idle connections (one silent, one with half a request) and
// --drain-timeout=2s: the old generation is gone within 3 s of starting to
// drain, the idle connections are closed by then, the load never fails.
void case_keepalive(Harness& h) {
  h.start({{"--drain-timeout=2s"}, "", {}});
  auto idle = open_idle(h, 2);
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  size_t from = h.log_cursor();
  Clock::time_point begin = Clock::now();
  auto pending = std::async(std::launch::async,
                            [&h] { return h.restart(kRestartTimeout); });
  Clock::time_point gone;
  if (h.fork_mode()) {
    Clock::time_point drain = wait_switch(h, old, from, seconds(10));
    expect_exit(old, Deadline::at(drain + seconds(3)),
                "the old leader 3 s after it started draining");
    gone = Clock::now();
    h.note(fmt::format("old_exit_after_drain_s={:.2f}",
                       seconds_between(drain, gone)));
  } else {
    // The drain starts when the signal arrives, right after `begin`.
    gone = wait_switch(h, old, from, seconds(10));
    check(gone - begin < milliseconds(3500),
          "re-executed {:.2f} s after the restart began; the drain timeout "
          "is 2 s",
          seconds_between(begin, gone));
    h.note(fmt::format("reexec_after_s={:.2f}", seconds_between(begin, gone)));
  }
  h.expect_restart_ok(pending.get());
  for (size_t i = 0; i < idle.size(); ++i)
    check(idle[i]->wait_closed_by_server(Deadline(milliseconds(500))),
          "idle connection {} still open after the old generation ended", i);
  h.mark_stale(0, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after the drain");
  h.finish_load();
  h.stop_service();
}

// --stop while a generation drains (an idle connection, a drain timeout of
// 60 s): exit 0, and then not one process of the service is left.
void case_stop(Harness& h) {
  h.start({{"--drain-timeout=60s"}, "", {}});
  auto idle = open_idle(h, 1);
  pid_t old = h.leader();
  h.write_body(1);
  size_t from = h.log_cursor();
  if (h.fork_mode()) {
    h.expect_restart_ok(h.restart(kRestartTimeout));
    h.wait_log(draining_line(old), from, "'new copy pid N is ready; draining'",
               seconds(5));
  } else {
    // --restart would block for the whole drain: signal directly.
    check(kill(old, SIGHUP) == 0, "kill({}, SIGHUP) failed", old);
    h.wait_log(std::regex(fmt::format(
                   R"(huptime\[{}\]: restart (#\d+ )?requested)", old)),
               from, "'restart requested'", seconds(5));
  }
  check(pid_alive(old), "the draining generation (pid {}) is already gone",
        old);
  check(idle[0]->still_open(), "the idle connection was closed before --stop");
  CommandResult result = h.control(
      {"--stop", "--timeout=10s", fmt::format("--pid={}", h.leader())},
      seconds(20));
  fmt::print(stderr, "safe_test: stop: {}\n", result.describe());
  h.note(
      fmt::format("stop=exit{}/{:.2f}s", result.exit_code, result.seconds()));
  check(result.exit_code == 0, "--stop: {}", result.describe());
  ServiceSnapshot left = h.snapshot();
  check(left.pids.empty(), "--stop exited 0 with {} processes left:\n{}",
        left.pids.size(), describe_snapshot(left));
  check(idle[0]->wait_closed_by_server(Deadline(milliseconds(500))),
        "the idle connection is still open after --stop");
  h.stop_service();
}

// --stop-signal=USR1 (README: fork mode only): the server records the
// signal (its pid and the version it serves) in a file. An idle connection
// and --drain-timeout=2s keep the old generation draining long enough for
// its handler to run. Fork mode: the old generation's main process records
// it during the drain. Exec mode: the signal is not sent (it would stop the
// one process), so nothing is recorded.
void case_stop_signal(Harness& h) {
  std::string marker = h.file("usr1");
  h.start({{"--stop-signal=USR1", "--drain-timeout=2s"},
           "",
           {"--usr1-file", marker}});
  auto idle = open_idle(h, 1);
  h.start_load();
  pid_t old = h.leader();
  check(!std::filesystem::exists(marker), "{} exists before any restart",
        marker);
  h.write_body(1);
  size_t from = h.log_cursor();
  auto pending = std::async(std::launch::async,
                            [&h] { return h.restart(kRestartTimeout); });
  Clock::time_point switched = wait_switch(h, old, from, seconds(10));
  if (h.fork_mode()) {
    Deadline deadline(seconds(2));
    while (!std::filesystem::exists(marker) && !deadline.expired())
      poll(nullptr, 0, 20);
    check(std::filesystem::exists(marker),
          "no SIGUSR1 recorded within 2 s of the old generation draining");
    std::ifstream file(marker);
    std::string line;
    std::getline(file, line);
    std::string body = h.body_text(0);
    std::string expected =
        fmt::format("pid={} body={}", old, body.substr(0, body.find('\n')));
    check(line == expected,
          "SIGUSR1 recorded as '{}', expected '{}' (the old generation)", line,
          expected);
    h.note(fmt::format("usr1_after_drain_s={:.2f}",
                       seconds_between(switched, Clock::now())));
  }
  h.expect_restart_ok(pending.get());
  h.mark_stale(0, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after the restart");
  if (h.fork_mode()) {
    expect_exit(old, Deadline(seconds(5)), "the old leader after its drain");
  } else {
    check(!std::filesystem::exists(marker),
          "exec mode: the stop signal reached the one process; README: fork "
          "mode only");
  }
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test

namespace huptime::test {

// --max-draining=1 and a 60 s drain held open by idle connections: the
// second restart leaves two generations draining, one too many, so the
// older one closes its connections and exits at once while the younger
// keeps draining (fork mode: exec mode never has two).
void case_max_draining(Harness& h) {
  h.start({{"--max-draining=1", "--drain-timeout=60s"}, "", {}});
  h.start_load();
  pid_t first = h.leader();
  auto idle_first = open_idle(h, 1);
  h.write_body(1);
  h.expect_restart_ok(h.restart(kRestartTimeout));
  pid_t second = h.leader();
  auto idle_second = open_idle(h, 1);
  check(pid_alive(first), "generation 1 (pid {}) ended before the limit",
        first);
  h.write_body(2);
  Clock::time_point begin = Clock::now();
  h.expect_restart_ok(h.restart(kRestartTimeout));
  expect_exit(first, Deadline(seconds(2)),
              "generation 1, over the --max-draining limit");
  h.note(fmt::format("oldest_finished_after_s={:.2f}",
                     seconds_between(begin, Clock::now())));
  check(idle_first[0]->wait_closed_by_server(Deadline(milliseconds(500))),
        "the idle connection to generation 1 is still open");
  check(pid_alive(second),
        "generation 2 (pid {}) ended: only the oldest "
        "should have been finished",
        second);
  Status status = h.status();
  check(status.count("draining") == 1 && status.count("ready") == 1,
        "--status shows {} draining and {} ready generations, expected 1 "
        "and 1",
        status.count("draining"), status.count("ready"));
  h.mark_stale(1, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 2,
                   "after the second restart");
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test

namespace huptime::test {

// --stop against a version that ignores SIGTERM: after --timeout it is
// killed; --stop still exits 0 with nothing left.
void case_stop_kill(Harness& h) {
  h.start({{}, "", {}});
  h.write_body(1);
  h.write_startup("ignore-term");
  h.expect_restart_ok(h.restart(kRestartTimeout));
  CommandResult result =
      h.control({"--stop", "--timeout=1s", fmt::format("--pid={}", h.leader())},
                seconds(20));
  h.note(
      fmt::format("stop=exit{}/{:.2f}s", result.exit_code, result.seconds()));
  check(result.exit_code == 0, "--stop: {}", result.describe());
  check(result.seconds() >= 0.9,
        "--stop returned after {:.2f} s: SIGTERM is ignored, so only the "
        "SIGKILL after --timeout=1s can have ended it",
        result.seconds());
  ServiceSnapshot left = h.snapshot();
  check(left.pids.empty(), "--stop exited 0 with {} processes left:\n{}",
        left.pids.size(), describe_snapshot(left));
  h.stop_service();
}

}  // namespace huptime::test
