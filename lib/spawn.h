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
// The child is the program's child too: execve resets any exit signal to
// SIGCHLD (fs/exec.c), so a program that reaps with waitpid(-1) may take
// its exit status before we do (new_copy.cc says so in the log).
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
