// The reload steps of Scenario and the library log lines they wait for.
//
// The contract (printed by libhuptime on the service's stderr):
//   huptime[PID]: ready (generation G, K listeners)
//   huptime[PID]: ready (generation G, READY=1)              (--ready=notify)
//   huptime[OLD]: new copy pid NEW is ready; draining      (fork mode)
//   huptime[OLD]: new copy pid NEW failed...               (fork mode)
//   huptime[PID]: re-executing...                          (exec mode)
//   huptime[PID]: drained; exiting
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "child_process.h"
#include "scenario.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kReloadDeadline = seconds(30);
constexpr auto kStartDeadline = seconds(20);

// "K listeners" by the listen rule, "READY=1" with --ready=notify.
std::regex ready_pattern() {
  return std::regex(
      R"(huptime\[(\d+)\]: ready \(generation (\d+), ((\d+) listeners?|READY=1)\))");
}

std::regex draining_pattern(pid_t old) {
  return std::regex(fmt::format(
      R"(huptime\[{}\]: new copy pid (\d+) is ready; draining)", old));
}

std::regex failed_pattern(pid_t old) {
  return std::regex(
      fmt::format(R"(huptime\[{}\]: new copy pid (\d+) failed)", old));
}

std::regex master_pattern(pid_t master, const char* what) {
  return std::regex(fmt::format(R"(huptime\[{}\]: master: {})", master, what));
}

std::regex reexec_pattern(pid_t pid) {
  return std::regex(fmt::format(R"(huptime\[{}\]: re-executing)", pid));
}

