#include "restart.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "new_copy.h"
#include "next_image.h"
#include "notify_socket.h"
#include "our_fds.h"
#include "preflight.h"
#include "raw_syscall.h"
#include "real.h"
#include "reexec.h"
#include "restart_machine.h"
#include "restart_steps.h"
#include "runtime.h"
#include "service_state.h"
#include "signals.h"
#include "systemd_link.h"

namespace huptime {

namespace {

bool is_generation_root() { return g_rt.pid.load() == gen_root_pid(); }

// A draining process looks for connections closed behind our back, and
// for newer generations that want it gone (--max-draining), this often.
constexpr int64_t kSweepMs = 250;

// How long a daemon's service owes a restart signal to its parents' exit
// (may_lead_exec_restart): daemons exit right after forking, but a parent
// that cleans up first, on a loaded machine, may take a while.
constexpr int64_t kRootExitWaitMs = 1000;

}  // namespace

void RestartThread::handle(RestartEvent event) {
  RestartState before = machine_.state();
  uint32_t actions = machine_.on(event, monotonic_ms());
  HUPTIME_LOG(kDebug, "restart machine: {} + {} -> {}", state_name(before),
              event_name(event), state_name(machine_.state()));
  carry_out(actions);
}

// Exec mode re-executes the generation's main process in place: a worker
// that got the signal too (sent to the whole group) leaves the restart to
// it. (Passing the signal on would make it two restarts.) A daemon's
// service, though, is the main process's heir: signalled (by the pid file)
// while its parents are still exiting, it owes the restart until they
// have, and takes it over then; after kRootExitWaitMs, or when no exit
// would make it the heir, the restart is the main process's.
bool RestartThread::may_lead_exec_restart(const std::string& sig) {
  if (our_fd(OurFd::kRootExit) >= 0) {
    HUPTIME_LOG(kDebug, "SIG{}: already owed once the main process exits", sig);
    return false;
  }
  if (root_wait_until_ms_ < 0)
    root_wait_until_ms_ = monotonic_ms() + kRootExitWaitMs;
  for (int tries = 0; tries < 3; ++tries) {
    pid_t exiting = 0;
    if (gen_take_over_root(&exiting)) break;
    if (exiting != 0 && monotonic_ms() < root_wait_until_ms_) {
      int fd = static_cast<int>(raw_syscall6(SYS_pidfd_open, exiting, 0));
      if (fd < 0 && errno == ESRCH) continue;  // gone meanwhile: ask again
      if (fd >= 0 && adopt_our_fd(OurFd::kRootExit, fd) >= 0) {
        HUPTIME_LOG(kDebug,
                    "SIG{}: pid {} of the main process's line is still "
                    "exiting; the restart waits for it",
                    sig, exiting);
        return false;
      }
    }
    HUPTIME_LOG(kDebug, "SIG{}: left to the main process {}", sig,
                gen_root_pid());
    root_wait_until_ms_ = -1;
    return false;
  }
  root_wait_until_ms_ = -1;
  return true;
}

// The process that may_lead_exec_restart waits for has exited, or the wait
// timed out: the owed restart is taken over or left to the main process.
void RestartThread::root_exit_step(bool exited, int64_t now) {
  if (our_fd(OurFd::kRootExit) < 0 || (!exited && now < root_wait_until_ms_))
    return;
  close_our_fd(OurFd::kRootExit);
  if (machine_.state() != RestartState::kServing) {
    root_wait_until_ms_ = -1;  // draining: the generation restarted anyway
    return;
  }
  if (exited) {
    on_signal();
    return;
  }
  HUPTIME_LOG(kInfo,
              "SIG{}: the main process {} still runs after {} ms; the "
              "restart is left to it",
              signal_name(restart_signal()), gen_root_pid(), kRootExitWaitMs);
  root_wait_until_ms_ = -1;
}

void RestartThread::on_signal() {
  std::string sig = signal_name(restart_signal());
  if (g_rt.config->mode == Mode::kExec && !is_generation_root() &&
      !may_lead_exec_restart(sig))
    return;
  if (machine_.state() != RestartState::kServing) {
    handle(RestartEvent::kRestartSignal);
    return;
  }
  // First the token: a signal sent to the whole group reaches every
  // process of this generation, and only one of them restarts it; the
  // others must not take the attempt it began for one more.
  if (!gen_take_restart_token()) {
    HUPTIME_LOG(kInfo,
                "restart already under way in another process of "
                "this generation; ignoring SIG{}",
                sig);
    return;
  }
  // A generation that is still starting (it got a signal meant for the
  // whole group) owes the restart: it starts once this one is ready.
  if (service_restart_in_flight()) {
    gen_release_restart_token();
    HUPTIME_LOG(kInfo, "SIG{} during a restart: one more restart will follow",
                sig);
    service_set_pending();
    return;
  }
  begin_restart(("SIG" + sig).c_str());
}

// Counts the attempt, runs the pre-flight checks, then lets the machine
// start it. Requires the restart token.
void RestartThread::begin_restart(const char* why) {
  uint32_t attempt = service_begin_attempt();
  systemd_restart_begins();
  HUPTIME_LOG(kInfo, "restart #{} requested by {}: {}", attempt, why,
              g_rt.config->mode == Mode::kExec ? "draining before re-exec"
                                               : "starting a new copy");
  std::string reason;
  if (!preflight(&reason)) {
    HUPTIME_LOG(kError, "restart #{} aborted: {}; still serving", attempt,
                reason);
    service_end_attempt(false, reason);
    gen_release_restart_token();
    return;
  }
  handle(RestartEvent::kRestartSignal);
}

// --check, that the working directory still exists (deleted, it failed
// the new copy's chdir with an ENOENT blamed on the command), and in exec
// mode (which cannot come back once it has drained) that the command still
// resolves to an executable.
bool RestartThread::preflight(std::string* reason) {
  const LaunchConfig& config = *g_rt.config;
  if (!config.cwd.empty()) {
    struct stat dir {};
    int error = stat(config.cwd.c_str(), &dir) != 0 ? errno
                : S_ISDIR(dir.st_mode)              ? 0
                                                    : ENOTDIR;
    if (error) {
      *reason = "cannot enter the working directory " + config.cwd + ": " +
                strerror(error);
      return false;
    }
  }
  if (config.mode == Mode::kExec) {
    int error = 0;
    if (!resolve_next_command(&error)) {
      *reason = "cannot start " + config.argv[0] + ": " + strerror(error);
      return false;
    }
  }
  if (config.check.empty()) return true;
  HUPTIME_LOG(kInfo, "running check: {}", config.check);
  CheckResult result = run_check(config.check, config.cwd.c_str(), environ,
                                 config.start_timeout_ms);
  if (!result.ok)
    *reason = "check `" + config.check + "` failed: " + result.reason;
  return result.ok;
}

void RestartThread::start_new_copy() {
  std::string reason;
  if (!copy_.start(gen_number() + 1, &reason)) new_copy_failed(reason);
}

void RestartThread::send_stop_signal() {
  int sig = g_rt.config->stop_signal;
  pid_t root = gen_root_pid();
  if (sig <= 0 || root <= 0) return;
  HUPTIME_LOG(kInfo, "sending SIG{} to pid {} (--stop-signal)",
              signal_name(sig), root);
  if (kill(root, sig) != 0)
    HUPTIME_LOG(kWarn, "cannot send SIG{} to pid {}: {}", signal_name(sig),
                root, strerror(errno));
}

// Actions run in a fixed order: stop accepting before telling the rest of
// the generation (so a program thread of ours that sees the latch never
// retires listeners without the copies exec mode keeps).
void RestartThread::carry_out(uint32_t actions) {
  bool exec_leader = machine_.leader() && g_rt.config->mode == Mode::kExec;
  if (actions & action::kOweRestart) {
    HUPTIME_LOG(kInfo, "SIG{} during a restart: one more restart will follow",
                signal_name(restart_signal()));
    service_set_pending();
  }
  if (actions & action::kKillNew) copy_.kill_all();
  if (actions & action::kReleaseToken) gen_release_restart_token();
  if (actions & action::kResumeAccepting) {
    listeners_resume_accepting();
    gen_clear_drain();
  }
  if (actions & action::kStopAccepting) {
    listeners_stop_accepting(exec_leader);
    next_sweep_ms_ = monotonic_ms();
    HUPTIME_LOG(kDebug, "draining {} connection{}", g_conns.load(),
                g_conns.load() == 1 ? "" : "s");
  }
  if (actions & action::kAnnounceDrain) {
    gen_announce_drain();
    if (!exec_leader) send_stop_signal();
  }
  if (actions & action::kCloseConns)
    HUPTIME_LOG(kWarn, "drain timeout: closing {} connection{} still open",
                g_conns.load(), g_conns.load() == 1 ? "" : "s");
  if (actions & action::kSpawn) start_new_copy();
  if (actions & action::kExit) exit_drained();
  if (actions & action::kReExec) reexec();
}

void RestartThread::new_copy_ready() {
  service_set_current(gen_number() + 1, copy_.pid());
  copy_.handed_over();
  service_end_attempt(true, {});
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
              copy_.pid(), g_conns.load(), g_conns.load() == 1 ? "" : "s");
  // Hanging up tells the new generation we stopped accepting: its
  // barrier (generation.cc) lets it accept from now on.
  close_our_fd(OurFd::kChildReady);
}

