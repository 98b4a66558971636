#include "signals.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "our_fds.h"
#include "park_threads.h"
#include "raw_syscall.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"

namespace huptime {

constinit std::atomic<bool> g_restart_requested{false};

namespace {

constexpr int kMaxSignal = 64;

// The program's idea of the restart signal's disposition.
constinit struct sigaction g_program_action = {};
constinit std::atomic<bool> g_program_action_known{false};
// The image in which our handler is installed (exec replaces handlers).
constinit std::atomic<bool> g_installed{false};
// ~10 KB: in .lbss, after the small variables (init.cc, g_fds).
[[gnu::section(".lbss.huptime_saved")]] constinit struct sigaction
    g_saved[kMaxSignal + 1] = {};
// A re-executed image keeps SIGIO ignored while children of the old image
// run, the program seeing its default (signals_take_over_at_start).
enum SigioState : int { kSigioOwn = 0, kSigioShadowed = 1, kSigioChanging = 2 };
constinit std::atomic<int> g_sigio{kSigioOwn};
constinit std::atomic<bool> g_old_children_gone{false};

// Shadowed -> the default, unless the program set SIGIO meanwhile.
void end_sigio_shadow() {
  int expected = kSigioShadowed;
  if (!g_sigio.compare_exchange_strong(expected, kSigioChanging)) return;
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  real::sigaction(SIGIO, &dfl, nullptr);
  g_sigio.store(kSigioOwn);
}

bool default_is_ignore(int sig) {
  return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

bool settable(int sig) {
  return sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig > 33);
}

// Does for a process without listeners what the program asked for.
// async-signal-safe.
void apply_program_action(int sig, siginfo_t* info, void* context) {
  const struct sigaction& act = g_program_action;
  if (act.sa_flags & SA_SIGINFO) {
    if (act.sa_sigaction) act.sa_sigaction(sig, info, context);
    return;
  }
  if (act.sa_handler == SIG_IGN) return;
  if (act.sa_handler == SIG_DFL) {
    if (default_is_ignore(sig)) return;
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    real::sigaction(sig, &dfl, nullptr);
    raw_syscall6(SYS_tgkill, raw_syscall6(SYS_getpid), raw_syscall6(SYS_gettid),
                 sig);
    return;
  }
  act.sa_handler(sig);
}

// async-signal-safe: one write, errno preserved.
void on_restart_signal(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  if (park_if_requested(info)) {
    errno = saved_errno;
    return;
  }
  pid_t self = static_cast<pid_t>(raw_syscall6(SYS_getpid));
  int pipe_fd = our_fd(OurFd::kSelfPipeWrite);
  if (self == restart_thread_pid().load(std::memory_order_relaxed) &&
      pipe_fd >= 0) {
    char byte = 'S';
    raw_syscall6(SYS_write, pipe_fd, reinterpret_cast<long>(&byte), 1);
  } else if (g_rt.has_program_listeners.load(std::memory_order_relaxed) ||
             g_offered_count.load(std::memory_order_relaxed) > 0) {
    // Recorded for the restart thread, which starts with the first
    // listener (a new generation still starting owes it).
    g_restart_requested.store(true, std::memory_order_relaxed);
  } else {
    apply_program_action(sig, info, context);
  }
  errno = saved_errno;
}

}  // namespace

int restart_signal() {
  return g_rt.config ? g_rt.config->restart_signal : SIGHUP;
}

void signals_install() {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) return;
  int sig = restart_signal();
  struct sigaction ours = {};
  ours.sa_sigaction = on_restart_signal;
  ours.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  struct sigaction previous = {};
  real::sigaction(sig, &ours, &previous);
  if (!g_program_action_known.exchange(true)) g_program_action = previous;
}

// SIGIO while shadowed: the program's view is the default until it sets
// one, which then applies for real.
bool sigio_sigaction(const struct sigaction* act, struct sigaction* old,
                     int* rc) {
  for (;;) {
    int state = g_sigio.load();
    if (state == kSigioOwn) return false;
    if (state == kSigioChanging) {
      sched_yield();  // the reaper is putting the default back
      continue;
    }
    if (!act) {
      *rc = 0;
    } else if (g_sigio.compare_exchange_strong(state, kSigioChanging)) {
      *rc = real::sigaction(SIGIO, act, nullptr);
      g_sigio.store(*rc == 0 ? kSigioOwn : kSigioShadowed);
    } else {
      continue;
    }
    if (old) {
      *old = {};
      old->sa_handler = SIG_DFL;
    }
    return true;
  }
}

