// Starting the new copy (fork mode).
//
// clone(CLONE_VM | CLONE_VFORK) on a stack of our own, like posix_spawn:
// no copy of a large server's page tables, no pthread_atfork handlers of
// the program, and the parent waits only until exec. Everything the child
// needs is built before; the child only makes system calls: it marks every
// fd above stderr close-on-exec except the hand-off, resets signal
// dispositions and the mask to those at first start, enters the logical
// working directory and execs.
//
// The child's exit signal is 0: the program gets no SIGCHLD for it and its
// waitpid(-1) never reaps it (only __WALL waits do), so a pre-fork server
// does not mistake it for one of its workers and we always learn how it
// ended. Once the old generation exits, the kernel reparents it with
// SIGCHLD as usual.
#pragma once

#include <sys/types.h>

#include "exec_image.h"
#include "handoff.h"

namespace huptime {

struct Spawned {
  pid_t pid = -1;
  int error = 0;  // errno of a failed clone/chdir/exec
};

// keep_fds: fds the child must inherit (hand-off listeners, ready socket).
Spawned spawn_image(ExecImage& image, const int* keep_fds, int n_keep);

}  // namespace huptime
