// `huptime --status`: what a running service looks like, from its shared
// pages (lib/shared_state.h) and the processes that hold them.
//
// Collecting (pages and /proc in, a StatusReport out) is kept apart from
// formatting (a StatusReport in, text out) so that the text, which scripts
// and tests parse, is tested on its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "service_scan.h"

namespace huptime {

// One live generation: a table row.
struct GenerationRow {
  uint32_t generation = 0;
  pid_t root_pid = 0;  // the process it started as (may have exited)
  GenPhase phase = GenPhase::kStarting;
  int64_t age_ms = 0;
  int64_t conns = 0;        // open connections of its live processes
  std::vector<pid_t> pids;  // its processes now, sorted
};

struct StatusReport {
  std::vector<std::string> argv;  // empty when the stored one is unreadable
  Mode mode = Mode::kFork;
  int restart_signal = SIGHUP;
  pid_t master_pid = 0;  // `huptime --master`, 0 without one
  uint32_t begun = 0;
  uint32_t ended = 0;
  uint32_t failed = 0;
  bool last_ok = false;
  std::string last_error;
  // A restart signal came during the last restart: the newest generation
  // starts one more once it serves ("; one more owed" after "last:").
  bool owed = false;
  std::vector<GenerationRow> rows;  // sorted by generation
};

// The command line as a shell would need it typed: arguments that hold
// anything but [A-Za-z0-9_./:=+,@%-] are single-quoted.
std::string shell_join(const std::vector<std::string>& argv);

// How the last restart went: "ok", "failed: REASON", "none" (no restart
// ended yet) or "in progress" (one has begun and not ended).
std::string last_restart_text(const StatusReport& report);

// Reads `service` and the generation pages the `members` hold; each member
// counts in one generation (generation_of). Members without a generation
// memfd, and generations whose page cannot be read, are left out. `now_ms`
// is CLOCK_MONOTONIC.
StatusReport collect_status(const ServicePage& service,
                            const std::vector<ProcessMemfds>& members,
                            int64_t now_ms);

// The text of `huptime --status`:
//   service: ./server --port 8080   (mode fork, restart signal HUP)
//   restarts: 5 begun, 5 ended, 1 failed; last: ok
//   GEN  PID    STATE     AGE      CONNS  PROCS  PIDS
//   3    4242   draining  12.4s    2      3      4242,4250,4251
// Columns are separated by at least two spaces; STATE is starting, ready
// or draining; AGE is in seconds with one decimal.
std::string format_status(const StatusReport& report);

}  // namespace huptime
