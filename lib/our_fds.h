// The library's own file descriptors, protected from the program.
//
// Every fd the library creates is CLOEXEC and >= 3. The program may close
// or dup2 over any number, including ours (daemons close everything): the
// close/dup2/close_range hooks call relocate_ours() first, which moves our
// fd to another number so the program's call does exactly what it asked
// for and we keep ours. Inherited listeners that wait for a bind()
// (kOffered) are protected the same way.
#pragma once

#include "fd_table.h"

namespace huptime {

enum class OurFd : uint32_t {
  kSelfPipeRead,  // signal handler -> restart thread
  kSelfPipeWrite,
  kGenState,     // memfd holding the generation's shared page
  kDrainLatch,   // eventfd: readable once the generation drains
  kReady,        // new generation: where readiness is reported
  kChildReady,   // old generation: the starting copy's readiness
  kChildPid,     // old generation: pidfd of the starting copy
  kPlaceholder,  // left where listeners were, never readable
  kPlaceholderPeer,
  kService,     // memfd holding the service's shared page
  kChildGen,    // old generation: the starting copy's generation page
  kChildLatch,  // old generation: the starting copy's drain latch
  kNotify,      // old generation: the notify socket (--ready=notify)
  kOwnNotify,   // exec mode, re-executed image: its own notify socket
  kCount
};

// -1 when not open. Lock-free.
int our_fd(OurFd which);

// Takes ownership of fd: moves it to >= 3 and CLOEXEC if needed, marks it
// in the fd table. Returns the (possibly new) number or -1.
int adopt_our_fd(OurFd which, int fd);

// Marks an inherited listener (already >= 3, CLOEXEC set by the caller).
void adopt_offered_fd(int fd, uint32_t slot);

void close_our_fd(OurFd which);

// If fd is protected, copies it elsewhere (keeping CLOEXEC) and updates the
// books; the old number is left open for the caller's own close or dup2.
// Returns false only when it could not be moved.
bool relocate_ours(int fd);

// Forgets our fds without closing them: after exec of a forked child
// or when a fork child must not share them (the self-pipe).
void forget_our_fd(OurFd which);

}  // namespace huptime
