// Running huptime's control commands (--restart, --status, --stop) the way
// an operator does, and reading what they print.
//
// A command runs in a process group of its own with stdin on /dev/null and
// stdout and stderr on one pipe; it is bounded by a deadline, after which
// its group is SIGKILLed and the result says so.
//
// The driver is a child subreaper that reaps every exited child from any
// thread (child_process.h, reap_children), so a waitpid() for the command
// could lose its status. The command therefore runs under
// `sh -c '"$@"; echo @@exit=$?'`, and its exit status is read from that last
// line of the output (128+N: killed by signal N).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "deadline.h"

namespace huptime::test {

struct CommandResult {
  std::vector<std::string> argv;
  int exit_code = -1;   // -1 if killed by a signal or timed out
  int term_signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
  Clock::time_point start, end;

  double seconds() const { return ms_between(start, end) / 1000.0; }
  // "`huptime --restart ...` exited 1 after 0.42 s: <output>"
  std::string describe() const;
};

// Runs `argv` to completion or until the deadline.
CommandResult run_command(const std::vector<std::string>& argv,
                          const Deadline& deadline);

// The "huptime: restarted: generation G is serving (pid P)" line.
struct RestartOk {
  long generation = 0;
  pid_t pid = 0;
};
std::optional<RestartOk> parse_restart_ok(const std::string& output);

// One generation row of `huptime --status`.
struct StatusRow {
  long generation = 0;
  pid_t pid = 0;
  std::string state;  // starting | ready | draining
  std::string age;
  long conns = 0;
  long procs = 0;
  std::vector<pid_t> pids;
};

struct Status {
  long begun = -1, ended = -1, failed = -1;
  std::string last;  // what follows "last: "
  std::vector<StatusRow> rows;

  int count(const std::string& state) const;
  const StatusRow* find(const std::string& state) const;  // the first
  const StatusRow* newest() const;                        // highest generation
};

// Parses the output of `huptime --status`; nullopt with *error set when the
// header or a row does not have the documented shape.
std::optional<Status> parse_status(const std::string& output,
                                   std::string* error);

}  // namespace huptime::test
