// `huptime --master`: huptime stays resident as the service's parent, with
// one PID that lives as long as the service (what a supervisor watches),
// and runs the service under the preload as child generations in fork
// mode, so that old and new generations overlap on every restart.
//
//  - Restart: the restart signal (or `huptime --restart`) to the master
//    restarts each copy in turn through the library's fork-mode upgrade
//    (readiness, rollback, drain: every safe-reload rule applies); with
//    --multi=N the copies go one at a time, so N-1 always serve.
//  - Stop: TERM, INT and QUIT are forwarded to every process of the
//    service; the master exits when the last one is gone, with the main
//    process's status (128+N for signal N).
//  - The master is a child subreaper: processes of the service whose
//    parent exits (old generations, daemons) become its children.
//  - It holds the listeners the serving generation reported
//    (master_listeners.h), so --multi copies and --revive restarts bind to
//    the same accept queue; socket-activated sockets too.
//  - It talks to systemd (Type=notify): READY=1, RELOADING=1, STOPPING=1.
//  - Programs the library cannot reach (static, Go) run under a seccomp
//    filter instead (seccomp_filter.h, seccomp_broker.h); the master then
//    runs their restarts itself (master_intercept.cc) with the library's
//    restart state machine.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "config.h"
#include "handoff.h"

namespace huptime {

struct MasterPlan {
  std::vector<std::string> argv;  // COMMAND as typed
  std::vector<std::string> env;   // the launch environment of a generation
  LaunchConfig config;            // mode fork; no systemd socket
  sigset_t launch_mask;
  int copies = 1;
  bool revive = false;
  int revive_limit = 10;       // 0: no limit
  std::string systemd_notify;  // NOTIFY_SOCKET, or empty
  std::vector<FdInode> activated;
  // Seccomp interception: `program_env` is what the program gets (no
  // preload), and the master drives restarts; the old generation gets
  // `stop_signal` once the new one serves.
  bool seccomp = false;
  std::vector<std::string> program_env;
  int stop_signal = SIGTERM;
};

[[noreturn]] void run_master(MasterPlan plan);

}  // namespace huptime
