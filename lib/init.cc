// Start-up: resolve the real functions, read what the launcher passed,
// take over what the previous generation handed us, and remove huptime from
// the environment the program (and anything it runs) sees.
#include "init.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "env_codec.h"
#include "exec_image.h"
#include "fork_guard.h"
#include "generation.h"
#include "handoff.h"
#include "listeners.h"
#include "log.h"
#include "notify_socket.h"
#include "our_fds.h"
#include "real.h"
#include "reap_old_children.h"
#include "runtime.h"
#include "service_state.h"
#include "signals.h"
#include "tracking.h"

extern char** environ;

namespace huptime {

constinit Runtime g_rt;
// The two big tables (~8 and ~75 KB, zero at start, of which a process
// writes the first entries) in .lbss, which ld places after .bss: the
// small variables that start-up writes then share one page instead of
// being strewn between and after the tables (each written page of .bss is
// resident memory). Sections of their own: .lbss.* is not .bss.*.
[[gnu::section(".lbss.huptime_fds")]] constinit FdTable g_fds;
[[gnu::section(".lbss.huptime_listeners")]] constinit ListenerTable g_listeners;
constinit std::atomic<long> g_conns{0};
constinit std::atomic<long> g_accepts_in_flight{0};

namespace {

constinit pthread_once_t g_once = PTHREAD_ONCE_INIT;
__attribute__((
    tls_model("initial-exec"))) constinit thread_local bool t_in_init = false;

bool is_our_var(const char* entry) {
  return strncmp(entry, kEnvPrefix, strlen(kEnvPrefix)) == 0;
}

const char* our_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ensure_init), &info) && info.dli_fname)
    return strdup(info.dli_fname);
  return "libhuptime.so";
}

// The environment as the program should see it: no HUPTIME_*, and
// LD_PRELOAD without us. Saved for the next generation, then applied.
void scrub_environment() {
  auto* base = new std::vector<std::string>();
  std::vector<std::string> ours;
  const char* preload = getenv("LD_PRELOAD");
  std::string stripped;
  if (preload) {
    stripped.resize(strlen(preload) + 1);
    strip_preload(preload, g_rt.preload_lib, stripped.data(), stripped.size());
    stripped.resize(strlen(stripped.c_str()));
  }
  for (char** e = environ; e && *e; ++e) {
    if (is_our_var(*e)) {
      // strchr, not strcspn: libc's SSE4.2 strcspn reads a table in a
      // 64 KiB window of libc's .rodata that start-up touches nowhere else.
      const char* eq = strchr(*e, '=');
      ours.emplace_back(*e, eq ? eq - *e : strlen(*e));
    } else if (strncmp(*e, "LD_PRELOAD=", 11) == 0) {
      if (!stripped.empty()) base->push_back("LD_PRELOAD=" + stripped);
    } else {
      base->push_back(*e);
    }
  }
  g_rt.base_env = base;
  for (const std::string& name : ours) unsetenv(name.c_str());
  if (preload && stripped.empty())
    unsetenv("LD_PRELOAD");
  else if (preload)
    setenv("LD_PRELOAD", stripped.c_str(), 1);
}

void prebuild_launch_vars() {
  std::vector<std::string> vars = encode_launch_env(*g_rt.config);
  auto** out = new const char*[vars.size()];
  for (size_t i = 0; i < vars.size(); ++i) out[i] = strdup(vars[i].c_str());
  g_rt.launch_vars = out;
  g_rt.n_launch_vars = vars.size();
}

bool is_socket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// Set by take_handoff: this image is the service re-executed in place
// (exec mode), not a copy started beside the old one.
bool g_reexecuted = false;
// Set by take_handoff: started by `huptime --master` itself (a --multi
// copy or a revival), not by an older generation.
bool g_master_first_start = false;

// Exec mode, --ready=notify: the re-executed image's own notify socket,
// read by its restart thread. After scrub_environment, so that later
// generations do not inherit the address.
void open_own_notify_socket() {
  auto sock = open_notify_socket();
  if (!sock) {
    HUPTIME_LOG(kWarn,
                "cannot create the notify socket: {}; ready by the "
                "listen rule",
                strerror(errno));
    return;
  }
  adopt_our_fd(OurFd::kOwnNotify, sock->fd);
  setenv("NOTIFY_SOCKET", sock->address.c_str(), 1);
}

