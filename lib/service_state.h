// The service's shared page (shared_state.h: ServiceShared), as the
// library keeps it: created by the first generation, inherited by every
// later one through the hand-off, read by `huptime --restart/--status`.
//
// Restart attempts are numbered: service_begin_attempt() takes the next
// number, and exactly one service_end_attempt() ends it (ok or with the
// reason), whichever process sees the outcome first: the old leader on a
// failure or, in fork mode, on readiness; the new image in exec mode. Ending
// wakes the `--restart` commands waiting on the page (futex).
//
// Cold paths only (restarts, start-up); allocation is allowed, except in
// service_adopt_after_exec which init calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "shared_state.h"

namespace huptime {

// Creates the page unless this process has one. Cold path.
bool service_ensure();
// Adopts the page handed over in HUPTIME_FDS ("svc="): checks that fd is a
// memfd holding a valid page before taking it.
bool service_attach(int fd);
// nullptr when there is none.
ServiceShared* service_page();

// Requires the restart token. An attempt whose leader died (SIGKILL) is
// ended as failed first.
uint32_t service_begin_attempt();
// True while an attempt is under way, its leader lives (in exec mode the
// leader's pid is the new image's too, until that one is ready) and its
// start timeout has not long passed: a stuck attempt never blocks later
// restarts for good.
bool service_restart_in_flight();
// When the attempt under way must have ended (exec mode: the new image
// ends it as failed then), or -1 when none is under way.
int64_t service_attempt_deadline_ms();
// Ends the attempt in progress, if any. ok=false records `reason`.
void service_end_attempt(bool ok, std::string_view reason);

// This generation is ready and serves: --restart signals its main process.
void service_set_current(uint32_t generation, pid_t main_pid);

// Restart signals that arrived during an upgrade: at most one follow-up.
void service_set_pending();
bool service_take_pending();

// True when this process's generation is older than the newest one by more
// than --max-draining: it must finish draining now.
bool service_too_many_draining(uint32_t generation);

}  // namespace huptime
