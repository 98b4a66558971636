#include "new_copy.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "next_image.h"
#include "notify_socket.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"
#include "service_state.h"
#include "spawn.h"
#include "stderr_tail.h"

namespace huptime {

namespace {

constexpr int kStderrLines = 3;
constexpr int kKillWaitMs = 2000;
constexpr int kStatusUnknown = 1000;

// The notify socket for --ready=notify, and the variable that names it.
bool open_notify(std::vector<std::string>* env, std::string* reason) {
  auto sock = open_notify_socket();
  if (!sock) {
    *reason =
        std::string("cannot create the notify socket: ") + strerror(errno);
    return false;
  }
  adopt_our_fd(OurFd::kNotify, sock->fd);
  env->push_back("NOTIFY_SOCKET=" + sock->address);
  return true;
}

}  // namespace

int NewCopy::ready_fd() const { return our_fd(OurFd::kChildReady); }
int NewCopy::notify_fd() const { return our_fd(OurFd::kNotify); }
int NewCopy::pid_fd() const { return reaped_ ? -1 : our_fd(OurFd::kChildPid); }

bool NewCopy::start(uint32_t generation, std::string* reason) {
  forget();
  Handoff handoff;
  handoff.generation = generation;
  listeners_collect(&handoff, false);
  handoff.svc_fd = our_fd(OurFd::kService);
  handoff.master_fd = our_fd(OurFd::kMaster);
  std::vector<std::string> env;
  int pair[2];
  if (!gen_prepare_next(generation, &handoff.state_fd, &handoff.latch_fd) ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    *reason = std::string("cannot prepare it: ") + strerror(errno);
    forget();
    return false;
  }
  adopt_our_fd(OurFd::kChildReady, pair[0]);
  int theirs = real::fcntl(pair[1], F_DUPFD_CLOEXEC, 3);
  real::close(pair[1]);
  handoff.ready_fd = theirs;
  if (g_rt.config->ready == ReadyRule::kNotify && !open_notify(&env, reason)) {
    real::close(theirs);
    forget();
    return false;
  }
  int error = 0;
  auto image = build_next_image(handoff, &error, env);
  Spawned spawned;
  if (image) {
    int keep[Handoff::kMaxFds + 8];
    int n = 0;
    for (int i = 0; i < handoff.n_listen; ++i) keep[n++] = handoff.listen[i].fd;
    for (int fd : {theirs, handoff.state_fd, handoff.latch_fd, handoff.svc_fd,
                   handoff.master_fd})
      if (fd >= 0) keep[n++] = fd;
    unlink_configured_files();
    stderr_mark_ = stderr_mark();
    spawned = spawn_image(*image, keep, n);
    error = spawned.error;
  }
  real::close(theirs);
  if (spawned.pid < 0) {
    *reason = std::string("cannot start ") + g_rt.config->argv[0] + ": " +
              strerror(error);
    forget();
    return false;
  }
  pid_ = spawned.pid;
  gen_next_started(pid_);
  // pidfd_open's fd is close-on-exec already; ours, never the program's.
  adopt_our_fd(OurFd::kChildPid,
               static_cast<int>(raw_syscall6(SYS_pidfd_open, pid_, 0)));
  HUPTIME_LOG(kInfo,
              "new copy started as pid {} (generation {}, {} listener{})", pid_,
              generation, handoff.n_listen, handoff.n_listen == 1 ? "" : "s");
  return true;
}

NewCopy::Report NewCopy::read_ready_channel() {
  char byte = 0;
  ssize_t n = recv(ready_fd(), &byte, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Report::kNothing;
  // By the listen rule the copy says 'R'; with --ready=notify it only
  // hangs up when it goes away.
  if (n == 1 && byte == 'R' && g_rt.config->ready == ReadyRule::kListen)
    return Report::kReady;
  if (n == 1) return Report::kNothing;
  close_our_fd(OurFd::kChildReady);
  return Report::kGone;
}

NewCopy::Report NewCopy::read_notify() {
  int dropped = 0;
  auto messages = read_notify_messages(notify_fd(), getuid(), &dropped);
  if (dropped > 0)
    HUPTIME_LOG(kWarn, "ignored {} notify message{} from other users", dropped,
                dropped == 1 ? "" : "s");
  for (const NotifyMessage& m : messages) {
    if (!m.status.empty())
      HUPTIME_LOG(kInfo, "new copy pid {} status: {}", pid_, m.status);
    if (m.ready) {
      HUPTIME_LOG(kDebug, "READY=1 from pid {}", m.sender_pid);
      return Report::kReady;
    }
  }
  return Report::kNothing;
}

void NewCopy::reap(bool block) {
  if (pid_ <= 0 || reaped_) return;
  siginfo_t info{};
  int rc = waitid(P_PID, static_cast<id_t>(pid_), &info,
                  WEXITED | __WALL | (block ? 0 : WNOHANG));
  if (rc == 0 && info.si_pid == pid_) {
    reaped_ = true;
    status_ = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
  } else if (rc != 0 && errno == ECHILD) {
    reaped_ = true;  // the program reaped it (waitpid(-1))
    status_ = kStatusUnknown;
  }
  if (reaped_) close_our_fd(OurFd::kChildPid);
}

std::string NewCopy::failure_reason() {
  // Give a crashing copy a moment to become reapable, for the message.
  for (int i = 0; i < 20 && !reaped_; ++i) {
    reap(false);
    int fd = pid_fd();
    pollfd p{fd, POLLIN, 0};
    if (!reaped_) real::poll(&p, fd >= 0 ? 1 : 0, 10);
  }
  std::string reason;
  if (!reaped_)
    reason = "it closed its ready channel";
  else if (status_ == kStatusUnknown)
    reason = "it exited (status unknown: the program reaped it)";
  else if (status_ < 0)
    reason = std::string("killed by signal ") + sigabbrev_np(-status_);
  else
    reason = "exit status " + std::to_string(status_);
  std::string tail = stderr_tail_since(stderr_mark_, kStderrLines);
  if (!tail.empty()) reason += "; last stderr lines: " + tail;
  return reason;
}

void NewCopy::kill_all() {
  if (pid_ > 0 && !reaped_) kill(pid_, SIGKILL);
  if (!gen_next_kill_all(kKillWaitMs))
    HUPTIME_LOG(kWarn, "processes of the failed generation survive SIGKILL");
  reap(true);
}

void NewCopy::handed_over() {
  gen_next_mark_ready();
  gen_release_next();
  close_our_fd(OurFd::kNotify);
  // The pidfd stays: the copy is our child until we exit, and only we can
  // reap it (its exit signal is 0).
}

void NewCopy::forget() {
  gen_release_next();
  close_our_fd(OurFd::kNotify);
  close_our_fd(OurFd::kChildReady);
  close_our_fd(OurFd::kChildPid);
  pid_ = -1;
  reaped_ = false;
  status_ = 0;
  stderr_mark_ = -1;
}

}  // namespace huptime
