// Restarts that must not happen: a new version that exits, crashes or
// hangs before it is ready (fork mode: the old generation keeps serving and
// the failed one is cleaned up), and a --check command that fails (both
// modes: no new version is even started).
#include <fmt/format.h>
#include <poll.h>

#include "cases.h"
#include "child_process.h"
#include "proc_scan.h"

namespace huptime::test {
namespace {

using std::chrono::seconds;

constexpr auto kRestartTimeout = seconds(30);

// After a restart that failed: the leader still serves version 0, the
// failed version never answered, the service is back to its processes.
void expect_old_serving(Harness& h, pid_t old, int failed_version,
                        const std::string& when) {
  check(pid_alive(old), "{}: the old leader {} is gone", when, old);
  check(h.leader() == old, "{}: the leader changed", when);
  h.expect_back_to_baseline(when, seconds(3));
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), -1, when);
  LoadStats stats = h.stats();
  check(h.version_count(stats, failed_version) == 0,
        "{}: version {} answered {} requests", when, failed_version,
        h.version_count(stats, failed_version));
  check(h.version_count(stats, 0) == stats.ok,
        "{}: {} of {} answers were not version 0", when,
        stats.ok - h.version_count(stats, 0), stats.ok);
}

// Then a good version: --restart succeeds and the new version answers;
// in fork mode the old leader drains and exits.
void restart_good(Harness& h, int version) {
  h.write_startup("ok");
  h.write_body(version);
  pid_t old = h.leader();
  size_t from = h.log_cursor();
  CommandResult result = h.restart(kRestartTimeout);
  h.expect_restart_ok(result);
  if (h.fork_mode()) {
    h.wait_log(
        draining_line(old), from,
        fmt::format("'huptime[{}]: new copy pid N is ready; draining'", old),
        seconds(5));
    h.mark_stale(0, Clock::now());
    expect_exit(old, Deadline(seconds(10)), "the old leader after draining");
  } else {
    h.wait_log(reexec_line(old), from, "'re-executing'", seconds(5));
    h.mark_stale(0, Clock::now());
  }
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), version,
                   fmt::format("after the restart to version {}", version));
}

// exit1, crash, hang: under load, a new version that fails before it is
// ready; `reason` must match the reason --restart gives.
void failed_start(Harness& h, const std::string& startup,
                  const std::string& reason, double min_seconds) {
  check(h.fork_mode(), "this case is for fork mode only");
  h.start({{"--start-timeout=2s"}, "", {}});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  h.write_startup(startup);
  size_t from = h.log_cursor();
  CommandResult result = h.restart(kRestartTimeout);
  std::string why = h.expect_restart_failed(result, reason);
  check(result.seconds() >= min_seconds && result.seconds() < 15,
        "--restart took {:.2f} s; expected {:.1f}..15 s", result.seconds(),
        min_seconds);
  LogMatch failed = h.wait_log(
      failed_line(), from,
      "'huptime[OLD]: new copy pid N failed ...; still serving'", seconds(5));
  check(std::stoi(failed.groups[1]) == old,
        "the failure was logged by pid {}, not the leader {}", failed.groups[1],
        old);
  check(failed.line.find("still serving") != std::string::npos,
        "the failure line does not say 'still serving': {}", failed.line);
  pid_t copy = std::stoi(failed.groups[2]);
  expect_exit(copy, Deadline(seconds(3)), "the failed copy");
  h.note(fmt::format("reason='{}'", why));
  expect_old_serving(h, old, 1, "after the failed restart");
  restart_good(h, 2);
  h.finish_load();
  h.stop_service();
}

}  // namespace

void wait_fds(pid_t pid, int at_least, const std::string& what) {
  Deadline deadline(seconds(5));
  int fds = count_fds(pid);
  while (fds < at_least && !deadline.expired()) {
    poll(nullptr, 0, 20);
    fds = count_fds(pid);
  }
  check(fds >= at_least, "{}: pid {} has {} fds, expected at least {}", what,
        pid, fds, at_least);
}

void expect_exit(pid_t pid, const Deadline& deadline, const std::string& what) {
  check(wait_pid_exit(pid, deadline), "{} (pid {}) is still running: {}", what,
        pid, describe_cmdline(pid));
}

void case_exit1(Harness& h) { failed_start(h, "exit1", R"(exit.*\b1\b)", 0); }

void case_crash(Harness& h) {
  failed_start(h, "crash-after-bind", R"(SIGSEGV|SEGV|signal 11|segmentation)",
               0);
}

void case_hang(Harness& h) {
  failed_start(h, "hang-before-listen", R"(time|within)", 1.9);
}

// --check='test -f OKFILE': absent, the restart is refused before anything
// starts; present, it goes ahead.
void case_check(Harness& h) {
  std::string okfile = h.file("okfile");
  h.start({{"--check=test -f " + okfile}, "", {}});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  size_t from = h.log_cursor();
  CommandResult result = h.restart(kRestartTimeout);
  std::string why = h.expect_restart_failed(result, "check");
  h.note(fmt::format("reason='{}'", why));
  check(!h.find_log(ready_line(), from),
        "a new generation got ready although the check failed");
  check(!h.find_log(reexec_line(old), from),
        "the service re-executed although the check failed");
  expect_old_serving(h, old, 1, "after the refused restart");
  h.write_file(okfile, "");
  restart_good(h, 2);
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test