std::optional<pid_t> read_pid(const std::string& path, std::string* text) {
  std::ifstream file(path);
  if (!std::getline(file, *text)) return std::nullopt;
  try {
    size_t used = 0;
    long pid = std::stol(*text, &used);
    if (used == text->size() && pid > 1) return static_cast<pid_t>(pid);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

void Scenario::reload(int number) {
  program_reload(number);
  if (opts_.versions) write_body(number);
  size_t from = log_->size();
  pid_t old = leader_;
  send_extra_request(opts_.side_request,
                     fmt::format("reload {}: the side request", number));
  int sig = opts_.restart_signal;
  fmt::print(stderr, "reload_test: reload {}: signal {} to {}\n", number, sig,
             old);
  if (kill(old, sig) != 0)
    throw TestFailure(fmt::format("reload {}: kill({}, {}): {}", number, old,
                                  sig, std::strerror(errno)));
  pid_t leader = opts_.mode == "fork"   ? reload_fork(number, from)
                 : opts_.mode == "exec" ? reload_exec(number, from)
                                        : reload_master(number, from);
  leader_ = leader;
  ++reloads_done_;
  wait_successes(load_->snapshot().ok, 2 * static_cast<uint64_t>(opts_.clients),
                 opts_.versions ? number : -1,
                 fmt::format("after reload {}", number));
  check_no_zombies(fmt::format("after reload {}", number));
  check_forbidden_output(fmt::format("after reload {}", number));
}

void Scenario::check_forbidden_output(const std::string& when) const {
  if (auto line = log_->forbidden_line())
    throw TestFailure(
        fmt::format("{}: the service printed a line matching "
                    "--forbid-output '{}': {}",
                    when, opts_.forbid_output, *line));
}

// Fork mode: the old leader announces the new copy, the new copy (or, for
// a daemon, the process in the pid file) is ready with a higher generation
// and becomes the leader, and the old leader exits.
pid_t Scenario::reload_fork(int number, size_t from) {
  Deadline deadline(kReloadDeadline);
  pid_t old = leader_;
  LogMatch announced =
      wait_log({draining_pattern(old), failed_pattern(old)}, from, old,
               fmt::format("reload {}: 'huptime[{}]: new copy pid N is ready; "
                           "draining'",
                           number, old),
               deadline);
  if (announced.pattern == 1)
    throw TestFailure(
        fmt::format("reload {}: the library reports a failed "
                    "reload: {}",
                    number, announced.line));
  mark_stale(number - 1);  // the old copy no longer accepts
  pid_t fresh = std::stoi(announced.groups[1]);
  pid_t leader = fresh;
  if (opts_.pidfile_from_arg)
    leader = leader_from_pidfile(old, fmt::format("reload {}", number));
  LogMatch ready = wait_ready(
      from, opts_.pidfile_from_arg ? leader : fresh,
      fmt::format("reload {}: 'huptime[PID]: ready (generation > {}, "
                  "...)'",
                  number, generation_),
      deadline);
  check_ready_after(ready.groups[1], from, ready.index,
                    fmt::format("reload {}", number));
  if (!service_.adopt_leader(leader))
    throw TestFailure(
        fmt::format("reload {}: new leader {} is not running", number, leader));
  if (!wait_pid_exit(old, Deadline(kReloadDeadline)))
    throw TestFailure(
        fmt::format("reload {}: old leader {} still running {} s "
                    "after new copy {} was ready",
                    number, old, kReloadDeadline.count(), leader));
  return leader;
}

// Exec mode: the leader announces that it re-executes, then the same pid is
// ready again with a higher generation (a daemon's: its fork child, named
// by the pid file).
pid_t Scenario::reload_exec(int number, size_t from) {
  Deadline deadline(kReloadDeadline);
  pid_t old = leader_;
  LogMatch reexec = wait_log(
      {reexec_pattern(old)}, from, old,
      fmt::format("reload {}: 'huptime[{}]: re-executing'", number, old),
      deadline);
  LogMatch ready = wait_ready(
      reexec.index + 1, old,
      fmt::format("reload {}: 'huptime[PID]: ready (generation > {}, "
                  "...)' after 'huptime[{}]: re-executing'",
                  number, generation_, old),
      deadline);
  check_ready_after(ready.groups[1], reexec.index + 1, ready.index,
                    fmt::format("reload {}", number));
  mark_stale(number - 1);  // the old image is gone
  if (!opts_.pidfile_from_arg) return old;
  // A daemon re-executed in place daemonizes again: a new pid, and a new
  // session (setsid) whose processes are the service's too.
  pid_t leader = leader_from_pidfile(-1, fmt::format("reload {}", number));
  if (!service_.adopt_leader(leader))
    throw TestFailure(
        fmt::format("reload {}: new leader {} is not running", number, leader));
  return leader;
}

// Master mode: the master (whose pid never changes) restarts each copy;
// each copy's old main process announces that it stopped accepting, then
// the master reports the whole restart complete.
pid_t Scenario::reload_master(int number, size_t from) {
  Deadline deadline(kReloadDeadline);
  pid_t master = leader_;
  LogMatch done =
      wait_log({master_pattern(master, "restart complete"),
                master_pattern(master, "restart failed")},
               from, master,
               fmt::format("reload {}: 'huptime[{}]: master: restart complete'",
                           number, master),
               deadline);
  if (done.pattern == 1)
    throw TestFailure(
        fmt::format("reload {}: the master reports a failed restart: {}",
                    number, done.line));
  // The library's line, or the master's own for seccomp interception.
  std::regex handed_over(
      R"(huptime\[\d+\]: (?:master: )?new copy pid (\d+) is ready; draining)");
  size_t at = from;
  for (int copy = 0; copy < opts_.copies; ++copy) {
    LogMatch handed = wait_log(
        {handed_over}, at, master,
        fmt::format("reload {}: copy {} handed over", number, copy + 1),
        deadline);
    check_ready_after(handed.groups[1], from, handed.index,
                      fmt::format("reload {}, copy {}", number, copy + 1));
    at = handed.index + 1;
  }
  mark_stale(number - 1);  // no copy of the old version accepts
  return master;
}

void Scenario::wait_initial_ready() {
  if (opts_.mode == "master") {
    wait_log({master_pattern(leader_, "serving")}, 0, leader_,
             "'huptime[PID]: master: serving'", Deadline(kStartDeadline));
    return;
  }
  if (opts_.reloads == 0) {  // not needed: just note it when present
    auto found = log_->wait_for({ready_pattern()}, 0, Deadline(seconds(0)));
    if (found) generation_ = std::stol(found->groups[2]);
    return;
  }
  wait_ready(0, opts_.pidfile_from_arg ? -1 : leader_,
             "the first 'huptime[PID]: ready (generation G, K listeners)'",
             Deadline(kStartDeadline));
}

// Waits in 250 ms slices so that the death of `alive` (when > 0) ends the
// wait early, after a last look for a line it may have printed just before.
LogMatch Scenario::wait_log(const std::vector<std::regex>& patterns,
                            size_t from, pid_t alive, const std::string& what,
                            const Deadline& deadline) {
  for (;;) {
    Deadline slice(
        std::min<Clock::duration>(deadline.remaining(), milliseconds(250)));
    if (auto found = log_->wait_for(patterns, from, slice)) return *found;
    if (alive > 0 && !pid_alive(alive)) {
      if (auto found = log_->wait_for(patterns, from, Deadline(seconds(1))))
        return *found;
      std::string how = how_it_ended(alive);
      throw TestFailure(fmt::format("{}: process {} exited while waiting{}",
                                    what, alive,
                                    how.empty() ? "" : " (" + how + ")"));
    }
    if (deadline.expired())
      throw TestFailure(fmt::format("{}: not seen in time", what));
  }
}

// A ready line whose generation is higher than the last one seen; records
// that generation. Any pid: the process that reports readiness is not
// always the leader (a prefork master never accepts; its workers do).
LogMatch Scenario::wait_ready(size_t from, pid_t alive, const std::string& what,
                              const Deadline& deadline) {
  for (;;) {
    LogMatch ready = wait_log({ready_pattern()}, from, alive, what, deadline);
    long generation = std::stol(ready.groups[2]);
    if (generation_ < 0 || generation > generation_) {
      generation_ = generation;
      return ready;
    }
    from = ready.index + 1;
  }
}

// --ready-after: the line from `pid` must be among the kept lines from
// `from` on, before the line at index `ready` that made it ready.
void Scenario::check_ready_after(const std::string& pid, size_t from,
                                 size_t ready, const std::string& what) {
  if (opts_.ready_after.empty()) return;
  std::string pattern = ready_after_pattern(opts_.ready_after, pid);
  auto found =
      log_->wait_for({std::regex(pattern)}, from, Deadline(seconds(0)));
  if (!found || found->index > ready)
    throw TestFailure(fmt::format(
        "{}: pid {} was ready before it printed a line matching '{}'{}", what,
        pid, pattern, found ? " (it did later)" : ""));
  fmt::print(stderr, "reload_test: {}: ready after: {}\n", what, found->line);
}

// Polls the pid file (20 ms) until it names a live process other than
// `previous`: srv_daemon writes it once listening, huptime --unlink removes
// it before a new copy starts.
pid_t Scenario::leader_from_pidfile(pid_t previous, const std::string& what) {
  Deadline deadline(kReloadDeadline);
  std::string text;
  for (;;) {
    auto pid = read_pid(ph_.pidfile, &text);
    if (pid && *pid != previous && pid_alive(*pid)) return *pid;
    if (deadline.expired())
      throw TestFailure(fmt::format(
          "{}: pid file {} names no new live process within {} s (content: "
          "'{}')",
          what, ph_.pidfile, kReloadDeadline.count(), text));
    poll(nullptr, 0, 20);
  }
}

void Scenario::adopt_pidfile_leader() {
  std::string text;
  if (ph_.pidfile.empty()) return;
  if (auto pid = read_pid(ph_.pidfile, &text)) service_.adopt_leader(*pid);
}

}  // namespace huptime::test
