// Our threads' short-lived fds and the program's fork().
//
// fork() copies every open fd, close-on-exec or not, and a worker that
// never execs keeps what it got: nginx forked a worker while our reaper
// thread had /proc/PID/stat open, and that worker held the file until it
// exited (14 fds instead of 13). So our threads open such files inside a
// TransientFds scope, and the atfork prepare handler waits until no scope
// is open and holds new ones back until the fork is done. The wait is
// bounded both ways: a leaked fd is better than a hang.
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

}  // namespace huptime
