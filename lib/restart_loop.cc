// The restart thread's loop (restart_steps.h): it polls what can move a
// restart on (the signal pipe, the drain latch, the new copy's ready
// channel, notify socket and pidfd, the master, a daemon's exiting
// parent) and the machine's deadlines, and hands each event to its step.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "clock.h"
#include "generation.h"
#include "log.h"
#include "our_fds.h"
#include "real.h"
#include "restart.h"
#include "restart_steps.h"
#include "service_state.h"
#include "signals.h"

namespace huptime {

void RestartThread::run() {
  restart_thread_running_pid().store(g_rt.pid.load(),
                                     std::memory_order_release);
  HUPTIME_LOG(kDebug, "restart thread up (drain latch fd {})",
              our_fd(OurFd::kDrainLatch));
  while (true) {
    if (g_restart_requested.exchange(false)) on_signal();
    start_owed_restart();
    RestartState state = machine_.state();
    bool starting = state == RestartState::kStarting;
    pollfd fds[9];
    int n = 0;
    uint32_t moves = our_fd_moves();
    int pipe_fd = our_fd(OurFd::kSelfPipeRead);
    fds[n++] = {pipe_fd, POLLIN, 0};
    int latch = our_fd(OurFd::kDrainLatch);
    int latch_i = -1, ready_i = -1, child_i = -1, pidfd_i = -1, notify_i = -1;
    if (latch >= 0 && state != RestartState::kDraining &&
        state != RestartState::kDone) {
      latch_i = n;
      fds[n++] = {latch, POLLIN, 0};
    }
    // Pinned until the end of this turn: the program's thread that ends
    // the hand-off barrier closes it too (generation.cc), and its number
    // must not go to a connection while we poll it (our_fds.h).
    PinnedOurFd ready(OurFd::kReady);
    if (ready.fd() >= 0) {
      ready_i = n;
      fds[n++] = {ready.fd(), POLLRDHUP, 0};
    }
    if (copy_.ready_fd() >= 0 && starting) {
      child_i = n;
      fds[n++] = {copy_.ready_fd(), POLLIN, 0};
    }
    if (copy_.notify_fd() >= 0 && starting) {
      notify_i = n;
      fds[n++] = {copy_.notify_fd(), POLLIN, 0};
    }
    if (copy_.pid_fd() >= 0) {
      pidfd_i = n;
      fds[n++] = {copy_.pid_fd(), POLLIN, 0};
    }
    // The master's end closes only when the master dies: POLLHUP.
    int master_i = -1;
    if (our_fd(OurFd::kMaster) >= 0 && n < 7) {
      master_i = n;
      fds[n++] = {our_fd(OurFd::kMaster), 0, 0};
    }
    int own_notify_i = -1;
    if (our_fd(OurFd::kOwnNotify) >= 0 && n < 8) {
      own_notify_i = n;
      fds[n++] = {our_fd(OurFd::kOwnNotify), POLLIN, 0};
    }
    int root_exit_i = -1;
    if (our_fd(OurFd::kRootExit) >= 0 && n < 9) {
      root_exit_i = n;
      fds[n++] = {our_fd(OurFd::kRootExit), POLLIN, 0};
    }
    int64_t now = monotonic_ms();
    int64_t deadline = machine_.deadline_ms();
    int64_t attempt_deadline = service_attempt_deadline_ms();
    if (attempt_deadline >= 0 && attempt_deadline > now &&
        (deadline < 0 || attempt_deadline < deadline))
      deadline = attempt_deadline;
    if (state == RestartState::kDraining &&
        (deadline < 0 || next_sweep_ms_ < deadline))
      deadline = next_sweep_ms_;
    if (root_exit_i >= 0 && (deadline < 0 || root_wait_until_ms_ < deadline))
      deadline = root_wait_until_ms_;
    int timeout = deadline < 0
                      ? -1
                      : static_cast<int>(deadline > now ? deadline - now : 0);
    int rc = real::poll(fds, static_cast<nfds_t>(n), timeout);
    if (rc < 0 && errno != EINTR) {
      HUPTIME_LOG(kError, "restart thread: poll: {}", strerror(errno));
      real::poll(nullptr, 0, 100);
      continue;
    }
    // The program moved one of ours (dup2 over it, our_fds.h): a number
    // polled may be the program's file now. Every event here is level-
    // triggered, so polling again with the new numbers loses nothing.
    if (our_fd_moves() != moves) continue;
    if (fds[0].revents & POLLIN) {
      char buf[64];
      ssize_t got = read(pipe_fd, buf, sizeof buf);
      for (ssize_t i = 0; i < got; ++i)
        if (buf[i] == 'S') on_signal();
    }
    if (ready_i >= 0 && fds[ready_i].revents) gen_after_ready();
    if (master_i >= 0 && (fds[master_i].revents & (POLLHUP | POLLERR)))
      master_gone();
    if (own_notify_i >= 0 && fds[own_notify_i].revents) read_own_notify();
    if (notify_i >= 0 && fds[notify_i].revents)
      on_ready_channel(copy_.read_notify());
    if (child_i >= 0 && fds[child_i].revents)
      on_ready_channel(copy_.read_ready_channel());
    // The first process exiting is no failure (daemons do): the ready
    // channel hangs up when the last process of the copy is gone.
    if (pidfd_i >= 0 && (fds[pidfd_i].revents & POLLIN)) copy_.reap(false);
    if (latch_i >= 0 && (fds[latch_i].revents & POLLIN) &&
        machine_.state() != RestartState::kDraining) {
      HUPTIME_LOG(kDebug, "generation is draining; stopping accepting");
      handle(RestartEvent::kDrainRequested);
    }
    now = monotonic_ms();
    if (root_exit_i >= 0)
      root_exit_step((fds[root_exit_i].revents & POLLIN) != 0, now);
    check_reexec_deadline(now);
    if (machine_.state() == RestartState::kDraining) drain_step(now);
    if (machine_.deadline_ms() >= 0 && now >= machine_.deadline_ms()) {
      RestartEvent event = machine_.deadline_event();
      if (event == RestartEvent::kStartTimeout) {
        std::string reason = fmt::format("not ready within {} ms",
                                         g_rt.config->start_timeout_ms);
        HUPTIME_LOG(kError,
                    "new copy pid {} failed: {}; killing it; "
                    "still serving",
                    copy_.pid(), reason);
        service_end_attempt(false, reason);
      }
      handle(event);
      if (event == RestartEvent::kStartTimeout) copy_.forget();
    }
  }
}

void run_restart_thread() {
  // Each process gets a new machine: a fork child starts afresh. On the
  // thread's own stack (run() never returns): a first malloc on this thread
  // would make glibc give it an arena of its own (64 MiB reserved, a page
  // resident) in every process the library is in.
  RestartThread self;
  self.run();
}

}  // namespace huptime