void RestartThread::new_copy_failed(const std::string& reason) {
  if (copy_.pid() > 0) {
    HUPTIME_LOG(kError,
                "new copy pid {} failed before it was ready ({}); "
                "still serving",
                copy_.pid(), reason);
    copy_.kill_all();
  } else {
    HUPTIME_LOG(kError, "new copy failed: {}; still serving", reason);
  }
  copy_.forget();
  service_end_attempt(false, reason);
  handle(RestartEvent::kNewFailed);
}

void RestartThread::on_ready_channel(NewCopy::Report report) {
  if (machine_.state() != RestartState::kStarting) return;
  if (report == NewCopy::Report::kReady) new_copy_ready();
  if (report == NewCopy::Report::kGone) {
    std::string reason = copy_.failure_reason();
    new_copy_failed(reason);
  }
}

// A restart owed to this generation (signals during the last upgrade):
// started once it serves, by one of its processes.
void RestartThread::start_owed_restart() {
  bool may_lead = g_rt.config->mode != Mode::kExec || is_generation_root();
  if (!may_lead || machine_.state() != RestartState::kServing ||
      !gen_is_ready() || service_restart_in_flight() || !service_take_pending())
    return;
  if (!gen_take_restart_token()) {
    service_set_pending();  // another process of ours runs one
    return;
  }
  begin_restart("a signal received during the last restart");
}

