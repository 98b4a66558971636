// Restarts of programs under seccomp interception (master.h): the master
// runs, for each generation it started under the filter, the restart state
// machine the library runs inside a preloaded one (lib/restart_machine.h),
// and carries out its actions from outside:
//
//   kSpawn          start the next generation under the filter
//   new copy ready  every held listener bound (handed over by the broker)
//                   and listened on, and a thread waiting for work (or,
//                   with --ready=notify, READY=1 on the NOTIFY_SOCKET the
//                   master gave that generation)
//   kStopAccepting  the --stop-signal (default TERM) to the old generation:
//                   a Go server closes its listeners and finishes its
//                   requests; its shutdown() of them is skipped
//   kKillNew        SIGKILL to a generation that did not start in time
//   kCloseConns     SIGKILL to a generation still there after the drain
//                   timeout
//
// The outcome goes to the service page as the library would write it, so
// the roll (master_copies.cc), `huptime --restart` and --status work the
// same for both paths.
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "clock.h"
#include "master_impl.h"
#include "master_start.h"
#include "notify_socket.h"
#include "preflight.h"
#include "proc_peek.h"

namespace huptime {

namespace {

// A GenShared page in a memfd, as the library creates for a generation.
bool create_gen_page(InterceptedGen* gen) {
  int fd = memfd_create(kGenerationMemfdName, MFD_CLOEXEC);
  if (fd < 0) return false;
  void* mem = MAP_FAILED;
  if (ftruncate(fd, sizeof(GenShared)) == 0)
    mem = mmap(nullptr, sizeof(GenShared), PROT_READ | PROT_WRITE, MAP_SHARED,
               fd, 0);
  if (mem == MAP_FAILED) {
    close(fd);
    return false;
  }
  struct stat st;
  fstat(fd, &st);
  gen->page_dev = st.st_dev;
  gen->page_ino = st.st_ino;
  gen->page_fd = fd;
  gen->page = new (mem) GenShared();
  gen->page->generation.store(gen->number);
  gen->page->started_ms.store(monotonic_ms());
  gen->page->magic.store(GenShared::kMagic);
  return true;
}

std::string pid_text(pid_t pid) { return "pid " + std::to_string(pid); }

}  // namespace

InterceptedGen* Master::intercepted(uint32_t number) {
  for (auto& gen : intercepted_)
    if (gen->number == number) return gen.get();
  return nullptr;
}

InterceptedGen* Master::serving_intercepted(size_t copy) {
  for (auto& gen : intercepted_)
    if (gen->copy == copy && !gen->exited &&
        gen->leader == copies_[copy].leader)
      return gen.get();
  return nullptr;
}

// Starts a generation for copy `i` under the filter. Null, with *error
// set, when it could not be started.
InterceptedGen* Master::launch_intercepted(size_t i, const char* why,
                                           std::string* error) {
  RestartTimeouts timeouts{plan_.config.start_timeout_ms,
                           plan_.config.drain_timeout_ms};
  auto gen = std::make_unique<InterceptedGen>(Mode::kFork, timeouts);
  gen->copy = i;
  gen->number = ++next_generation_;
  if (!create_gen_page(gen.get())) {
    *error = "cannot create a generation page: " + std::string(strerror(errno));
    return nullptr;
  }
  StartSpec spec;
  spec.argv = plan_.argv;
  spec.env = plan_.program_env;
  if (plan_.config.ready == ReadyRule::kNotify) {
    std::optional<NotifySocket> notify = open_notify_socket();
    if (!notify) {
      *error = "cannot open a notify socket: " + std::string(strerror(errno));
      munmap(gen->page, sizeof(GenShared));
      close(gen->page_fd);
      return nullptr;
    }
    gen->notify_fd = notify->fd;
    spec.env.push_back("NOTIFY_SOCKET=" + notify->address);
  }
  spec.mask = plan_.launch_mask;
  spec.generation = gen->number;
  spec.svc_fd = page_.fd;
  spec.gen_fd = gen->page_fd;
  spec.seccomp = true;
  spec.notify_channel = notify_theirs_;
  spec.notify_from = notify_ours_;
  Started started = start_generation(spec);
  close(gen->page_fd);  // the child has it
  gen->page_fd = -1;
  if (started.pid < 0) {
    *error = started.error;
    munmap(gen->page, sizeof(GenShared));
    if (gen->notify_fd >= 0) close(gen->notify_fd);
    return nullptr;
  }
  gen->leader = started.pid;
  gen->pidfd = static_cast<int>(syscall(SYS_pidfd_open, started.pid, 0));
  gen->page->root_pid.store(started.pid);
  broker_->add(gen->number, started.notify_fd);
  log(LogLevel::kInfo,
      "started pid " + std::to_string(started.pid) + " (" + why +
          (copies_.size() > 1 ? ", copy " + std::to_string(i + 1) : "") +
          ", generation " + std::to_string(gen->number) +
          ", seccomp interception, " + std::to_string(held_.held().size()) +
          " listener(s) held)");
  intercepted_.push_back(std::move(gen));
  return intercepted_.back().get();
}

// A first start or a revival: the copy follows the new generation.
void Master::start_intercepted(size_t i, const char* why) {
  std::string error;
  InterceptedGen* gen = launch_intercepted(i, why, &error);
  if (!gen) {
    log(LogLevel::kError, "cannot start copy " + std::to_string(i + 1) + " (" +
                              why + "): " + error);
    copies_[i].leader = -1;
    leader_dead(i, 127 << 8);
    return;
  }
  Copy& copy = copies_[i];
  copy.ready = false;
  copy.exit_grace = -1;
  copy.generation = gen->number;
  copy.started_ms = monotonic_ms();
  watch_leader(copy, gen->leader);
}

bool Master::intercepted_serves(const InterceptedGen& gen) const {
  const std::set<uint64_t>& listened = broker_->listened(gen.number);
  if (listened.empty()) return false;
  for (const FdInode& held : held_.held())
    if (!listened.count(held.inode)) return false;
  if (plan_.config.ready == ReadyRule::kNotify) return gen.said_ready;
  return waiting_for_work(gen.leader);
}

void Master::read_notifications(InterceptedGen& gen) {
  int dropped = 0;
  for (const NotifyMessage& message :
       read_notify_messages(gen.notify_fd, getuid(), &dropped))
    if (message.ready && !gen.said_ready) {
      gen.said_ready = true;
      log(LogLevel::kDebug, pid_text(message.sender_pid) + " said READY=1 " +
                                "(generation " + std::to_string(gen.number) +
                                ")");
    }
  if (dropped > 0)
    log(LogLevel::kWarn, std::to_string(dropped) +
                             " notify message(s) from other users ignored");
}

void Master::begin_attempt(pid_t leader) {
  ServiceShared* page = page_.page;
  page->attempt_pid.store(leader);
  page->attempt_ms.store(monotonic_ms());
  page->begun.fetch_add(1);
}

void Master::end_attempt(bool ok, const std::string& error) {
  ServiceShared* page = page_.page;
  uint32_t begun = page->begun.load();
  if (page->ended.load() >= begun) return;
  if (!ok) {
    size_t n = std::min(error.size(), ServiceShared::kErrorSize - 1);
    memcpy(page->last_error, error.data(), n);
    page->last_error[n] = '\0';
    page->failed.fetch_add(1);
    log(LogLevel::kError, "restart failed: " + error);
  }
  page->last_ok.store(ok ? 1 : 0);
  page->ended.store(begun);
  syscall(SYS_futex, &page->ended, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// The roll asks copy `i` to restart: its serving generation gets the
// restart event, as the library's would on the signal.
void Master::restart_intercepted(size_t i) {
  InterceptedGen* gen = serving_intercepted(i);
  if (!gen) return;
  int64_t now = monotonic_ms();
  uint32_t actions = gen->machine.on(RestartEvent::kRestartSignal, now);
  if (actions & action::kSpawn) {
    begin_attempt(gen->leader);
    if (!plan_.config.check.empty()) {
      log(LogLevel::kInfo, "running check: " + plan_.config.check);
      std::vector<std::string> env = plan_.program_env;
      std::vector<char*> envp;
      for (std::string& entry : env) envp.push_back(entry.data());
      envp.push_back(nullptr);
      CheckResult result =
          run_check(plan_.config.check, plan_.config.cwd.c_str(), envp.data(),
                    plan_.config.start_timeout_ms);
      if (!result.ok) {
        apply(*gen, gen->machine.on(RestartEvent::kNewFailed, now), now);
        end_attempt(false, "check `" + plan_.config.check +
                               "` failed: " + result.reason);
        return;
      }
    }
    // --unlink: files the new version refuses to find (a pid file).
    for (const std::string& path : plan_.config.unlink)
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        log(LogLevel::kWarn,
            "cannot remove " + path + " (--unlink): " + strerror(errno));
    std::string error;
    InterceptedGen* next = launch_intercepted(i, "restart", &error);
    if (!next) {
      apply(*gen, gen->machine.on(RestartEvent::kNewFailed, now), now);
      end_attempt(false, "cannot start the new version: " + error);
      return;
    }
    gen->successor = next->number;
  }
}

void Master::kill_generation(InterceptedGen& gen, int sig) {
  // Its processes hold its page: the leader and whatever it started.
  if (gen.leader > 0) kill(gen.leader, sig);
  if (sig == SIGKILL)
    signal_service_generation(gen.page_dev, gen.page_ino, sig);
}

void Master::apply(InterceptedGen& gen, uint32_t actions, int64_t now) {
  (void)now;
  if (actions & action::kKillNew) {
    if (InterceptedGen* next = intercepted(gen.successor))
      kill_generation(*next, SIGKILL);
  }
  if (actions & action::kStopAccepting) {
    gen.page->draining.store(1);
    log(LogLevel::kInfo,
        pid_text(gen.leader) + " (generation " + std::to_string(gen.number) +
            "): sending SIG" + signal_name(plan_.stop_signal) +
            " to stop it; it may finish its connections for " +
            std::to_string(plan_.config.drain_timeout_ms / 1000) + " s");
    kill(gen.leader, plan_.stop_signal);
  }
  if (actions & action::kCloseConns) {
    log(LogLevel::kWarn, pid_text(gen.leader) +
                             " is still running after the drain timeout; "
                             "killing it");
    kill_generation(gen, SIGKILL);
  }
  if (actions & action::kReleaseToken) gen.successor = 0;
}

void Master::intercepted_exit(InterceptedGen& gen) {
  gen.exited = true;
  close(gen.pidfd);
  gen.pidfd = -1;
  if (!gen.ready) held_.drop(gen.number);
  int64_t now = monotonic_ms();
  // A new copy that died before it served.
  for (auto& other : intercepted_)
    if (other->successor == gen.number && !gen.ready) {
      int status = status_of(gen.leader);
      std::string how =
          status < 0 ? "exited"
          : WIFSIGNALED(status)
              ? "was killed by SIG" + signal_name(WTERMSIG(status))
              : "exited with status " + std::to_string(WEXITSTATUS(status));
      std::string why = "the new copy " + pid_text(gen.leader) + " " + how +
                        " before it was ready";
      apply(*other, other->machine.on(RestartEvent::kNewFailed, now), now);
      end_attempt(false, why);
    }
  if (gen.machine.state() == RestartState::kDraining)
    apply(gen, gen.machine.on(RestartEvent::kDrained, now), now);
}

void Master::intercepted_tick(int64_t now) {
  for (size_t k = 0; k < intercepted_.size(); ++k) {
    InterceptedGen& gen = *intercepted_[k];
    if (gen.replaced_by > 0) {
      std::set<uint64_t> shared;
      for (const FdInode& held : held_.held()) shared.insert(held.inode);
      if (gen.exited || !holds_any_socket(gen.leader, shared)) {
        log(LogLevel::kInfo, "new copy " + pid_text(gen.replaced_by) +
                                 " is ready; draining " + pid_text(gen.leader) +
                                 ": it no longer accepts");
        gen.replaced_by = -1;
      }
    }
    if (gen.exited) continue;
    if (gen.machine.deadline_ms() >= 0 && now >= gen.machine.deadline_ms()) {
      RestartEvent event = gen.machine.deadline_event();
      apply(gen, gen.machine.on(event, now), now);
      if (event == RestartEvent::kStartTimeout)
        end_attempt(false,
                    "the new copy did not serve within " +
                        std::to_string(plan_.config.start_timeout_ms / 1000) +
                        " s (--start-timeout)");
    }
    if (gen.ready || !intercepted_serves(gen)) continue;
    gen.ready = true;
    gen.page->ready.store(1);
    gen.page->ready_ms.store(now);
    ServiceShared* page = page_.page;
    page->current_gen.store(gen.number);
    page->current_pid.store(gen.leader);
    log(LogLevel::kInfo, pid_text(gen.leader) + " serves (generation " +
                             std::to_string(gen.number) + ")");
    for (auto& old : intercepted_) {
      if (old->successor != gen.number) continue;
      if (!old->exited) {
        old->replaced_by = gen.leader;
        apply(*old, old->machine.on(RestartEvent::kNewReady, now), now);
      }
      old->successor = 0;
      Copy& copy = copies_[gen.copy];
      copy.generation = gen.number;
      watch_leader(copy, gen.leader);
      copy.ready = true;
      copy.ready_ms = now;
      held_.commit(gen.number);
      end_attempt(true, "");
    }
  }
  forget_exited();
}

// Generations that are gone, whose processes are all gone too.
void Master::forget_exited() {
  auto done = [&](const std::unique_ptr<InterceptedGen>& gen) {
    if (!gen->exited || gen->successor != 0) return false;
    munmap(gen->page, sizeof(GenShared));
    if (gen->notify_fd >= 0) close(gen->notify_fd);
    return true;
  };
  intercepted_.erase(
      std::remove_if(intercepted_.begin(), intercepted_.end(), done),
      intercepted_.end());
}

}  // namespace huptime
