// The starting copy, as the old generation's leader sees it (fork mode):
// start it with the hand-off, learn whether it became ready (its ready
// socket, or READY=1 on the notify socket with --ready=notify), and when
// it failed, say why and remove every process it made.
//
// Lives on the restart thread (restart.cc); allocates. Its fds are ours
// (our_fds.h): the ready socket, the pidfd, the new generation's page and
// latch, the notify socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace huptime {

class NewCopy {
 public:
  enum class Report { kNothing, kReady, kGone };

  // Starts generation `generation`. On failure returns false with *reason
  // and leaves nothing behind.
  bool start(uint32_t generation, std::string* reason);

  pid_t pid() const { return pid_; }
  // fds to poll for readability; -1 when there is none.
  int ready_fd() const;
  int notify_fd() const;
  int pid_fd() const;

  // After ready_fd or notify_fd polled readable.
  Report read_ready_channel();
  Report read_notify();
  // After pid_fd polled readable: reaps it if it exited.
  void reap(bool block);

  // Why it is gone: exit status or signal, and what it last wrote to
  // stderr when that is a file.
  std::string failure_reason();
  // SIGKILLs every process of the new generation and reaps the first.
  void kill_all();
  // Marks the new generation's page ready (--ready=notify) and lets go of
  // everything but the pid: the copy serves on its own from now on.
  void handed_over();
  // Lets go of everything (after a failure).
  void forget();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;  // exit status, or minus the signal
  int64_t stderr_mark_ = -1;
};

}  // namespace huptime
