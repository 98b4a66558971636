// Starting and waking the restart thread (restart.h): one per process
// that holds listeners, created lazily with every signal blocked but the
// restart signal, and recreated in fork children.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "generation.h"
#include "log.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "restart.h"
#include "runtime.h"
#include "signals.h"

namespace huptime {

namespace {

constinit std::atomic<pid_t> g_thread_pid{0};
constinit std::atomic<pid_t> g_running_pid{0};

// The thread names itself: pthread_setname_np on the calling thread is one
// prctl(), while naming another thread formats a /proc path with sprintf,
// whose code (~64 KiB of libc text) nothing else at start-up touches.
void* thread_main(void*) {
  pthread_setname_np(pthread_self(), "huptime");
  run_restart_thread();
}

bool make_self_pipe() {
  close_our_fd(OurFd::kSelfPipeRead);
  close_our_fd(OurFd::kSelfPipeWrite);
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  adopt_our_fd(OurFd::kSelfPipeRead, p[0]);
  adopt_our_fd(OurFd::kSelfPipeWrite, p[1]);
  return our_fd(OurFd::kSelfPipeRead) >= 0 &&
         our_fd(OurFd::kSelfPipeWrite) >= 0;
}

constinit pthread_mutex_t g_start_lock = PTHREAD_MUTEX_INITIALIZER;

}  // namespace

// Set in a fork child whose parent had stopped accepting.
constinit std::atomic<bool> g_late_child{false};

std::atomic<pid_t>& restart_thread_pid() { return g_thread_pid; }
std::atomic<pid_t>& restart_thread_running_pid() { return g_running_pid; }

void restart_thread_ensure() {
  pid_t self = g_rt.pid.load(std::memory_order_relaxed);
  if (g_thread_pid.load(std::memory_order_acquire) == self || !g_rt.active)
    return;
  if (!g_stopped_accepting.load()) gen_mark_accepting();
  pthread_mutex_lock(&g_start_lock);
  if (g_thread_pid.load() != self && make_self_pipe()) {
    // Every signal blocked in the thread but the restart signal, so it
    // can take that one when all program threads block it.
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, restart_signal());
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t thread;
    if (pthread_create(&thread, &attr, thread_main, nullptr) == 0) {
      g_thread_pid.store(self, std::memory_order_release);
      HUPTIME_LOG(kDebug, "restart thread started ({})",
                  g_stopped_accepting.load() ? "not accepting" : "accepting");
    } else {
      HUPTIME_LOG(kError,
                  "cannot start the restart thread; restarts will "
                  "not work in this process");
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  pthread_mutex_unlock(&g_start_lock);
}

void restart_poke() {
  int fd = our_fd(OurFd::kSelfPipeWrite);
  if (fd < 0) return;
  char byte = 'P';
  raw_syscall6(SYS_write, fd, reinterpret_cast<long>(&byte), 1);
}

void restart_after_fork_child() {
  // The thread and its starting copy belong to the parent.
  // Only system calls here: the child may be about to exec.
  g_start_lock = PTHREAD_MUTEX_INITIALIZER;
  close_our_fd(OurFd::kChildReady);
  close_our_fd(OurFd::kChildPid);
  close_our_fd(OurFd::kChildGen);
  close_our_fd(OurFd::kChildLatch);
  close_our_fd(OurFd::kNotify);
  close_our_fd(OurFd::kSelfPipeRead);
  close_our_fd(OurFd::kSelfPipeWrite);
  close_our_fd(OurFd::kRootExit);
  g_late_child.store(g_stopped_accepting.load());
}

void restart_after_fork_parent() {
  if (g_rt.has_program_listeners.load(std::memory_order_relaxed))
    restart_thread_ensure();
}

void restart_late_child_waits() {
  if (!g_late_child.load(std::memory_order_relaxed) ||
      !g_late_child.exchange(false))
    return;
  HUPTIME_LOG(kDebug,
              "forked by a process that no longer accepts: draining too");
  restart_thread_ensure();
}

}  // namespace huptime
