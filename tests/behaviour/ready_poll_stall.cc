// ready_poll_stall: a test shim, preloaded after libhuptime.so, that makes
// one race of the hand-off deterministic.
//
// libhuptime calls the next poll() in the preload chain (dlsym RTLD_NEXT),
// which is this one. In a new generation, the first poll of the restart
// thread that waits for POLLRDHUP (on the ready socket) is held back until
// that fd number names another file: until the ready socket was closed and
// the number reused (by one of the program's connections), at most 3 s. The
// program's own poll for POLLRDHUP (the hand-off barrier) waits until the
// restart thread is held here, at most 1 s, so that the restart thread has read
// the number before anybody can close it. Every other poll passes straight
// through. Its lines start with "huptime[PID]:" because the tests' log watcher
// keeps only such lines.
#include <dlfcn.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace {

using PollFn = int (*)(pollfd*, nfds_t, int);

std::atomic<bool> g_restart_thread_held{false};
std::atomic<bool> g_done{false};

PollFn next_poll() {
  static std::atomic<PollFn> fn{nullptr};
  PollFn f = fn.load();
  if (!f) {
    f = reinterpret_cast<PollFn>(dlsym(RTLD_NEXT, "poll"));
    fn.store(f);
  }
  return f;
}

int rdhup_fd(const pollfd* fds, nfds_t n) {
  for (nfds_t i = 0; fds && i < n; ++i)
    if (fds[i].fd >= 0 && fds[i].events == POLLRDHUP) return fds[i].fd;
  return -1;
}

// The restart thread waits on its self-pipe and more along with the ready
// socket; the hand-off barrier waits on the ready socket alone. (Not by
// thread name: the thread may poll before its creator has named it.)
bool in_restart_thread(nfds_t n) { return n > 1; }

void say(const char* what, int fd) {
  char line[128];
  int n =
      snprintf(line, sizeof line, "huptime[%d]: ready_poll_stall: %s fd %d\n",
               static_cast<int>(getpid()), what, fd);
  if (n > 0) (void)!write(2, line, static_cast<size_t>(n));
}

void hold_until_reused(int fd) {
  struct stat before {};
  if (fstat(fd, &before) != 0) return;
  say("holding the restart thread's poll of", fd);
  g_restart_thread_held.store(true);
  for (int waited = 0; waited < 3000; ++waited) {
    struct stat now {};
    if (fstat(fd, &now) == 0 && now.st_ino != before.st_ino) {
      say("number reused: the restart thread now polls another file at", fd);
      return;
    }
    usleep(1000);
  }
  say("number not reused within 3 s:", fd);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int poll(pollfd* fds,
                                                           nfds_t n,
                                                           int timeout) {
  int fd = g_done.load() ? -1 : rdhup_fd(fds, n);
  if (fd >= 0) {
    if (in_restart_thread(n)) {
      if (!g_done.exchange(true)) hold_until_reused(fd);
    } else {
      for (int i = 0; i < 1000 && !g_restart_thread_held.load(); ++i)
        usleep(1000);
    }
  }
  return next_poll()(fds, n, timeout);
}
