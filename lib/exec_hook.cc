#include "exec_hook.h"

#include <alloca.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "exec_image.h"
#include "generation.h"
#include "handoff.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"

namespace huptime {

namespace {

int call_real(ExecKind kind, const char* file, char* const argv[],
              char* const envp[]) {
  if (kind == ExecKind::kPath) return real::execve(file, argv, envp);
  if (real::execvpe) return real::execvpe(file, argv, envp);
  errno = ENOSYS;
  return -1;
}

// What the service's next image inherits. Requires no lock: reads atomics.
void collect_inherited(Handoff* h) {
  h->pid = static_cast<pid_t>(raw_syscall6(SYS_getpid));
  h->generation = gen_number();
  if (gen_exists()) {
    h->state_fd = our_fd(OurFd::kGenState);
    h->latch_fd = our_fd(OurFd::kDrainLatch);
    if (h->state_fd < 0 || h->latch_fd < 0) h->state_fd = h->latch_fd = -1;
  }
  h->ready_fd = our_fd(OurFd::kReady);
  h->svc_fd = our_fd(OurFd::kService);
  g_fds.for_each([&](int fd, uint32_t word) {
    FdKind kind = entry_kind(word);
    bool own = kind == FdKind::kListener && !entry_cloexec(word);
    if (kind != FdKind::kOffered && !own) return;
    FdInode item{fd, g_listeners.inode_unlocked(entry_slot(word))};
    if (item.inode == 0) return;
    if (own && h->n_own < Handoff::kMaxFds) h->own[h->n_own++] = item;
    if (!own && h->n_listen < Handoff::kMaxFds) h->listen[h->n_listen++] = item;
  });
}

void set_cloexec(const Handoff& h, bool on) {
  int flag = on ? FD_CLOEXEC : 0;
  for (int fd : {h.state_fd, h.latch_fd, h.ready_fd, h.svc_fd})
    if (fd >= 0) raw_syscall6(SYS_fcntl, fd, F_SETFD, flag);
  for (int i = 0; i < h.n_listen; ++i)
    raw_syscall6(SYS_fcntl, h.listen[i].fd, F_SETFD, flag);
  for (int i = 0; i < h.n_own; ++i)
    raw_syscall6(SYS_fcntl, h.own[i].fd, F_SETFD, flag);
}

size_t count_env(char* const envp[]) {
  size_t n = 0;
  while (envp && envp[n]) ++n;
  return n;
}

const char* find_env(char* const envp[], const char* name) {
  size_t len = strlen(name);
  for (size_t i = 0; envp && envp[i]; ++i)
    if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
      return envp[i] + len + 1;
  return "";
}

}  // namespace

int exec_hook(ExecKind kind, const char* file, char* const argv[],
              char* const envp[]) {
  if (!g_rt.active) return call_real(kind, file, argv, envp);
  pid_t self = static_cast<pid_t>(raw_syscall6(SYS_getpid));
  // Not g_rt.pid: the fork hook updates that one in children.
  bool in_place = self == g_rt.image_pid;
  bool keep = in_place || !g_rt.has_program_listeners.load();

  Handoff* h = static_cast<Handoff*>(alloca(sizeof(Handoff)));
  new (h) Handoff();
  char* handoff_var = static_cast<char*>(alloca(8192));
  size_t n_vars = 0;
  const char** vars = static_cast<const char**>(
      alloca(sizeof(char*) * (g_rt.n_launch_vars + 1)));
  if (keep) {
    collect_inherited(h);
    memcpy(handoff_var, "HUPTIME_FDS=", 12);
    if (encode_handoff(*h, handoff_var + 12, 8192 - 12) == 0) keep = false;
  }
  if (keep) {
    for (size_t i = 0; i < g_rt.n_launch_vars; ++i)
      vars[n_vars++] = g_rt.launch_vars[i];
    vars[n_vars++] = handoff_var;
  }
  EnvAdditions add;
  add.preload_lib = keep ? g_rt.preload_lib : nullptr;
  add.vars = vars;
  add.n_vars = n_vars;
  size_t cap = count_env(envp) + n_vars + 2;
  const char** env = static_cast<const char**>(alloca(sizeof(char*) * cap));
  size_t preload_cap =
      strlen(find_env(envp, "LD_PRELOAD")) + strlen(g_rt.preload_lib) + 32;
  char* preload = static_cast<char*>(alloca(preload_cap));
  if (!compose_env(envp, add, env, cap, preload, preload_cap)) {
    errno = E2BIG;
    return -1;
  }
  if (keep) set_cloexec(*h, false);
  int rc = call_real(kind, file, argv, const_cast<char* const*>(env));
  int saved = errno;
  if (keep) set_cloexec(*h, true);
  errno = saved;
  return rc;
}

}  // namespace huptime
