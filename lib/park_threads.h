// Holding the program's other threads still for an exec in place.
//
// execve() from the restart thread ends every other thread of the process,
// but until it does they run the program's code. nginx's master, woken by
// a draining worker's exit, forks a replacement and creates its channel
// socketpair between our close_range(CLOEXEC) and execve: two fds leak
// into the new image, and the O_ASYNC owner it sets on one of them gets the
// new image killed by SIGIO before nginx installs a handler for it.
//
// So, as glibc does for setuid() across threads, the restart thread sends
// the restart signal to each other thread with tgkill(); our handler
// recognises the request and waits there, every signal blocked, until the
// exec ends the thread or a failed exec releases it. A thread that blocks
// the restart signal cannot be held; the wait for it is bounded.
#pragma once

#include <signal.h>

namespace huptime {

struct ParkResult {
  int asked = 0;   // threads sent the request
  int parked = 0;  // threads holding still when the wait ended
};

// Sends the request to every thread but the caller and huptime's own
// (named "huptime*"), then waits until each has parked or `timeout_ms`
// passed. No allocation, no lock: the parked threads may hold any.
ParkResult park_other_threads(int sig, int timeout_ms);

// Lets every parked thread return to the program (the exec failed).
void release_parked_threads();

// For the restart-signal handler, first thing: true when this delivery was
// a park request, which it has then served (parked, or discarded when it
// came too late). async-signal-safe.
bool park_if_requested(const siginfo_t* info);

}  // namespace huptime
