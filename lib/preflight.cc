#include "preflight.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "raw_syscall.h"

// close, fcntl and poll go through raw system calls: in the preloaded
// library their libc names are our own hooks, and these fds are not the
// program's.
//
// Why a keeper process: exit signal 0 hides a child from waitpid(-1) only
// until it execs; execve resets it to SIGCHLD (de_thread() in fs/exec.c).
// So the process we create never execs. The keeper (CLONE_VM, exit signal
// 0, no CLONE_VFORK: it runs while we wait) drops every fd but stdio,
// resets its signal dispositions, starts the shell as its own child with
// CLONE_VM | CLONE_VFORK (like spawn.cc), enforces the timeout and reaps
// it. The shell's SIGCHLD goes to the keeper; the program's waitpid(-1)
// sees neither. The keeper and the shell's child side run on a stack of
// ours with system calls only: no libc, no errno (the keeper shares our
// thread's TLS), no allocation, no locks.

namespace huptime {

namespace {

constexpr size_t kKeeperStack = 64 * 1024;
constexpr int kMaxSignal = 64;
// If the keeper itself has not finished this long after the timeout (the
// shell stuck in uninterruptible sleep), it is killed.
constexpr int64_t kBackstopMs = 10'000;

// Kernel layout of struct sigaction (x86_64 and aarch64 alike); all zero is
// SIG_DFL with no flags and an empty mask.
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

enum class Stage { kNone, kSetup, kChdir, kFork, kExec };

// Shared with the keeper: inputs, then results written before it exits
// and read once it is reaped.
struct Shared {
  const char* const* argv;
  char* const* envp;
  const char* cwd;
  int devnull;
  int64_t deadline_ms;  // CLOCK_MONOTONIC; -1: none
  volatile Stage failed_stage;
  volatile int error;
  volatile int status;  // wait status of the shell
  volatile bool timed_out;
};

void close_fd(int fd) {
  if (fd >= 0) raw_syscall6(SYS_close, fd);
}

// Moves fd to a number >= 3, close-on-exec; -1 (fd closed) on failure.
int at_least_3(int fd) {
  if (fd < 0 || fd >= 3) return fd;
  int moved = static_cast<int>(raw_syscall6(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3));
  close_fd(fd);
  return moved >= 0 ? moved : -1;
}

// async-signal-safe (no vDSO, no errno).
HUPTIME_CLONE_STACK int64_t now_ms() {
  timespec ts{};
  raw_syscall6(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&ts));
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// Waits until fd is readable or the deadline (-1: none) passes; true when
// readable. Also true on an unexpected error: the caller's blocking wait
// then follows. async-signal-safe.
HUPTIME_CLONE_STACK bool wait_readable(int fd, int64_t deadline_ms) {
  while (true) {
    timespec ts{};
    timespec* limit = nullptr;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - now_ms();
      if (left <= 0) return false;
      ts.tv_sec = static_cast<time_t>(left / 1000);
      ts.tv_nsec = static_cast<long>(left % 1000) * 1'000'000;
      limit = &ts;
    }
    pollfd p{fd, POLLIN, 0};
    long rc = raw_syscall6(SYS_ppoll, reinterpret_cast<long>(&p), 1,
                           reinterpret_cast<long>(limit), 0, 0);
    if (rc > 0 || (rc < 0 && rc != -EINTR)) return true;
  }
}

// Records why the shell could not start. async-signal-safe.
HUPTIME_CLONE_STACK bool fail(Shared* s, Stage stage, long rc) {
  s->error = static_cast<int>(-rc);
  s->failed_stage = stage;
  return false;
}

// The shell's side of the vfork: it runs on the keeper's stack below the
// keeper's frame, hence a separate function that never returns. The
// dispositions are default already (the keeper's); only the mask (all
// blocked, inherited) is cleared. async-signal-safe.
[[noreturn]] __attribute__((noinline)) HUPTIME_CLONE_STACK void exec_shell(
    Shared* s) {
  raw_syscall6(SYS_setpgid, 0, 0);
  uint64_t none = 0;
  raw_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none),
               0, sizeof none);
  long rc = raw_syscall6(SYS_execve, reinterpret_cast<long>("/bin/sh"),
                         reinterpret_cast<long>(s->argv),
                         reinterpret_cast<long>(s->envp));
  fail(s, Stage::kExec, rc);
  while (true) raw_syscall6(SYS_exit, 127);
}

