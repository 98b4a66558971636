#include "reexec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "config.h"
#include "generation.h"
#include "handoff.h"
#include "listeners.h"
#include "log.h"
#include "next_image.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"
#include "signals.h"

namespace huptime {

int reexec_in_place() {
  Handoff handoff;
  handoff.generation = gen_number() + 1;
  listeners_collect(&handoff, true);
  handoff.svc_fd = our_fd(OurFd::kService);
  int error = 0;
  auto image = build_next_image(handoff, &error);
  if (!image) return error;
  patch_handoff_pid(
      image->env_ptrs[image->handoff_index] + sizeof("HUPTIME_FDS"), getpid());
  HUPTIME_LOG(kInfo, "re-executing {} (generation {}, {} listener{})",
              image->path, handoff.generation, handoff.n_listen,
              handoff.n_listen == 1 ? "" : "s");
  unlink_configured_files();
  for (FILE* f : {stdout, stderr}) {
    if (ftrylockfile(f) == 0) {
      fflush_unlocked(f);
      funlockfile(f);
    }
  }
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  const std::string& dir = g_rt.config->cwd;
  if (!dir.empty() && chdir(dir.c_str()) != 0) {
    error = errno;
    if (cwd >= 0) real::close(cwd);
    return error;
  }
  signals_save_all();
  signals_reset_for_exec(g_rt.config->sigign);
  // Nothing of this image but stdio and the hand-off survives the exec.
  raw_syscall6(SYS_close_range, 3, ~0L, CLOSE_RANGE_CLOEXEC);
  int stdio_flags[3];
  for (int fd = 0; fd < 3; ++fd) {
    stdio_flags[fd] = real::fcntl(fd, F_GETFD);
    if (stdio_flags[fd] > 0) real::fcntl(fd, F_SETFD, 0);
  }
  for (int i = 0; i < handoff.n_listen; ++i)
    real::fcntl(handoff.listen[i].fd, F_SETFD, 0);
  if (handoff.svc_fd >= 0) real::fcntl(handoff.svc_fd, F_SETFD, 0);
  sigset_t mask = signals_exec_mask(g_rt.config->sigmask), old;
  pthread_sigmask(SIG_SETMASK, &mask, &old);
  real::execve(image->path.c_str(), image->argv_ptrs.data(),
               image->env_ptrs.data());
  error = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  for (int i = 0; i < handoff.n_listen; ++i)
    real::fcntl(handoff.listen[i].fd, F_SETFD, FD_CLOEXEC);
  if (handoff.svc_fd >= 0) real::fcntl(handoff.svc_fd, F_SETFD, FD_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd)
    if (stdio_flags[fd] > 0) real::fcntl(fd, F_SETFD, stdio_flags[fd]);
  signals_restore_all();
  if (cwd >= 0) {
    if (fchdir(cwd) != 0)
      HUPTIME_LOG(kWarn,
                  "cannot return to the old "
                  "working directory");
    real::close(cwd);
  }
  return error;
}

}  // namespace huptime
