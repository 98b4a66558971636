// Restart settings a deploy depends on: the command that no longer runs
// (both modes check before they start or drain), and --signal.
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include "cases.h"
#include "child_process.h"

namespace huptime::test {
namespace {

using std::chrono::seconds;

constexpr auto kRestartTimeout = seconds(30);

}  // namespace

// The service runs from a copy of the server binary that then loses its
// execute bit (a broken deploy): --restart fails with the reason before
// anything stops (exec mode has nothing to roll back to), the same process
// serves version 0; with the bit back, the restart goes through.
void case_not_executable(Harness& h) {
  std::string binary = h.file("server");
  std::filesystem::copy_file(h.options().server, binary);
  std::filesystem::permissions(binary, std::filesystem::perms::owner_all);
  h.start({{}, binary, {}});
  h.start_load();
  pid_t old = h.leader();
  h.write_body(1);
  std::filesystem::permissions(binary, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
  size_t from = h.log_cursor();
  std::string why =
      h.expect_restart_failed(h.restart(kRestartTimeout), "permission denied");
  h.note(fmt::format("reason='{}'", why));
  check(!h.find_log(reexec_line(old), from),
        "the service re-executed a command it cannot execute");
  check(pid_alive(old) && h.leader() == old, "the leader {} changed", old);
  h.expect_back_to_baseline("after the refused restart", seconds(3));
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 0,
                   "after the refused restart");
  check(h.version_count(h.stats(), 1) == 0, "version 1 answered");
  std::filesystem::permissions(binary, std::filesystem::perms::owner_all);
  h.expect_restart_ok(h.restart(kRestartTimeout));
  h.mark_stale(0, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after the restart");
  h.finish_load();
  h.stop_service();
}

// --signal=USR2: the library restarts on USR2 (and --restart sends it);
// --status names it.
void case_signal(Harness& h) {
  h.start({{"--signal=USR2"}, "", {}});
  h.start_load();
  pid_t old = h.leader();
  CommandResult raw =
      h.control({"--status", fmt::format("--pid={}", old)}, seconds(10));
  check(raw.output.find("restart signal USR2") != std::string::npos,
        "--status does not name USR2: {}", raw.output);
  h.write_body(1);
  size_t from = h.log_cursor();
  check(kill(old, SIGUSR2) == 0, "kill({}, SIGUSR2) failed", old);
  h.wait_log(std::regex(fmt::format(
                 R"(huptime\[{}\]: restart #1 requested by SIGUSR2)", old)),
             from, "'restart #1 requested by SIGUSR2'", seconds(5));
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 1,
                   "after kill -USR2");
  // Fork mode: the leader is the new copy now.
  if (h.fork_mode()) {
    LogMatch started =
        h.wait_log(std::regex(fmt::format(
                       R"(huptime\[{}\]: new copy started as pid (\d+))", old)),
                   from, "'new copy started as pid N'", seconds(5));
    h.set_leader(std::stoi(started.groups[1]));
  }
  h.write_body(2);
  h.expect_restart_ok(h.restart(kRestartTimeout));
  h.mark_stale(1, Clock::now());
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), 2,
                   "after --restart");
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test
