// The control commands: `huptime --restart`, `--status` and `--stop` act on
// a service already running under huptime, found through /proc
// (service_scan.h).
//
//   --restart  sends the service's restart signal to its current main
//              process and waits until that restart attempt has ended
//              (ServiceShared::ended, woken by FUTEX_WAKE); success when a
//              new generation serves.
//   --status   prints the service and one line per live generation.
//   --stop     sends SIGTERM to the top process of each generation, waits
//              for every member to exit, then SIGKILLs what is left.
//
// Exit statuses: 0 success, 1 failure (one "huptime: REASON" line on
// stderr), 2 bad usage (caught earlier, by parse_options).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "service_scan.h"

namespace huptime {

// Default --timeout of --stop, and how long --stop waits after SIGKILL.
inline constexpr int64_t kStopTimeoutMs = 10'000;
inline constexpr int64_t kKillWaitMs = 5'000;
// --restart waits for the service's start timeout plus this much by default.
inline constexpr int64_t kRestartSlackMs = 30'000;

// What a control command prints and its exit status: `out` goes to stdout,
// `err` to stderr, both whole lines ("huptime: ..." included).
struct ControlResult {
  int status = 0;
  std::string out;
  std::string err;
};

// The service a control command acts on.
struct ServiceHandle {
  FileId id;
  pid_t named_pid = 0;  // the pid the user named, else the main process
  ServicePage page;
  std::vector<ProcessMemfds> members;  // by pid, when it was found
};

// Reads a pidfile: a decimal pid, surrounding white space allowed. nullopt
// with *error set (one line) otherwise.
std::optional<pid_t> read_pidfile(const std::string& path, std::string* error);

// The service `pid` belongs to. *error (one line, no "huptime: ") says
// "no process PID", "pid PID belongs to another user: permission denied" or
// "pid PID is not a service run by huptime" when there is none.
std::optional<ServiceHandle> find_service_by_pid(std::string_view proc_root,
                                                 pid_t pid, std::string* error);

// The one service whose launch argv is exactly `command`. Processes that
// cannot be read are skipped; none or several matching is an error.
std::optional<ServiceHandle> find_service_by_command(
    std::string_view proc_root, const std::vector<std::string>& command,
    std::string* error);

// The target of `options` (--pid, --pidfile or COMMAND).
std::optional<ServiceHandle> find_target(std::string_view proc_root,
                                         const Options& options,
                                         std::string* error);

ControlResult restart_service(std::string_view proc_root,
                              const ServiceHandle& service,
                              std::optional<int64_t> timeout_ms);

ControlResult service_status(const ServiceHandle& service);

// In control_stop.cc. Each SIGTERM goes to a member whose parent is not a
// member of the same generation: the top of each generation's process tree
// (its children are the program's to stop). Members that appear meanwhile
// (a restart in flight) are found by rescanning every 50 ms.
ControlResult stop_service(std::string_view proc_root,
                           const ServiceHandle& service, int64_t timeout_ms,
                           int64_t kill_wait_ms = kKillWaitMs);

// exit status 1 and "huptime: MESSAGE\n" on stderr.
ControlResult control_failure(const std::string& message);

// Runs the control command of `options` (is_control(options.action)).
ControlResult run_control(const Options& options,
                          std::string_view proc_root = kProcRoot);

// CLOCK_MONOTONIC in milliseconds.
int64_t monotonic_ms();

// "10 s", "1.5 s", "0.25 s".
std::string seconds_text(int64_t ms);

}  // namespace huptime
