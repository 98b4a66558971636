// The master's copies of the service: starting them, seeing them ready,
// restarting them one at a time (the roll), and what happens when one's
// main process exits (master.h).
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "clock.h"
#include "master_impl.h"
#include "master_start.h"
#include "systemd_notify.h"

namespace huptime {

namespace {

// A revived copy that has served this long starts its backoff afresh.
constexpr int64_t kStableMs = 10'000;
constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 30'000;
// A copy signalled to restart must begin its attempt by then.
constexpr int64_t kBeginWithinMs = 5'000;

bool alive(pid_t pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

std::string describe(pid_t pid, int status) {
  std::string who = "pid " + std::to_string(pid);
  if (status < 0) return who + " exited (status unknown: not our child)";
  if (WIFSIGNALED(status))
    return who + " was killed by SIG" + signal_name(WTERMSIG(status));
  return who + " exited with status " + std::to_string(WEXITSTATUS(status));
}

void wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

int Master::status_of(pid_t pid) const {
  auto it = reaped_.find(pid);
  return it == reaped_.end() ? -1 : it->second;
}

bool Master::all_ready() const {
  return std::all_of(copies_.begin(), copies_.end(),
                     [](const Copy& c) { return c.gone || c.ready; });
}

void Master::watch_leader(Copy& copy, pid_t pid) {
  if (copy.pidfd >= 0) close(copy.pidfd);
  copy.leader = pid;
  copy.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

void Master::start_copy(size_t i, const char* why) {
  if (plan_.seccomp) {
    start_intercepted(i, why);
    return;
  }
  Copy& copy = copies_[i];
  StartSpec spec;
  spec.argv = plan_.argv;
  spec.env = plan_.env;
  spec.mask = plan_.launch_mask;
  spec.restart_signal = plan_.config.restart_signal;
  spec.generation = copy.generation + 1;
  spec.svc_fd = page_.fd;
  spec.master_fd = child_channel_;
  spec.listeners = held_.held();
  Started started = start_generation(spec);
  copy.ready = false;
  copy.exit_grace = -1;
  if (started.pid < 0) {
    log(LogLevel::kError, "cannot start copy " + std::to_string(i + 1) + " (" +
                              why + "): " + started.error);
    copy.leader = -1;
    leader_dead(i, 127 << 8);
    return;
  }
  copy.generation = spec.generation;
  copy.started_ms = monotonic_ms();
  watch_leader(copy, started.pid);
  log(LogLevel::kInfo,
      "started pid " + std::to_string(started.pid) + " (" + why +
          (copies_.size() > 1 ? ", copy " + std::to_string(i + 1) : "") + ", " +
          std::to_string(spec.listeners.size()) + " listener(s) held)");
}

// The library marks the service page when a generation is ready
// (current_pid); the master's own starts are ready when it names them.
void Master::check_readiness(int64_t now) {
  ServiceShared* page = page_.page;
  pid_t current = page->current_pid.load();
  for (size_t i = 0; i < copies_.size(); ++i) {
    Copy& copy = copies_[i];
    if (copy.ready && copy.revivals > 0 && now - copy.ready_ms > kStableMs)
      copy.revivals = 0;
    if (copy.ready || copy.leader <= 0 || current != copy.leader) continue;
    copy.ready = true;
    copy.ready_ms = now;
    held_.commit(page->current_gen.load());
    log(LogLevel::kInfo, "pid " + std::to_string(copy.leader) + " is ready" +
                             (copy.revivals > 0 ? " (revived)" : ""));
    if (i + 1 < copies_.size() && copies_[i + 1].leader <= 0 &&
        !copies_[i + 1].gone && copies_[i + 1].revive_at < 0)
      start_copy(i + 1, "first start");
  }
  if (!announced_ready_ && all_ready()) {
    announced_ready_ = true;
    log(LogLevel::kInfo,
        copies_.size() > 1
            ? "serving: " + std::to_string(copies_.size()) + " copies ready"
            : "serving");
    notify("READY=1\nSTATUS=serving\n");
  }
}

// The copy's main process is gone because a newer generation serves in
// its place (a restart the master did not start, or one whose end it has
// not seen yet): follow it.
bool Master::adopt_successor(Copy& copy) {
  pid_t current = page_.page->current_pid.load();
  if (current <= 0 || current == copy.leader || !alive(current)) return false;
  for (const Copy& other : copies_)
    if (&other != &copy && other.leader == current) return false;
  log(LogLevel::kDebug, "pid " + std::to_string(current) + " now serves in " +
                            "place of pid " + std::to_string(copy.leader));
  watch_leader(copy, current);
  copy.generation = page_.page->current_gen.load();
  copy.ready = true;
  copy.ready_ms = monotonic_ms();
  copy.exit_grace = -1;
  return true;
}

void Master::on_leader_exit(size_t i) {
  Copy& copy = copies_[i];
  close(copy.pidfd);
  copy.pidfd = -1;
  copy.exit_status = status_of(copy.leader);
  if (stopping_) {
    log(LogLevel::kInfo, describe(copy.leader, copy.exit_status));
    exit_status_ = copy.exit_status;
    copy.leader = -1;
    copy.gone = true;
    return;
  }
  if (adopt_successor(copy)) return;
  ServiceShared* page = page_.page;
  if (page->ended.load() != page->begun.load()) {
    // It died during a restart: the new copy it started may still take
    // over.
    copy.exit_grace =
        monotonic_ms() + plan_.config.start_timeout_ms + kStuckAttemptGraceMs;
    return;
  }
  leader_dead(i, copy.exit_status);
}

void Master::leader_dead(size_t i, int status) {
  Copy& copy = copies_[i];
  pid_t pid = copy.leader;
  if (!copy.ready) held_.drop(copy.generation);
  copy.leader = -1;
  copy.ready = false;
  copy.exit_grace = -1;
  if (copy.pidfd >= 0) close(copy.pidfd);
  copy.pidfd = -1;
  if (pid > 0) log(LogLevel::kWarn, describe(pid, status));
  bool may_revive =
      plan_.revive && !stopping_ &&
      (plan_.revive_limit == 0 || copy.revivals < plan_.revive_limit);
  if (may_revive) {
    int64_t delay =
        std::min(kMaxBackoffMs, kFirstBackoffMs << std::min(copy.revivals, 16));
    copy.revivals++;
    copy.revive_at = monotonic_ms() + delay;
    log(LogLevel::kWarn,
        "reviving it in " + std::to_string(delay) + " ms (revival " +
            std::to_string(copy.revivals) +
            (plan_.revive_limit ? " of " + std::to_string(plan_.revive_limit)
                                : "") +
            "); its listeners stay open meanwhile");
    return;
  }
  if (plan_.revive && !stopping_)
    log(LogLevel::kError,
        "not reviving it again: " + std::to_string(copy.revivals) +
            " revivals in a row (--revive-limit)");
  copy.gone = true;
  exit_status_ = status;
  if (stopping_ || !std::all_of(copies_.begin(), copies_.end(),
                                [](const Copy& c) { return c.gone; }))
    return;
  log(LogLevel::kError, "the service is gone; stopping what is left of it");
  notify("STOPPING=1\n");
  stopping_ = true;
  kill_leftovers_ = true;
  stop_since_ = monotonic_ms();
  roll_.active = roll_.owed = false;
  page_.page->rolling.store(0);
  signal_service(SIGTERM);
}

void Master::on_restart_signal() {
  if (stopping_) return;
  ServiceShared* page = page_.page;
  if (roll_.active || !all_ready() ||
      page->ended.load() != page->begun.load()) {
    if (!roll_.owed)
      log(LogLevel::kInfo,
          "restart signal during a restart: one more restart will follow");
    roll_.owed = true;
    return;
  }
  begin_roll();
}

void Master::begin_roll() {
  roll_ = Roll{};
  roll_.active = true;
  page_.page->rolling.store(1);
  notify(systemd_reloading_message());
  log(LogLevel::kInfo,
      copies_.size() > 1
          ? "restarting " + std::to_string(copies_.size()) +
                " copies one at a time"
          : "restarting pid " + std::to_string(copies_[0].leader));
  roll_send(monotonic_ms());
}

void Master::roll_send(int64_t now) {
  while (roll_.index < copies_.size() &&
         (copies_[roll_.index].gone || !copies_[roll_.index].ready))
    ++roll_.index;
  if (roll_.index >= copies_.size()) {
    end_roll(true, "");
    return;
  }
  Copy& copy = copies_[roll_.index];
  roll_.begun_at_send = page_.page->begun.load();
  roll_.signalled = copy.leader;
  roll_.begin_deadline = now + kBeginWithinMs;
  roll_.end_deadline = -1;
  if (plan_.seccomp) {
    restart_intercepted(roll_.index);
    return;
  }
  if (kill(copy.leader, plan_.config.restart_signal) != 0)
    end_roll(false, "cannot signal pid " + std::to_string(copy.leader) + ": " +
                        strerror(errno));
}

void Master::roll_step(int64_t now) {
  if (!roll_.active) return;
  ServiceShared* page = page_.page;
  uint32_t begun = page->begun.load();
  uint32_t ended = page->ended.load();
  std::string who = "pid " + std::to_string(roll_.signalled);
  if (roll_.end_deadline < 0) {
    if (begun != roll_.begun_at_send) {
      roll_.end_deadline =
          now + plan_.config.start_timeout_ms + kStuckAttemptGraceMs;
    } else {
      if (now > roll_.begin_deadline)
        end_roll(false, who + " did not begin the restart");
      return;
    }
  }
  if (ended != begun) {
    if (now > roll_.end_deadline)
      end_roll(false, who + " did not finish the restart");
    return;
  }
  if (!page->last_ok.load()) {
    const char* text = page->last_error;
    end_roll(false,
             std::string(text, strnlen(text, ServiceShared::kErrorSize)));
    return;
  }
  Copy& copy = copies_[roll_.index];
  if (copy.leader == roll_.signalled) adopt_successor(copy);
  log(LogLevel::kInfo, who + " replaced by pid " + std::to_string(copy.leader) +
                           " (generation " + std::to_string(copy.generation) +
                           ")");
  ++roll_.index;
  roll_send(now);
}

void Master::end_roll(bool ok, const std::string& error) {
  ServiceShared* page = page_.page;
  roll_.active = false;
  seen_begun_ = page->begun.load();
  if (!ok && page->last_ok.load()) {
    size_t n = std::min(error.size(), ServiceShared::kErrorSize - 1);
    memcpy(page->last_error, error.data(), n);
    page->last_error[n] = '\0';
    page->last_ok.store(0);
  }
  page->rolling.store(0);
  wake(&page->ended);
  if (ok) {
    log(LogLevel::kInfo, "restart complete: the new version serves");
    notify("READY=1\nSTATUS=serving\n");
  } else {
    log(LogLevel::kError,
        "restart failed: " + error + "; the copies not restarted keep serving");
    notify("READY=1\nSTATUS=restart failed: " + error + "\n");
  }
}

// Restarts begun by signalling a copy directly (or by `huptime --restart`
// against it): systemd still hears of them, and the master follows the
// copy's new main process.
void Master::observe_outside_restarts() {
  if (roll_.active) return;
  ServiceShared* page = page_.page;
  uint32_t begun = page->begun.load();
  uint32_t ended = page->ended.load();
  if (begun == seen_begun_) return;
  if (ended != begun) {
    if (!outside_reloading_) notify(systemd_reloading_message());
    outside_reloading_ = true;
    return;
  }
  seen_begun_ = begun;
  outside_reloading_ = false;
  notify("READY=1\nSTATUS=serving\n");
  if (copies_.size() == 1 && copies_[0].ready) adopt_successor(copies_[0]);
}

void Master::tick(int64_t now) {
  if (stopping_) return;
  if (plan_.seccomp) intercepted_tick(now);
  held_.commit(page_.page->current_gen.load());
  check_readiness(now);
  roll_step(now);
  observe_outside_restarts();
  for (size_t i = 0; i < copies_.size(); ++i) {
    Copy& copy = copies_[i];
    if (copy.exit_grace >= 0 && !adopt_successor(copy) && now > copy.exit_grace)
      leader_dead(i, copy.exit_status);
    if (copy.revive_at >= 0 && now >= copy.revive_at) {
      copy.revive_at = -1;
      start_copy(i, "revival");
    }
  }
  if (roll_.owed && !roll_.active && all_ready() &&
      page_.page->ended.load() == page_.page->begun.load()) {
    roll_.owed = false;
    begin_roll();
  }
}

}  // namespace huptime
