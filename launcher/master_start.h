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
};

struct Started {
  pid_t pid = -1;
  std::string error;  // one line, when pid is -1
};

// Resolves argv[0] again (a deploy may have replaced it), then starts it.
Started start_generation(const StartSpec& spec);

}  // namespace huptime
