#include "reexec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "config.h"
#include "generation.h"
#include "handoff.h"
#include "listeners.h"
#include "log.h"
#include "next_image.h"
#include "numbered_entries.h"
#include "our_fds.h"
#include "park_threads.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"
#include "signals.h"

namespace huptime {
namespace {

// An fd of the old image with O_ASYNC and this process as its owner
// (nginx's master owns the channels to its workers) makes the kernel send
// SIGIO to this pid on I/O. The open file description lives on in the
// processes still draining, so the new image, whose SIGIO is at its default
// (terminate) until the program installs a handler, would be killed when a
// draining worker exits. Nobody owns them from now on; the first
// kMaxDisowned are recorded in *fds (returns how many) so that a failed
// exec can give them back.
constexpr int kMaxDisowned = 64;

// How long the re-exec waits for the program's threads to hold still. A
// thread that blocks the restart signal (nginx's master outside
// sigsuspend) parks once it unblocks it; one that blocks it for good costs
// the whole wait.
constexpr int kParkTimeoutMs = 100;

int disown_async_fds(int* fds) {
  int count = 0;
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  pid_t self = getpid();
  for_each_numbered_entry(dir, [&](long number) {
    int fd = static_cast<int>(number);
    if (fd < 3 || fd == dir) return;
    int flags = real::fcntl(fd, F_GETFL);
    if (flags < 0 || !(flags & O_ASYNC)) return;
    if (real::fcntl(fd, F_GETOWN) != self) return;
    if (real::fcntl(fd, F_SETOWN, 0) == 0 && count < kMaxDisowned)
      fds[count++] = fd;
    HUPTIME_LOG(kDebug, "fd {}: O_ASYNC owner cleared before re-exec", fd);
  });
  real::close(dir);
  return count;
}

}  // namespace

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
  // From here on the program's other threads hold still (park_threads.h):
  // nothing below allocates or takes a lock they might hold.
  ParkResult park = park_other_threads(restart_signal(), kParkTimeoutMs);
  HUPTIME_LOG(
      kDebug, "{} of {} other threads hold still for the re-exec{}",
      park.parked, park.asked,
      park.parked < park.asked ? " (the others block the restart signal)" : "");
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  const std::string& dir = g_rt.config->cwd;
  if (!dir.empty() && chdir(dir.c_str()) != 0) {
    error = errno;
    if (cwd >= 0) real::close(cwd);
    release_parked_threads();
    return error;
  }
  int disowned[kMaxDisowned];
  int n_disowned = disown_async_fds(disowned);
  signals_save_all();
  signals_prepare_reexec(g_rt.config->sigign);
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
  for (int i = 0; i < n_disowned; ++i)
    real::fcntl(disowned[i], F_SETOWN, getpid());
  if (cwd >= 0) {
    if (fchdir(cwd) != 0)
      HUPTIME_LOG(kWarn,
                  "cannot return to the old "
                  "working directory");
    real::close(cwd);
  }
  release_parked_threads();
  return error;
}

}  // namespace huptime
