// Socket activation (sd_listen_fds(3)): started from a systemd .socket
// unit, or by systemd-socket-activate, huptime finds LISTEN_PID (its own
// pid), LISTEN_FDS=n and the listening sockets at fds 3 .. 3+n-1.
//
// huptime takes them over for the service: they become the first
// generation's inherited listeners (handoff "listen="), so the service's
// own bind() to one of those addresses is answered with the activated
// socket, exactly as after a restart. A service without socket activation
// support gets it for free; LISTEN_* are removed from its environment.
// When one of the fds is not a listening stream socket, the variables are
// left to the program untouched, with a warning.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "handoff.h"

namespace huptime {

struct Activation {
  std::vector<FdInode> sockets;  // in fd order; empty: none taken
  std::string warning;           // set when LISTEN_* were left alone
};

// From the values of LISTEN_PID and LISTEN_FDS (either may be null).
Activation take_activation(const char* listen_pid, const char* listen_fds,
                           pid_t self);

// `env` (NAME=VALUE) without LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
std::vector<std::string> without_activation_vars(
    const std::vector<std::string>& env);

// HUPTIME_FDS=... handing `sockets` to generation 1, for the process
// `pid` (the launcher execs in place, so its own pid).
std::string activation_handoff_var(const std::vector<FdInode>& sockets,
                                   pid_t pid);

}  // namespace huptime
