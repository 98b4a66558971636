#include "restart.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "next_image.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "reexec.h"
#include "restart_machine.h"
#include "runtime.h"
#include "signals.h"
#include "spawn.h"

namespace huptime {

namespace {

constinit std::atomic<pid_t> g_thread_pid{0};
constexpr int64_t kSweepMs = 1000;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// The starting copy, as seen from the process that started it.
struct NewCopy {
  pid_t pid = -1;
  bool reaped = false;
  int status = 0;
};

class RestartThread {
 public:
  RestartThread() : machine_(g_rt.config->mode, RestartTimeouts{}) {}
  [[noreturn]] void run();

 private:
  void handle(RestartEvent event);
  void carry_out(uint32_t actions);
  void on_signal();
  void on_child_ready_readable();
  void spawn();
  void kill_new_copy();
  void reap_new_copy(bool block);
  void forget_new_copy();
  std::string failure_reason();
  [[noreturn]] void exit_drained();
  void reexec();

  RestartMachine machine_;
  NewCopy child_;
  int64_t next_sweep_ms_ = -1;
};

void RestartThread::handle(RestartEvent event) {
  RestartState before = machine_.state();
  uint32_t actions = machine_.on(event, now_ms());
  HUPTIME_LOG(kDebug, "restart machine: {} + {} -> {}", state_name(before),
              event_name(event), state_name(machine_.state()));
  carry_out(actions);
}

void RestartThread::on_signal() {
  RestartState state = machine_.state();
  if (state == RestartState::kServing) {
    if (!gen_take_restart_token()) {
      HUPTIME_LOG(kInfo,
                  "restart already under way in another process of "
                  "this generation; ignoring SIGHUP");
      return;
    }
    HUPTIME_LOG(kInfo, "restart requested by SIGHUP: {}",
                g_rt.config->mode == Mode::kExec ? "draining before re-exec"
                                                 : "starting a new copy");
  } else if (state == RestartState::kStarting) {
    HUPTIME_LOG(kInfo,
                "SIGHUP during a restart: one more restart will "
                "follow this one");
  } else {
    HUPTIME_LOG(kInfo, "SIGHUP ignored: this process is {}", state_name(state));
    return;
  }
  handle(RestartEvent::kRestartSignal);
}

// Actions run in a fixed order: stop accepting before telling the rest of
// the generation (so a program thread of ours that sees the latch never
// retires listeners without the copies exec mode keeps).
void RestartThread::carry_out(uint32_t actions) {
  bool exec_leader = machine_.leader() && g_rt.config->mode == Mode::kExec;
  if (actions & action::kKillNew) kill_new_copy();
  if (actions & action::kReleaseToken) gen_release_restart_token();
  if (actions & action::kResumeAccepting) {
    listeners_resume_accepting();
    gen_clear_drain();
  }
  if (actions & action::kStopAccepting) {
    listeners_stop_accepting(exec_leader);
    next_sweep_ms_ = now_ms();
    HUPTIME_LOG(kDebug, "draining {} connection{}", g_conns.load(),
                g_conns.load() == 1 ? "" : "s");
  }
  if (actions & action::kAnnounceDrain) gen_announce_drain();
  if (actions & action::kCloseConns)
    HUPTIME_LOG(kWarn, "drain timeout: closing {} connection{} still open",
                g_conns.load(), g_conns.load() == 1 ? "" : "s");
  if (actions & action::kSpawn) spawn();
  if (actions & action::kExit) exit_drained();
  if (actions & action::kReExec) reexec();
}

void RestartThread::spawn() {
  Handoff handoff;
  handoff.generation = gen_number() + 1;
  listeners_collect(&handoff, false);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    HUPTIME_LOG(kError, "cannot start a new copy: socketpair: {}",
                strerror(errno));
    handle(RestartEvent::kNewFailed);
    return;
  }
  int mine = adopt_our_fd(OurFd::kChildReady, pair[0]);
  int theirs = real::fcntl(pair[1], F_DUPFD_CLOEXEC, 3);
  real::close(pair[1]);
  handoff.ready_fd = theirs;
  int error = 0;
  auto image = build_next_image(handoff, &error);
  Spawned spawned;
  if (image) {
    int keep[Handoff::kMaxFds + 1];
    int n = 0;
    for (int i = 0; i < handoff.n_listen; ++i) keep[n++] = handoff.listen[i].fd;
    keep[n++] = theirs;
    unlink_configured_files();
    spawned = spawn_image(*image, keep, n);
    error = spawned.error;
  }
  real::close(theirs);
  if (spawned.pid < 0) {
    HUPTIME_LOG(kError, "new copy failed: cannot start {}: {}; still serving",
                g_rt.config->argv[0], strerror(error));
    close_our_fd(OurFd::kChildReady);
    handle(RestartEvent::kNewFailed);
    return;
  }
  (void)mine;
  forget_new_copy();
  child_.pid = spawned.pid;
  // pidfd_open's fd is close-on-exec already; it is ours, never the
  // program's: kept in the books so the program cannot close it under us.
  adopt_our_fd(OurFd::kChildPid,
               static_cast<int>(raw_syscall6(SYS_pidfd_open, spawned.pid, 0)));
  HUPTIME_LOG(kInfo,
              "new copy started as pid {} (generation {}, {} "
              "listener{})",
              spawned.pid, handoff.generation, handoff.n_listen,
              handoff.n_listen == 1 ? "" : "s");
}

// The previous new copy is history: release its pidfd.
void RestartThread::forget_new_copy() {
  close_our_fd(OurFd::kChildPid);
  child_ = NewCopy{};
}

void RestartThread::reap_new_copy(bool block) {
  if (child_.pid <= 0 || child_.reaped) return;
  siginfo_t info{};
  int rc = waitid(P_PID, static_cast<id_t>(child_.pid), &info,
                  WEXITED | (block ? 0 : WNOHANG));
  if (rc == 0 && info.si_pid == child_.pid) {
    child_.reaped = true;
    // Exit status, or minus the signal that ended it.
    child_.status =
        info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
  } else if (rc != 0 && errno == ECHILD) {
    child_.reaped = true;  // the program reaped it
    child_.status = 0;
  }
  if (child_.reaped) close_our_fd(OurFd::kChildPid);
}

std::string RestartThread::failure_reason() {
  reap_new_copy(false);
  if (!child_.reaped) return "it closed its ready channel";
  if (child_.status < 0)
    return std::string("killed by signal ") + sigabbrev_np(-child_.status);
  return "exit status " + std::to_string(child_.status);
}

void RestartThread::kill_new_copy() {
  if (child_.pid > 0 && !child_.reaped) {
    kill(child_.pid, SIGKILL);
    reap_new_copy(true);
  }
}

void RestartThread::on_child_ready_readable() {
  int fd = our_fd(OurFd::kChildReady);
  char byte = 0;
  ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n == 1 && byte == 'R') {
    handle(RestartEvent::kNewReady);
    // And neither do the workers it forked: they stop when they see the
    // drain latch, within a few milliseconds.
    if (!gen_wait_others_stopped(1000))
      HUPTIME_LOG(kWarn,
                  "some processes of this generation still accept "
                  "after 1 s; handing over anyway");
    // Logged once this generation no longer accepts: from this line on,
    // only the new version answers new connections.
    HUPTIME_LOG(kInfo, "new copy pid {} is ready; draining {} connection{}",
                child_.pid, g_conns.load(), g_conns.load() == 1 ? "" : "s");
    // Hanging up tells the new generation we stopped accepting: its
    // barrier (generation.cc) lets it accept from now on.
    close_our_fd(OurFd::kChildReady);
    return;
  }
  close_our_fd(OurFd::kChildReady);
  // Give a crashed child a moment to become reapable, for the log.
  for (int i = 0; i < 20 && !child_.reaped; ++i) {
    reap_new_copy(false);
    if (!child_.reaped) {
      int pidfd = our_fd(OurFd::kChildPid);
      pollfd p{pidfd, POLLIN, 0};
      real::poll(&p, pidfd >= 0 ? 1 : 0, 10);
    }
  }
  HUPTIME_LOG(kError,
              "new copy pid {} failed before it was ready ({}); "
              "still serving",
              child_.pid, failure_reason());
  handle(RestartEvent::kNewFailed);
}

