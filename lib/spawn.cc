#include "spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>

#include "config.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"
#include "signals.h"

namespace huptime {

namespace {

constexpr size_t kChildStack = 256 * 1024;

struct ChildArgs {
  ExecImage* image;
  const int* keep_fds;
  int n_keep;
  const char* cwd;
  sigset_t mask;
  uint64_t ignored;
  volatile int error;  // written by the child, read after it execs/exits
};

// Runs in the child, sharing our memory while we wait: system calls only.
// async-signal-safe.
HUPTIME_CLONE_STACK int child_main(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);
  ExecImage& image = *a->image;
  if (image.handoff_index >= 0) {
    char* value = image.env_ptrs[image.handoff_index];
    while (*value && *value != '=') ++value;
    if (*value == '=')
      patch_handoff_pid(value + 1,
                        static_cast<pid_t>(raw_syscall6(SYS_getpid)));
  }
  if (raw_syscall6(SYS_close_range, 3, ~0L, CLOSE_RANGE_CLOEXEC) < 0) {
    a->error = ENOSYS;
    return 127;
  }
  // stdio always passes to the next generation, even when the program
  // marked it close-on-exec (node does).
  for (int fd = 0; fd < 3; ++fd) raw_syscall6(SYS_fcntl, fd, F_SETFD, 0);
  for (int i = 0; i < a->n_keep; ++i)
    raw_syscall6(SYS_fcntl, a->keep_fds[i], F_SETFD, 0);
  signals_reset_for_exec(a->ignored);
  if (a->cwd[0]) {
    long rc = raw_syscall6(SYS_chdir, reinterpret_cast<long>(a->cwd));
    if (rc < 0) {
      a->error = static_cast<int>(-rc);
      return 127;
    }
  }
  raw_syscall6(SYS_rt_sigprocmask, SIG_SETMASK,
               reinterpret_cast<long>(&a->mask), 0, 8);
  long rc = raw_syscall6(SYS_execve, reinterpret_cast<long>(image.path.c_str()),
                         reinterpret_cast<long>(image.argv_ptrs.data()),
                         reinterpret_cast<long>(image.env_ptrs.data()));
  a->error = static_cast<int>(-rc);
  return 127;
}

}  // namespace

Spawned spawn_image(ExecImage& image, const int* keep_fds, int n_keep) {
  Spawned result;
  void* stack = mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    result.error = errno;
    return result;
  }
  ChildArgs args{&image,
                 keep_fds,
                 n_keep,
                 g_rt.config->cwd.c_str(),
                 signals_exec_mask(g_rt.config->sigmask),
                 g_rt.config->sigign,
                 0};
  // No signal may run a handler of ours or the program's in the child.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(child_main, static_cast<char*>(stack) + kChildStack,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kChildStack);
  if (pid < 0) {
    result.error = clone_errno;
    return result;
  }
  result.pid = pid;
  if (args.error) {
    // The child did not exec; it has exited. Reap it.
    result.error = args.error;
    int status;
    waitpid(pid, &status, 0);
    result.pid = -1;
  }
  return result;
}

}  // namespace huptime
