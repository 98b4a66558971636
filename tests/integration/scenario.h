// One reload scenario, start to finish:
//
//   1. a temporary directory, a free port, the body file (version 0);
//   2. `huptime --MODE [launcher args] -- SERVER ARGS` in a process group of
//      its own, its stderr read by a LogWatcher;
//   3. wait until a request to every target succeeds, and for the library's
//      first "ready" line (needed only when reloading);
//   4. baseline: the service's processes and open fds, while idle;
//   5. closed-loop load, in-process, and enough successes to be under load;
//   6. each reload: (new body version,) SIGHUP (or --signal) to the leader,
//      the library's log lines for the new generation, the new leader
//      (fork: the new copy, and the old leader's exit; exec: the same pid),
//      then more successes;
//   7. 200 more successes, stop the load; every request must have succeeded
//      and, with --versions, every version appeared and none came back;
//      after each reload, no process of the service left a zombie for more
//      than 10 s (a pre-fork server's old workers must be reaped);
//   8. processes and fds back to the baseline within 10 s, no zombie;
//   9. SIGTERM to the leader and the group, all gone within 10 s.
//
// Any failed check throws TestFailure with a message naming what was
// awaited; the destructor then kills whatever is left and removes the
// directory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "driver_options.h"
#include "load.h"
#include "log_watcher.h"
#include "service.h"
#include "sockspec.h"

namespace huptime::test {

struct TestFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The --ready-after regex with {pid} replaced by `pid` (a pid, or a regex).
std::string ready_after_pattern(const std::string& regex,
                                const std::string& pid);

class Scenario {
 public:
  explicit Scenario(DriverOptions opts);
  ~Scenario();
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  void run();
  // The result line (without newline); valid after run(), even a failed one.
  std::string result_line() const;
  // The result as one JSON object for --result-json; `failure` is empty
  // when the run passed.
  std::string result_json(const std::string& failure) const;

 private:
  // scenario.cc: set-up, start, baseline, load, checks, stop.
  void run_steps();
  void prepare_dir();
  void choose_port_and_targets();
  // scenario_body.cc: what the service answers, and extra requests.
  std::string body_file_name() const;
  void write_body(int version);
  void write_body_text(const std::string& text);
  std::string body_text(int version) const;
  void program_reload(int number);
  void send_extra_request(const std::string& request, const std::string& what);
  void start_service();
  void wait_first_success();
  void wait_initial_ready();
  void take_baseline();
  void start_load();
  void wait_successes(uint64_t ok_before, uint64_t more, int version,
                      const std::string& when);
  void wait_successes(uint64_t ok_before, uint64_t more,
                      const std::string& body, const std::string& when);
  bool violated(const LoadStats& stats) const;
  void mark_stale(int version);
  void finish_load();
  void check_back_to_baseline();
  void check_no_zombies(const std::string& when);
  void stop_service();
  void cleanup();

  // reloads.cc: one reload per mode, and the log waits they need.
  void reload(int number);
  pid_t reload_fork(int number, size_t from);
  pid_t reload_exec(int number, size_t from);
  pid_t reload_master(int number, size_t from);
  LogMatch wait_log(const std::vector<std::regex>& patterns, size_t from,
                    pid_t alive, const std::string& what,
                    const Deadline& deadline);
  LogMatch wait_ready(size_t from, pid_t alive, const std::string& what,
                      const Deadline& deadline);
  pid_t leader_from_pidfile(pid_t previous, const std::string& what);
  void adopt_pidfile_leader();  // best effort, never throws
  void check_forbidden_output(const std::string& when) const;
  void check_ready_after(const std::string& pid, size_t from, size_t ready,
                         const std::string& what);

  DriverOptions opts_;
  Placeholders ph_;
  std::vector<SockSpec> targets_;
  std::unique_ptr<LogWatcher> log_;
  ServiceProcesses service_;
  std::unique_ptr<LoadRun> load_;
  pid_t leader_ = -1;
  long generation_ = -1;
  int reloads_done_ = 0;
  bool stopped_ = true;
  std::optional<ServiceSnapshot> baseline_, final_;
  std::optional<LoadStats> stats_;
};

}  // namespace huptime::test
