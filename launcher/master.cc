// The master's set-up, event loop, signals, stop and exit (master.h).
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "clock.h"
#include "diag.h"
#include "master_impl.h"
#include "service_scan.h"
#include "systemd_notify.h"

namespace huptime {

namespace {

// The signals the master handles itself (signalfd); any other keeps its
// default action. Besides these, HUP, USR1, USR2 and WINCH, unless one of
// them is the restart signal, are passed on to the service's main processes
// (log reopening, nginx's own configuration reload with --signal=USR2).
constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGQUIT};
constexpr int kForwarded[] = {SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};

// After the service's main process died for good, the rest of it gets
// SIGTERM, and SIGKILL this much later.
constexpr int64_t kLeftoverKillMs = 10'000;

}  // namespace

Master::Master(MasterPlan plan) : plan_(std::move(plan)) {}

void Master::log(LogLevel level, const std::string& message) const {
  if (level > plan_.config.log_level) return;
  std::string line =
      "huptime[" + std::to_string(self_) + "]: master: " + message + "\n";
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

void Master::notify(const std::string& message) const {
  if (plan_.systemd_notify.empty()) return;
  int error = systemd_notify_send(plan_.systemd_notify, message);
  if (error != 0)
    log(LogLevel::kWarn, "cannot notify systemd at " + plan_.systemd_notify +
                             ": " + strerror(error));
}

void Master::setup() {
  self_ = getpid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    fatal(kExitFailure, std::string("--master: cannot become a subreaper: ") +
                            strerror(errno));
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : kStopSignals) sigaddset(&handled, sig);
  for (int sig : kForwarded) sigaddset(&handled, sig);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, plan_.config.restart_signal);
  signal_fd_ = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  // A log line to a closed pipe must not kill the master: blocked (not
  // ignored, which the service would inherit), write() says EPIPE. Each
  // generation starts with the mask the master was given.
  sigaddset(&handled, SIGPIPE);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  page_ = create_service_page(plan_.config, kPageModeMaster);
  int pair[2];
  if (signal_fd_ < 0 || page_.fd < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    fatal(kExitFailure,
          std::string("--master: cannot set up: ") + strerror(errno));
  channel_ = pair[0];
  child_channel_ = pair[1];
  fcntl(channel_, F_SETFL, O_NONBLOCK);
  if (plan_.seccomp) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
      fatal(kExitFailure,
            std::string("--master: cannot set up: ") + strerror(errno));
    notify_ours_ = pair[0];
    notify_theirs_ = pair[1];
    broker_ = std::make_unique<SyscallBroker>(
        held_, [this](LogLevel level, const std::string& message) {
          log(level, message);
        });
  }
  page_.page->master_pid.store(self_);
  held_.hold(plan_.activated);
  copies_.resize(static_cast<size_t>(plan_.copies));
  log(LogLevel::kInfo,
      "supervising " + plan_.argv[0] +
          (plan_.copies > 1 ? " (" + std::to_string(plan_.copies) + " copies)"
                            : "") +
          (plan_.revive ? ", reviving it when it exits" : ""));
}

int Master::poll_timeout_ms() const {
  bool busy = roll_.active || stopping_ || !all_ready();
  for (const Copy& copy : copies_)
    busy = busy || copy.revive_at >= 0 || copy.exit_grace >= 0;
  for (const auto& gen : intercepted_)
    busy = busy || !gen->ready || gen->machine.deadline_ms() >= 0;
  return busy ? 20 : 200;
}

void Master::on_signal(const signalfd_siginfo& info) {
  int sig = static_cast<int>(info.ssi_signo);
  if (sig == SIGCHLD) return;  // reaped below
  if (sig == plan_.config.restart_signal) {
    on_restart_signal();
    return;
  }
  for (int stop : kStopSignals)
    if (sig == stop) {
      begin_stop(sig, "SIG" + signal_name(sig) + " from pid " +
                          std::to_string(info.ssi_pid));
      return;
    }
  for (const Copy& copy : copies_)
    if (copy.leader > 0) kill(copy.leader, sig);
}

// Every process of the service: those holding the service page.
void Master::signal_service(int sig) {
  struct stat st;
  if (fstat(page_.fd, &st) != 0) return;
  FileId id{st.st_dev, st.st_ino};
  for (pid_t pid : pids_of(members_of(scan_services(kProcRoot), id)))
    if (pid != self_) kill(pid, sig);
  for (const Copy& copy : copies_)
    if (copy.leader > 0) kill(copy.leader, sig);
}