// The keeper's own copies of the fd table, the working directory and the
// signal handlers (no CLONE_FILES, CLONE_FS, CLONE_SIGHAND): stdin
// /dev/null, nothing above stderr (the program's sockets must not outlive
// its own close() in here), default dispositions (SIGCHLD must not be
// ignored, or the shell would be reaped before we see its status).
HUPTIME_CLONE_STACK bool prepare_keeper(Shared* s) {
  KernelSigaction dfl{};
  for (int sig = 1; sig <= kMaxSignal; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      raw_syscall6(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0,
                   sizeof dfl.mask);
  long rc = raw_syscall6(SYS_dup3, s->devnull, 0, 0);
  if (rc >= 0) rc = raw_syscall6(SYS_close_range, 3, ~0U, 0);
  if (rc < 0) return fail(s, Stage::kSetup, rc);
  if (s->cwd && s->cwd[0]) {
    rc = raw_syscall6(SYS_chdir, reinterpret_cast<long>(s->cwd));
    if (rc < 0) return fail(s, Stage::kChdir, rc);
  }
  return true;
}

// Waits for the shell until the deadline, then kills its process group
// (safe: it leads it and is not reaped yet), and reaps it.
HUPTIME_CLONE_STACK void watch_shell(Shared* s, long pid) {
  int pidfd = static_cast<int>(raw_syscall6(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0 && !wait_readable(pidfd, s->deadline_ms)) {
    s->timed_out = true;
    raw_syscall6(SYS_kill, -pid, SIGKILL);
    raw_syscall6(SYS_kill, pid, SIGKILL);
  }
  int status = 0;
  long rc;
  do {
    rc = raw_syscall6(SYS_wait4, pid, reinterpret_cast<long>(&status), 0, 0);
  } while (rc == -EINTR);
  s->status = status;
}

// async-signal-safe: system calls only.
HUPTIME_CLONE_STACK int keeper_main(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  if (!prepare_keeper(s)) return 0;
  // vfork: the child borrows this stack below our frame until it execs.
  long pid = raw_syscall6(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0);
  if (pid == 0) exec_shell(s);
  if (pid < 0) {
    fail(s, Stage::kFork, pid);
    return 0;
  }
  if (s->failed_stage != Stage::kNone) {
    int status;
    raw_syscall6(SYS_wait4, pid, reinterpret_cast<long>(&status), 0, 0);
    return 0;
  }
  watch_shell(s, pid);
  return 0;
}

struct Keeper {
  void* stack = nullptr;
  int pidfd = -1;  // >= 3, close-on-exec
  int error = 0;   // errno of a failed mmap/clone
};

// Exit signal 0 (the low byte of the flags): no SIGCHLD, and invisible to
// waitpid(-1) without __WALL/__WCLONE. All signals are blocked across the
// clone: the keeper inherits that mask and keeps it, so no handler, ours
// or the program's, ever runs on its stack.
Keeper start_keeper(Shared* s) {
  Keeper k;
  k.stack = mmap(nullptr, kKeeperStack, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (k.stack == MAP_FAILED) {
    k.stack = nullptr;
    k.error = errno;
    return k;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid = clone(keeper_main, static_cast<char*>(k.stack) + kKeeperStack,
                    CLONE_VM | CLONE_PIDFD, s, &pidfd);
  k.error = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    munmap(k.stack, kKeeperStack);
    k.stack = nullptr;
    return k;
  }
  // Close-on-exec from birth; only the number may be low. Out of fds:
  // stop the keeper now, it runs on our stack mapping.
  k.pidfd = at_least_3(pidfd);
  if (k.pidfd < 0) {
    raw_syscall6(SYS_kill, pid, SIGKILL);
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | __WALL);
    munmap(k.stack, kKeeperStack);
    k.stack = nullptr;
    k.error = EMFILE;
  }
  return k;
}

// Waits for the keeper (it enforces the timeout itself), kills it past the
// backstop, reaps it and frees its stack. true: it finished by itself.
bool finish_keeper(Keeper* k, int64_t deadline_ms) {
  bool finished =
      wait_readable(k->pidfd, deadline_ms < 0 ? -1 : deadline_ms + kBackstopMs);
  if (!finished) raw_syscall6(SYS_pidfd_send_signal, k->pidfd, SIGKILL, 0, 0);
  siginfo_t info{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(k->pidfd),
                &info, WEXITED | __WALL) != 0 &&
         errno == EINTR) {
  }
  close_fd(k->pidfd);
  munmap(k->stack, kKeeperStack);
  return finished;
}

std::string outcome(const Shared& s, int64_t timeout_ms) {
  if (s.failed_stage == Stage::kChdir)
    return std::string("cannot enter directory ") + s.cwd + ": " +
           strerror(s.error);
  if (s.failed_stage != Stage::kNone)
    return std::string("cannot run /bin/sh: ") + strerror(s.error);
  if (s.timed_out) {
    if (timeout_ms % 1000 == 0)
      return "timed out after " + std::to_string(timeout_ms / 1000) + " s";
    return "timed out after " + std::to_string(timeout_ms) + " ms";
  }
  int status = s.status;
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0) return {};
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  const char* name = sigabbrev_np(WTERMSIG(status));
  return "killed by signal " +
         (name ? std::string(name) : std::to_string(WTERMSIG(status)));
}

}  // namespace

CheckResult run_check(const std::string& command, const char* cwd,
                      char* const envp[], int64_t timeout_ms) {
  CheckResult result;
  int devnull = at_least_3(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull < 0) {
    result.reason = std::string("cannot open /dev/null: ") + strerror(errno);
    return result;
  }
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  char* no_env[] = {nullptr};
  Shared s{argv,
           envp ? envp : no_env,
           cwd,
           devnull,
           timeout_ms > 0 ? now_ms() + timeout_ms : -1,
           Stage::kNone,
           0,
           0,
           false};
  Keeper keeper = start_keeper(&s);
  close_fd(devnull);
  if (keeper.pidfd < 0) {
    result.reason =
        std::string("cannot run /bin/sh: ") + strerror(keeper.error);
    return result;
  }
  if (!finish_keeper(&keeper, s.deadline_ms)) s.timed_out = true;
  result.reason = outcome(s, timeout_ms);
  result.ok = result.reason.empty();
  return result;
}

}  // namespace huptime
