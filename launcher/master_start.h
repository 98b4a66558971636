// Starting one generation of the service from `huptime --master`: a plain
// fork and exec (the master is single-threaded), with the hand-off that
// the library reads (handoff.h): the service page, the master socket, and
// the listeners the master holds.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "handoff.h"

namespace huptime {

struct StartSpec {
  std::vector<std::string> argv;  // as typed; argv[0] is resolved each time
  std::vector<std::string> env;   // the launch environment, without
                                  // HUPTIME_FDS
  sigset_t mask;                  // the signal mask at launch
  int restart_signal = SIGHUP;
  uint32_t generation = 1;
  int svc_fd = -1;
  int master_fd = -1;  // the child's end of the master socket
  std::vector<FdInode> listeners;
  // Seccomp interception (seccomp_filter.h) instead of the preload: `env`
  // is then the program's own environment, no hand-off is added, and the
  // child sends its notification fd over `notify_channel` before exec. It
  // keeps svc_fd and gen_fd open, so that it counts as a process of the
  // service and of its generation (--status, --stop).
  bool seccomp = false;
  int notify_channel = -1;  // the child's end; the master's is notify_from
  int notify_from = -1;
  int gen_fd = -1;
};

struct Started {
  pid_t pid = -1;
  std::string error;   // one line, when pid is -1
  int notify_fd = -1;  // seccomp: the filter's notification fd
};

// Resolves argv[0] again (a deploy may have replaced it), then starts it.
Started start_generation(const StartSpec& spec);

}  // namespace huptime
