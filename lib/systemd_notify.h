// Talking to systemd's notify socket (sd_notify(3) protocol): one datagram
// of NAME=VALUE lines to the AF_UNIX address in $NOTIFY_SOCKET ("/path" or
// "@abstract"). Shared by the library and `huptime --master`.
//
// huptime owns the conversation with systemd: the launcher moves the
// service's NOTIFY_SOCKET into HUPTIME_SYSTEMD_NOTIFY, and huptime reports
// READY=1 once the first generation is ready, RELOADING=1 (with
// MONOTONIC_USEC) when a restart begins, READY=1 when it ends (with the new
// MAINPID= in fork mode), and STOPPING=1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace huptime {

// Sends `message`. Returns 0 or an errno value. No allocation; plain system
// calls (no hooked function), so the library may call it anywhere but in a
// signal handler.
int systemd_notify_send(std::string_view address, std::string_view message);

// CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= wants it.
uint64_t systemd_monotonic_usec();

// The messages, built in one place.
std::string systemd_reloading_message();
std::string systemd_ready_message(int main_pid);  // main_pid 0: no MAINPID=

}  // namespace huptime