void RestartThread::drain_step(int64_t now) {
  if (now >= next_sweep_ms_) {
    listeners_sweep_conns();
    next_sweep_ms_ = now + kSweepMs;
    if (service_too_many_draining(gen_number())) {
      HUPTIME_LOG(kWarn,
                  "more than {} generations draining: finishing "
                  "generation {} now",
                  g_rt.config->max_draining, gen_number());
      handle(RestartEvent::kDrainTimeout);
      return;
    }
  }
  if (g_conns.load() <= 0 && g_accepts_in_flight.load() == 0)
    handle(RestartEvent::kDrained);
}

// Exec mode, --ready=notify: READY=1 from the re-executed program.
void RestartThread::read_own_notify() {
  int dropped = 0;
  auto messages =
      read_notify_messages(our_fd(OurFd::kOwnNotify), getuid(), &dropped);
  if (dropped > 0)
    HUPTIME_LOG(kWarn, "ignored {} notify message{} from other users", dropped,
                dropped == 1 ? "" : "s");
  for (const NotifyMessage& m : messages)
    if (m.ready) gen_ready_notified();
}

// Exec mode: the re-executed image ends its own attempt as failed when it
// is not ready in time (nothing can be rolled back, but --restart learns).
void RestartThread::check_reexec_deadline(int64_t now) {
  int64_t deadline = service_attempt_deadline_ms();
  if (g_rt.config->mode != Mode::kExec || deadline < 0 || now < deadline ||
      gen_is_ready() || service_page()->attempt_pid.load() != g_rt.pid.load())
    return;
  std::string reason =
      fmt::format("the re-executed service was not ready within {} ms",
                  g_rt.config->start_timeout_ms);
  HUPTIME_LOG(kError, "{}", reason);
  service_end_attempt(false, reason);
}

// `huptime --master` died (SIGKILL): nothing supervises this service any
// more, and the supervisor's next master must be able to bind. The main
// process of a generation still serving stops as on `systemctl stop`
// (SIGTERM); a draining one finishes its drain.
void RestartThread::master_gone() {
  close_our_fd(OurFd::kMaster);
  if (g_rt.pid.load() != gen_root_pid() || gen_drain_announced()) return;
  HUPTIME_LOG(kError,
              "the master (huptime --master) is gone; stopping: SIGTERM to "
              "pid {}",
              g_rt.pid.load());
  kill(g_rt.pid.load(), SIGTERM);
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
  // The workers this process forked stop when they see the drain latch;
  // until they have, the new image's workers would take connections beside
  // them and an old answer could follow a new one (compat/nginx-exec, a
  // worker slow to react under load).
  if (!gen_wait_others_stopped(1000))
    HUPTIME_LOG(kWarn,
                "some processes of this generation still accept after 1 s; "
                "re-executing anyway");
  int error = reexec_in_place();
  std::string reason = std::string("re-exec failed: ") + strerror(error);
  HUPTIME_LOG(kError, "{}; serving again", reason);
  service_end_attempt(false, reason);
  handle(RestartEvent::kExecFailed);
}

}  // namespace huptime
