// Our threads' short-lived fds and the program's fork().
//
// fork() copies every open fd, close-on-exec or not, and a worker that
// never execs keeps what it got: nginx forked a worker while our reaper
// thread had /proc/PID/stat open, and that worker held the file until it
// exited (14 fds instead of 13). So our threads open such files inside a
// TransientFds scope, and the atfork prepare handler waits until no scope
// is open and holds new ones back until the fork is done. The wait is
// bounded both ways (kForkWaitMs): a leaked fd is better than a hang.
#pragma once

namespace huptime {

void transient_fds_begin();
void transient_fds_end();

class TransientFds {
 public:
  TransientFds() { transient_fds_begin(); }
  ~TransientFds() { transient_fds_end(); }
  TransientFds(const TransientFds&) = delete;
  TransientFds& operator=(const TransientFds&) = delete;
};

// The atfork handlers: before fork, in the parent after it, in the child.
void fork_guard_prepare();
void fork_guard_parent();
void fork_guard_child();

// How many bounded waits ran out (either side) since the process started:
// only then can a fork copy a scoped fd. A machine so loaded that a thread
// waits that long for a CPU does it (unit/fork_guard saw 1 fork in 300
// under load with a 100 ms bound).
unsigned fork_guard_expired_waits();

}  // namespace huptime