void RestartThread::exit_drained() {
  HUPTIME_LOG(kInfo, "drained; exiting");
  // Flush what the program buffered, unless another thread holds the lock.
  for (FILE* f : {stdout, stderr}) {
    if (ftrylockfile(f) == 0) {
      fflush_unlocked(f);
      funlockfile(f);
    }
  }
  _exit(0);
}

void RestartThread::reexec() {
  int error = reexec_in_place();
  HUPTIME_LOG(kError, "re-exec failed: {}; serving again", strerror(error));
  handle(RestartEvent::kExecFailed);
}

void RestartThread::run() {
  while (true) {
    if (g_restart_requested.exchange(false)) on_signal();
    RestartState state = machine_.state();
    pollfd fds[5];
    int n = 0;
    int pipe_fd = our_fd(OurFd::kSelfPipeRead);
    fds[n++] = {pipe_fd, POLLIN, 0};
    int latch = our_fd(OurFd::kDrainLatch);
    int latch_i = -1, ready_i = -1, child_i = -1, pidfd_i = -1;
    if (latch >= 0 && state != RestartState::kDraining &&
        state != RestartState::kDone) {
      latch_i = n;
      fds[n++] = {latch, POLLIN, 0};
    }
    int ready = our_fd(OurFd::kReady);
    if (ready >= 0) {
      ready_i = n;
      fds[n++] = {ready, POLLRDHUP, 0};
    }
    int child_ready = our_fd(OurFd::kChildReady);
    if (child_ready >= 0 && state == RestartState::kStarting) {
      child_i = n;
      fds[n++] = {child_ready, POLLIN, 0};
    }
    int pidfd = our_fd(OurFd::kChildPid);
    if (pidfd >= 0 && !child_.reaped) {
      pidfd_i = n;
      fds[n++] = {pidfd, POLLIN, 0};
    }
    int64_t now = now_ms();
    int64_t deadline = machine_.deadline_ms();
    if (state == RestartState::kDraining &&
        (deadline < 0 || next_sweep_ms_ < deadline))
      deadline = next_sweep_ms_;
    int timeout = deadline < 0
                      ? -1
                      : static_cast<int>(deadline > now ? deadline - now : 0);
    int rc = real::poll(fds, static_cast<nfds_t>(n), timeout);
    if (rc < 0 && errno != EINTR) {
      HUPTIME_LOG(kError, "restart thread: poll: {}", strerror(errno));
      real::poll(nullptr, 0, 100);
      continue;
    }
    if (fds[0].revents & POLLIN) {
      char buf[64];
      ssize_t got = read(pipe_fd, buf, sizeof buf);
      for (ssize_t i = 0; i < got; ++i)
        if (buf[i] == 'S') on_signal();
    }
    if (pidfd_i >= 0 && (fds[pidfd_i].revents & POLLIN)) reap_new_copy(false);
    if (ready_i >= 0 && fds[ready_i].revents) gen_after_ready();
    if (child_i >= 0 && fds[child_i].revents) on_child_ready_readable();
    if (latch_i >= 0 && (fds[latch_i].revents & POLLIN) &&
        machine_.state() != RestartState::kDraining) {
      HUPTIME_LOG(kDebug, "generation is draining; stopping accepting");
      handle(RestartEvent::kDrainRequested);
    }
    now = now_ms();
    if (machine_.state() == RestartState::kDraining) {
      if (now >= next_sweep_ms_) {
        listeners_sweep_conns();
        next_sweep_ms_ = now + kSweepMs;
      }
      if (g_conns.load() <= 0 && g_accepts_in_flight.load() == 0)
        handle(RestartEvent::kDrained);
    }
    if (machine_.deadline_ms() >= 0 && now >= machine_.deadline_ms()) {
      RestartEvent event = machine_.deadline_event();
      if (event == RestartEvent::kStartTimeout)
        HUPTIME_LOG(kError,
                    "new copy pid {} failed: not ready within {} s; "
                    "killing it; still serving",
                    child_.pid, RestartTimeouts{}.start_ms / 1000);
      handle(event);
    }
  }
}

void* thread_main(void*) {
  // Each process gets a new machine: a fork child starts afresh.
  auto* self = new RestartThread();
  self->run();
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

std::atomic<pid_t>& restart_thread_pid() { return g_thread_pid; }

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
      pthread_setname_np(thread, "huptime");
      g_thread_pid.store(self, std::memory_order_release);
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
  close_our_fd(OurFd::kSelfPipeRead);
  close_our_fd(OurFd::kSelfPipeWrite);
}

}  // namespace huptime
