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
  kMaster,      // the resident `huptime --master` (master_link.h)
  kRootExit,    // exec mode, a daemon: pidfd of the ancestor still exiting
  kCount
};

// -1 when not open (or closing, see pin_our_fd). Lock-free.
int our_fd(OurFd which);

// Takes ownership of fd: moves it to >= 3 and CLOEXEC if needed, marks it
// in the fd table. Returns the (possibly new) number or -1.
int adopt_our_fd(OurFd which, int fd);

// Marks an inherited listener (already >= 3, CLOEXEC set by the caller).
void adopt_offered_fd(int fd, uint32_t slot);

// Stops new users from getting the fd and closes it, or, while a thread
// has it pinned, leaves the close to the last unpin_our_fd().
void close_our_fd(OurFd which);

// A thread that keeps using, across more than one system call, one of our
// fds that another thread may close (the ready socket: the restart thread
// and the program's threads each poll it, and whichever sees the hang-up
// first closes it) pins it first. Without the pin, the other thread's close
// frees the number, the program's next accept() gets it, and our poll() then
// waits on the program's connection: poll holds a reference to every file it
// waits on, so the program's close() of that connection does not release the
// socket and its client sees no EOF until our poll returns. Returns the fd,
// or -1 (nothing pinned) when it is not open. For fds adopted once per
// process: a second close of the same kind while the first is still
// pinned is not deferred.
int pin_our_fd(OurFd which);
void unpin_our_fd(OurFd which);

class PinnedOurFd {
 public:
  explicit PinnedOurFd(OurFd which) : which_(which), fd_(pin_our_fd(which)) {}
  ~PinnedOurFd() { release(); }
  PinnedOurFd(const PinnedOurFd&) = delete;
  PinnedOurFd& operator=(const PinnedOurFd&) = delete;
  int fd() const { return fd_; }
  void release() {
    if (fd_ >= 0) unpin_our_fd(which_);
    fd_ = -1;
  }

 private:
  OurFd which_;
  int fd_;
};

// After fork in the child: the threads that held pins are gone.
void our_fds_after_fork_child();

// If fd is protected, copies it elsewhere (keeping CLOEXEC) and updates the
// books; the old number is left open for the caller's own close or dup2.
// Returns false only when it could not be moved. Moving one of ours also
// counts a move (our_fd_moves) and wakes the restart thread: a poll() that
// already holds the old number keeps waiting on our file, but when it wakes
// it looks the number up again and finds the program's file there (a
// dup2() of /dev/null: readable at once, a false "drain now").
bool relocate_ours(int fd);

// How many of our fds have moved so far. A thread that reads our numbers,
// then waits on them, compares this before and after and ignores what the
// wait reported when it changed: one of the numbers may be the program's.
uint32_t our_fd_moves();

// Forgets our fds without closing them: after exec of a forked child
// or when a fork child must not share them (the self-pipe).
void forget_our_fd(OurFd which);

}  // namespace huptime