void take_handoff(const char* text) {
  Handoff h;
  if (!decode_handoff(text, &h)) {
    HUPTIME_LOG(kWarn, "ignoring malformed {}", kEnvFds);
    return;
  }
  if (h.pid != getpid()) {
    HUPTIME_LOG(kDebug, "ignoring {} meant for pid {}", kEnvFds, h.pid);
    return;
  }
  g_rt.generation.store(h.generation);
  if (h.svc_fd >= 0 && !service_attach(h.svc_fd))
    HUPTIME_LOG(kWarn, "ignoring inherited service state fd {}", h.svc_fd);
  if (h.state_fd >= 0 && !gen_attach(h.state_fd, h.latch_fd))
    HUPTIME_LOG(kWarn, "ignoring inherited generation state");
  if (h.ready_fd >= 0) {
    if (is_socket(h.ready_fd))
      adopt_our_fd(OurFd::kReady, h.ready_fd);
    else
      HUPTIME_LOG(kWarn, "inherited ready fd {} is not a socket", h.ready_fd);
  }
  if (h.master_fd >= 0) {
    if (is_socket(h.master_fd))
      adopt_our_fd(OurFd::kMaster, h.master_fd);
    else
      HUPTIME_LOG(kWarn, "inherited master fd {} is not a socket", h.master_fd);
  }
  listeners_adopt(h);
  // Listeners without a ready socket or a generation page: exec mode's
  // new image. The first generation may get listeners too, from the master
  // or from socket activation (LISTEN_FDS), and is no re-exec.
  g_reexecuted = h.ready_fd < 0 && h.state_fd < 0 && h.n_listen > 0 &&
                 h.generation > 1 && h.master_fd < 0;
  g_master_first_start = h.master_fd >= 0 && h.ready_fd < 0;
  if (g_offered_count.load() > 0 || h.n_own > 0) {
    gen_ensure(h.generation);
    gen_expect_wait();
  }
}

// The listener lock across fork. Registered during init, before the
// program's own atfork handlers: prepare handlers run in reverse order, so
// ours locks after the program's have run (one of them may close a
// listener), and ours unlocks in the child before the program's run.
// Then it waits for our threads' short-lived fds (fork_guard.h); in that
// order, since a thread of ours may wait for the listener lock but never
// holds a short-lived fd while it does.
void lock_before_fork() {
  g_listeners.lock();
  fork_guard_prepare();
}
void unlock_in_parent() {
  fork_guard_parent();
  g_listeners.unlock();
}
void reinit_in_child() {
  fork_guard_child();
  g_listeners.reinit_after_fork();
}

void init_once() {
  t_in_init = true;
  real::resolve_all();
  g_rt.pid.store(getpid());
  g_rt.image_pid = getpid();
  if (const char* level = getenv(kEnvLog)) {
    if (auto parsed = parse_log_level(level))
      g_log_level.store(static_cast<int>(*parsed));
  }
  std::string error;
  auto config = decode_launch_env(getenv, &error);
  if (config) {
    g_rt.config = new LaunchConfig(std::move(*config));
    g_rt.preload_lib = our_path();
    prebuild_launch_vars();
    if (const char* fds = getenv(kEnvFds)) take_handoff(fds);
    // Before the program runs: every child now is the old image's.
    bool old_children =
        g_reexecuted && g_rt.config->mode == Mode::kExec && reap_old_children();
    scrub_environment();
    // An image started by a restart (it inherited listeners) came with the
    // restart signal blocked (signals.h).
    if (g_offered_count.load() > 0) signals_take_over_at_start(old_children);
    // --ready=notify: the program's READY=1 decides when it is ready; a
    // new copy in fork mode reports to the process that started it, the
    // first generation and a re-executed image to themselves.
    bool started_alone = our_fd(OurFd::kReady) < 0 &&
                         (g_rt.generation.load() == 1 || g_master_first_start);
    bool reexecuted = g_reexecuted && g_rt.config->mode == Mode::kExec;
    if (g_rt.config->ready == ReadyRule::kNotify &&
        (reexecuted || started_alone))
      open_own_notify_socket();
    g_rt.active = true;
  } else if (getenv(kEnvArgv) || getenv(kEnvMode)) {
    HUPTIME_LOG(kWarn, "not managing this process: {}", error);
  }
  if (g_rt.active)
    pthread_atfork(lock_before_fork, unlock_in_parent, reinit_in_child);
  g_rt.ready.store(true, std::memory_order_release);
  g_rt.hooks_fast.store(g_rt.active && !log_enabled(LogLevel::kTrace),
                        std::memory_order_release);
  t_in_init = false;
  bool own = false;
  g_fds.for_each([&](int, uint32_t word) {
    own = own || entry_kind(word) == FdKind::kListener;
  });
  if (own) on_first_listener();
}

__attribute__((constructor)) void on_load() { ensure_init(); }

}  // namespace

bool ensure_init_slow() {
  if (__builtin_expect(g_rt.ready.load(std::memory_order_acquire), 1))
    return true;
  if (t_in_init) return false;
  pthread_once(&g_once, init_once);
  return true;
}

}  // namespace huptime
