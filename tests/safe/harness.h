// The service under test for one safe-reload case, and the checks every
// case shares.
//
// A Harness owns a unique temporary directory (body, start-up and marker
// files), a port the kernel chose, the service started as
//   huptime --MODE [launcher args] -- SERVER --listen tcp:127.0.0.1:PORT
//          --body-file DIR/body --startup-file DIR/startup [server args]
// in a process group of its own (its stderr read by a LogWatcher), an
// optional closed-loop load, and the control commands run against it.
// Every wait has a deadline; a failed check throws CheckFailure. The
// destructor stops the load, SIGKILLs whatever is left of the service's
// process groups (and only those) and removes the directory.
#pragma once

#include <fmt/format.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "control.h"
#include "load.h"
#include "log_watcher.h"
#include "service.h"
#include "sockspec.h"

namespace huptime::test {

struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws CheckFailure(fmt::format(...)) unless `ok`.
template <typename... Args>
void check(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw CheckFailure(fmt::format(format, std::forward<Args>(args)...));
}

struct SafeOptions {
  std::string huptime;    // the launcher
  std::string server;     // srv_threaded
  std::string prefork;    // srv_prefork (the status case)
  std::string test_case;  // --case
  std::string mode = "fork";
  int clients = 8;
};

// What one start of the service looks like.
struct StartSpec {
  std::vector<std::string> launcher_args;  // "{dir}" is replaced
  std::string server;                      // empty: SafeOptions::server
  std::vector<std::string> server_args;    // "{dir}" is replaced
  std::string startup = "ok";              // the first start's start-up file
};

class Harness {
 public:
  explicit Harness(SafeOptions opts);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  const SafeOptions& options() const { return opts_; }
  bool fork_mode() const { return opts_.mode == "fork"; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  const SockSpec& target() const { return target_; }

  // "version N of CASE-MODE\n"; written through a temporary file and
  // rename(2), so that a starting server reads one version whole.
  std::string body_text(int version) const;
  void write_body(int version) const;
  void write_startup(const std::string& text) const;
  void write_file(const std::string& path, const std::string& text) const;

  // Starts the service, waits for a first answer (version 0) and the
  // library's first "ready" line, and records the baseline processes.
  void start(const StartSpec& spec);
  pid_t leader() const { return leader_; }
  // Adopts `pid`'s process group as part of the service; it becomes the
  // leader that control commands and signals address.
  void set_leader(pid_t pid);
  ServiceSnapshot snapshot() const { return service_.snapshot(); }
  const ServiceSnapshot& baseline() const { return baseline_; }
  // Polls /proc (20 ms) until the service's processes are exactly the
  // baseline's (with `same_pids` false: as many as in the baseline);
  // throws with a description otherwise.
  void expect_back_to_baseline(const std::string& when, Clock::duration within,
                               bool same_pids = true);
  // Polls /proc (20 ms) until no process of the service is left.
  bool wait_all_gone(Clock::duration within);

  // The library's log (lines with "huptime["), and waits on it.
  const LogWatcher& log() const { return *log_; }
  size_t log_cursor() const { return log_->size(); }
  LogMatch wait_log(const std::regex& pattern, size_t from,
                    const std::string& what, Clock::duration within) const;
  std::optional<LogMatch> find_log(const std::regex& pattern,
                                   size_t from) const;

  // `huptime ARGS...`, bounded by `within`.
  CommandResult control(const std::vector<std::string>& args,
                        Clock::duration within) const;
  // `huptime --restart --timeout=T --pid=LEADER`, printed and recorded.
  CommandResult restart(Clock::duration timeout);
  // Checks exit 0 and the "restarted: generation G is serving (pid P)"
  // line; fork mode: P is new and becomes the leader; exec mode: P is the
  // leader.
  RestartOk expect_restart_ok(const CommandResult& result);
  // Checks exit 1 and a "restart failed: REASON" line whose reason matches
  // `reason` (case-insensitive regex); returns the reason.
  std::string expect_restart_failed(const CommandResult& result,
                                    const std::string& reason);
  // `huptime --status --pid=PID` (default: the leader), parsed; throws if
  // it does not exit 0 or cannot be parsed.
  Status status(pid_t pid = 0) const;

  // Closed-loop load from options().clients threads.
  void start_load();
  LoadRun& load() { return *load_; }
  LoadStats stats() const { return load_->snapshot(); }
  // Waits for `more` successful requests after now; with version >= 0,
  // also for a response with that version's body. Throws on a failed or
  // stale request, or one that got an older version than a response that
  // had already completed (load_stats.h: backwards).
  void wait_successes(uint64_t more, int version, const std::string& when);
  // Requests started after `since` that get `version` are failures.
  void mark_stale(int version, Clock::time_point since);
  // How many responses carried `version` so far.
  uint64_t version_count(const LoadStats& stats, int version) const;
  // Some more successes, stop the load, check that no request failed, none
  // was stale and none went backwards; returns the final statistics.
  LoadStats finish_load();

  // Checks the log (check_log_consistency), then SIGTERM to the service's
  // groups; every process gone within 10 s.
  void stop_service();
  // No generation that logged "ready" is later said to have failed "before
  // it was ready".
  void check_log_consistency() const;

  // Free-form facts for the result line ("restart1=exit1 2.03s").
  // Thread-safe.
  void note(const std::string& fact);
  std::string result_line() const;

 private:
  void prepare_dir();
  void wait_first_answer();
  void take_baseline();
  void cleanup();

  SafeOptions opts_;
  std::string dir_;
  std::string port_;
  SockSpec target_;
  std::unique_ptr<LogWatcher> log_;
  ServiceProcesses service_{GroupBy::kProcessGroup};
  ServiceSnapshot baseline_;
  std::unique_ptr<LoadRun> load_;
  std::optional<LoadStats> final_stats_;
  pid_t leader_ = -1;
  bool running_ = false;
  std::atomic<int> restarts_{0};
  mutable std::mutex notes_mutex_;
  std::vector<std::string> notes_;  // guarded by notes_mutex_
};

// How `pid`, a child of this driver, ended, without reaping it: "killed by
// signal N (NAME)", "exited N", "still running", or "unknown (already
// reaped)".
std::string describe_exit(pid_t pid);

// Regexes for the library's log lines (README: Logs).
std::regex ready_line();                  // [1] pid, [2] generation
std::regex draining_line(pid_t old_pid);  // [1] new pid
std::regex failed_line();                 // [1] old pid, [2] new pid, [3] rest
std::regex reexec_line(pid_t pid);

}  // namespace huptime::test
