// Starting and ending the service under test, by pid and process group
// only, and waiting for processes to exit on pidfds.
//
// The driver makes itself a child subreaper, so that every process of the
// service that is orphaned (old generations in fork mode, daemons) is
// reparented to the driver and reaped here rather than left as a zombie
// that /proc would still list.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "deadline.h"

namespace huptime::test {

// prctl(PR_SET_CHILD_SUBREAPER). False on failure.
bool become_subreaper();

// Reaps every child that has exited, without blocking.
void reap_children();

// Starts `argv` (PATH lookup) in a new process group of its own, stdin from
// /dev/null, stdout inherited, stderr on `stderr_fd`, no other fd, with an
// empty signal mask and default dispositions. Returns the pid, or -errno with
// *error set.
pid_t spawn_in_new_group(const std::vector<std::string>& argv, int stderr_fd,
                         std::string* error);

// Waits until `pid` has exited (pidfd + poll), then reaps what can be
// reaped. True if it exited (or never existed) before the deadline.
bool wait_pid_exit(pid_t pid, const Deadline& deadline);

// True if `pid` exists and is not a zombie.
bool pid_alive(pid_t pid);

// How a child of this process ended, without reaping it: "exit status 1",
// "killed by SIGIO"; "" when it has not ended or is not our child.
std::string how_it_ended(pid_t pid);

}  // namespace huptime::test
