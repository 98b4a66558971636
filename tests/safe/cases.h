// The safe-reload cases (issue 3), one function each, all run against a
// Harness in fork or exec mode. Each throws CheckFailure on the first check
// that fails.
//
//   exit1, crash, hang   a new version that exits, crashes or never gets
//                        ready (fork mode): --restart fails, the old serves
//   check                --check=CMD failing aborts the restart
//   warmup               a slow start: the old serves until the new is ready
//   keepalive            idle connections end the drain at --drain-timeout
//   storm                50 restart signals in a second: one upgrade at a
//                        time, ends on the newest version
//   status               --status against /proc while a generation drains
//   stop                 --stop with a draining generation present
//   stop-signal          --stop-signal reaches the old generation
//   max-draining         a generation over --max-draining finishes at once
//   not-executable       the command lost its execute bit: refused, serving
//   signal               --signal=USR2 restarts; --status names it
//   stop-kill            --stop SIGKILLs a version that ignores SIGTERM
//   notify               --ready=notify: ready at READY=1, not at listen()
//   notify-never         no READY=1: the whole new generation is killed
#pragma once

#include <functional>
#include <string>

#include "harness.h"

namespace huptime::test {

void case_exit1(Harness& h);
void case_crash(Harness& h);
void case_hang(Harness& h);
void case_check(Harness& h);
void case_warmup(Harness& h);
void case_keepalive(Harness& h);
void case_stop(Harness& h);
void case_stop_signal(Harness& h);
void case_status(Harness& h);
void case_storm(Harness& h);
void case_max_draining(Harness& h);
void case_notify(Harness& h);
void case_stop_kill(Harness& h);
void case_not_executable(Harness& h);
void case_signal(Harness& h);
void case_notify_never(Harness& h);
// Reliability suite (issue 6), cases_chaos.cc: 120 SIGKILLs of a starting
// or a draining generation at random moments, seed printed.
void case_chaos(Harness& h);
// cases_chaos_supervised.cc: 50 SIGKILLs of the PID a supervisor watches
// (exec mode: the service; master mode: `huptime --master`) at random
// moments of restarts, each followed by a fresh start.
void case_chaos_supervised(Harness& h);
// The chaos cases' seed: HUPTIME_CHAOS_SEED, or a fixed default; the
// service's TCP port (cases_chaos.cc).
unsigned chaos_seed();
int port_of(const Harness& h);

// Runs `--status --pid=PID()` every 50 ms until `ok(status)`; throws with
// the last output otherwise (cases_status.cc).
Status poll_status(const Harness& h, const std::function<pid_t()>& pid,
                   const std::function<bool(const Status&)>& ok,
                   const std::string& what, Clock::duration within);
Status poll_status(const Harness& h, pid_t pid,
                   const std::function<bool(const Status&)>& ok,
                   const std::string& what, Clock::duration within);

// Waits until `fd_count(pid) >= at_least` (20 ms polls): the server has
// accepted the idle connections just opened.
void wait_fds(pid_t pid, int at_least, const std::string& what);

// Waits for `pid` to exit; throws naming `what` if it is still alive when
// the deadline passes.
void expect_exit(pid_t pid, const Deadline& deadline, const std::string& what);

}  // namespace huptime::test