bool signals_sigaction(int sig, const struct sigaction* act,
                       struct sigaction* old, int* rc) {
  if (sig == SIGIO && sig != restart_signal())
    return sigio_sigaction(act, old, rc);
  if (sig != restart_signal()) return false;
  if (!g_installed.load()) {
    *rc = real::sigaction(sig, act, old);
    if (*rc == 0 && act) {
      g_program_action = *act;
      g_program_action_known.store(true);
    }
    return true;
  }
  if (old) *old = g_program_action;
  if (act) g_program_action = *act;
  *rc = 0;
  return true;
}

bool signals_signal(int sig, sighandler_t handler, sighandler_t* rc) {
  if (sig != restart_signal() && (sig != SIGIO || g_sigio.load() == kSigioOwn))
    return false;
  // glibc's signal(): BSD semantics, the handler stays and calls restart.
  struct sigaction act = {}, old = {};
  act.sa_handler = handler;
  act.sa_flags = SA_RESTART;
  sigemptyset(&act.sa_mask);
  int result = 0;
  signals_sigaction(sig, &act, &old, &result);
  *rc = result == 0 ? old.sa_handler : SIG_ERR;
  return true;
}

bool all_handlers_restart() {
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (!settable(sig)) continue;
    struct sigaction act = {};
    if (sig == restart_signal() && g_installed.load())
      act = g_program_action;
    else if (real::sigaction(sig, nullptr, &act) != 0)
      continue;
    bool caught = (act.sa_flags & SA_SIGINFO) ||
                  (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN);
    if (caught && !(act.sa_flags & SA_RESTART)) return false;
  }
  return true;
}

void signals_reset_for_exec(uint64_t ignored_mask) {
  int restart = restart_signal();
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (!settable(sig)) continue;
    bool ignored = (ignored_mask >> (sig - 1)) & 1;
    // The restart signal keeps our handler until execve resets it: with
    // SIG_DFL, one arriving now would end the process (exec mode: the
    // service). The caller blocks it across execve; the next image's
    // library unblocks it once its own handler is in place.
    if (sig == restart && !ignored) continue;
    struct sigaction act = {};
    act.sa_handler = ignored ? SIG_IGN : SIG_DFL;
    real::sigaction(sig, &act, nullptr);
  }
}

void signals_prepare_reexec(uint64_t ignored_mask) {
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (!settable(sig)) continue;
    bool ignored = (ignored_mask >> (sig - 1)) & 1;
    if (!ignored && sig != SIGIO) continue;
    struct sigaction act = {};
    act.sa_handler = SIG_IGN;
    real::sigaction(sig, &act, nullptr);
  }
}

sigset_t signals_exec_mask(uint64_t launch_mask) {
  sigset_t mask = mask_to_sigset(launch_mask);
  sigaddset(&mask, restart_signal());
  return mask;
}

void signals_old_children_gone() {
  g_old_children_gone.store(true);
  end_sigio_shadow();
}

void signals_take_over_at_start(bool old_children) {
  signals_install();
  int sig = restart_signal();
  // What an exec in place left ignored (signals_prepare_reexec) goes back
  // to the default, as at first start.
  for (int other = 1; other <= kMaxSignal; ++other) {
    if (!settable(other) || other == sig ||
        ((g_rt.config->sigign >> (other - 1)) & 1))
      continue;
    struct sigaction act = {};
    if (real::sigaction(other, nullptr, &act) != 0 ||
        (act.sa_flags & SA_SIGINFO) || act.sa_handler != SIG_IGN)
      continue;
    // SIGIO stays ignored: the old image's draining children may still
    // hold an O_ASYNC fd whose owner is this pid (nginx passes each
    // worker's channel to the others), and a SIGIO before the program
    // installs its handler would end this image (seen in compat/nginx-exec).
    if (other == SIGIO && old_children) {
      g_sigio.store(kSigioShadowed);
      // The reaper may have seen the last of them go already.
      if (g_old_children_gone.load()) end_sigio_shadow();
      continue;
    }
    act = {};
    act.sa_handler = SIG_DFL;
    real::sigaction(other, &act, nullptr);
  }
  if ((g_rt.config->sigmask >> (sig - 1)) & 1) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void signals_save_all() {
  for (int sig = 1; sig <= kMaxSignal; ++sig)
    if (settable(sig)) real::sigaction(sig, nullptr, &g_saved[sig]);
}

void signals_restore_all() {
  for (int sig = 1; sig <= kMaxSignal; ++sig)
    if (settable(sig)) real::sigaction(sig, &g_saved[sig], nullptr);
}

}  // namespace huptime