// Every process holding the generation page with this identity.
void Master::signal_service_generation(dev_t dev, ino_t ino, int sig) {
  FileId id{dev, ino};
  for (const ProcessMemfds& process : scan_services(kProcRoot))
    for (const MemfdRef& ref : process.generations)
      if (ref.id == id && process.pid != self_) kill(process.pid, sig);
}

void Master::begin_stop(int sig, const std::string& why) {
  if (!stopping_) {
    log(LogLevel::kInfo, "stopping the service (" + why + ")");
    notify("STOPPING=1\n");
  }
  stopping_ = true;
  if (stop_since_ < 0) stop_since_ = monotonic_ms();
  roll_.active = roll_.owed = false;
  page_.page->rolling.store(0);
  signal_service(sig);
}

void Master::reap_children() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    reaped_[pid] = status;
    if (reaped_.size() > 4096) reaped_.erase(reaped_.begin());
  }
}

// Exits once the service is stopping (or dead) and no process of it is
// left: as a subreaper, the master is the parent of every orphan.
void Master::maybe_finish() {
  if (!stopping_) return;
  if (kill_leftovers_ && monotonic_ms() - stop_since_ > kLeftoverKillMs) {
    log(LogLevel::kWarn, "processes of the service are still running " +
                             std::to_string(kLeftoverKillMs / 1000) +
                             " s after it died; killing them");
    signal_service(SIGKILL);
    stop_since_ = monotonic_ms();
  }
  if (waitpid(-1, nullptr, WNOHANG | __WALL) != -1 || errno != ECHILD) return;
  if (broker_) broker_->remove_kept_paths();
  held_.close_all();
  exit_like_service();
}

// The supervisor sees what it would have seen of the service itself: the
// same exit status, or death by the same signal (without a core dump).
void Master::exit_like_service() {
  int status = exit_status_;
  if (status >= 0 && WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    log(LogLevel::kInfo, "the service has stopped (killed by SIG" +
                             signal_name(sig) + "); exiting the same way");
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
  }
  int code = status < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  log(LogLevel::kInfo, "the service has stopped; exiting with status " +
                           std::to_string(code) +
                           (status < 0 ? " (its status is unknown)" : ""));
  _exit(code);
}

void Master::run() {
  setup();
  for (size_t i = 0; i < copies_.size(); ++i)
    if (i == 0) start_copy(i, "first start");
  std::vector<pollfd> fds;
  for (;;) {
    // signals, reports, one pidfd per copy, then (seccomp) one pidfd per
    // intercepted generation and the broker's notification fds.
    fds.clear();
    fds.push_back({signal_fd_, POLLIN, 0});
    fds.push_back({channel_, POLLIN, 0});
    size_t first_pidfd = fds.size();
    for (const Copy& copy : copies_) fds.push_back({copy.pidfd, POLLIN, 0});
    size_t first_gen = fds.size();
    std::vector<uint32_t> gen_numbers;
    for (const auto& gen : intercepted_) {
      fds.push_back({gen->pidfd, POLLIN, 0});
      gen_numbers.push_back(gen->number);
    }
    size_t first_ready = fds.size();
    for (const auto& gen : intercepted_)
      fds.push_back({gen->notify_fd, POLLIN, 0});  // -1: ignored by poll
    size_t first_notify = fds.size();
    if (broker_) broker_->poll_fds(&fds);
    int rc = poll(fds.data(), fds.size(), poll_timeout_ms());
    if (rc < 0 && errno != EINTR)
      fatal(kExitFailure, std::string("--master: poll: ") + strerror(errno));
    // Trapped system calls first: a program waits in them.
    for (size_t k = first_notify; k < fds.size(); ++k)
      if (fds[k].revents) broker_->on_event(fds[k].fd, fds[k].revents);
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == sizeof info) on_signal(info);
    reap_children();
    if (fds[1].revents & POLLIN) held_.read_reports(channel_);
    for (size_t i = 0; i < copies_.size(); ++i)
      if (fds[first_pidfd + i].revents & POLLIN) on_leader_exit(i);
    for (size_t k = 0; k < gen_numbers.size(); ++k) {
      InterceptedGen* gen = intercepted(gen_numbers[k]);
      if (gen && (fds[first_ready + k].revents & POLLIN))
        read_notifications(*gen);
      if (gen && !gen->exited && (fds[first_gen + k].revents & POLLIN))
        intercepted_exit(*gen);
    }
    tick(monotonic_ms());
    maybe_finish();
  }
}

void run_master(MasterPlan plan) {
  auto* master = new Master(std::move(plan));
  master->run();
}

}  // namespace huptime
