// --check=CMD: a shell command run before each restart; a failure cancels
// the restart and the running generation keeps serving.
//
// The command runs inside the program's process, on the restart thread, so
// it must stay invisible to the program: the program may reap children
// with waitpid(-1) from its own SIGCHLD handler, and must never see ours.
// Exit signal 0 hides a child from waitpid(-1) (without __WALL/__WCLONE)
// only until it execs: execve resets it to SIGCHLD. So our direct child is
// a keeper that never execs (clone with CLONE_VM and exit signal 0, watched
// through a pidfd, reaped with waitid(P_PIDFD, __WALL)); the keeper starts
// the shell as its own child (CLONE_VM | CLONE_VFORK, like spawn.cc),
// enforces the timeout and reaps it. Both make system calls only. The
// program's signal dispositions and mask are never changed.
#pragma once

#include <cstdint>
#include <string>

namespace huptime {

struct CheckResult {
  bool ok = false;
  // Why it failed: "exit status 1", "killed by signal SEGV", "timed out
  // after 60 s", "cannot run /bin/sh: ...", "cannot enter directory DIR:
  // ..."; empty when ok.
  std::string reason;
};

// Runs `/bin/sh -c command` in `cwd` (null or empty: ours) with the
// environment `envp` (the program's, already free of huptime's variables;
// null: empty). The child gets stdin from /dev/null, inherits stdout and
// stderr, nothing else (the keeper closes the program's other fds), all
// signal dispositions default and nothing blocked, and leads a new process
// group. Waits at most timeout_ms (<= 0: no limit); on timeout kills the
// whole group with SIGKILL and reaps the shell. Processes the command left
// behind after a normal exit, or that left the group, are not touched. If
// even SIGKILL does not end the shell within 10 s (uninterruptible sleep),
// the keeper is killed and reaped and the shell is left to init.
//
// Blocks the calling thread; allocates. Meant for the restart thread.
CheckResult run_check(const std::string& command, const char* cwd,
                      char* const envp[], int64_t timeout_ms);

}  // namespace huptime
