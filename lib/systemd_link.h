// The library's reports to systemd (systemd_notify.h) in fork and exec
// mode, when the service was started with NOTIFY_SOCKET (Type=notify).
// Under `huptime --master` the master reports instead and the library is
// given no socket. Each does nothing without one.
//
// Cold paths only (start-up, restarts, exit); they allocate.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace huptime {

// The first generation is ready: READY=1.
void systemd_first_ready();
// A restart begins: RELOADING=1 and MONOTONIC_USEC=.
void systemd_restart_begins();
// A restart ended: READY=1, with MAINPID=new_main when the main process
// changed (fork mode), or STATUS= with the reason when it failed.
void systemd_restart_ended(bool ok, pid_t new_main, std::string_view reason);

}  // namespace huptime
