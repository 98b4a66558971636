// The fd hooks' logic: close, close_range, dup*, fcntl, ioctl, epoll_ctl,
// and the poll/select readiness notes. Each does the real call and keeps
// the fd table in step, without changing what the call returns.
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>

#include <sys/syscall.h>

#include <cerrno>

#include "generation.h"
#include "listeners.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "tracking.h"

namespace huptime {

namespace {

int real_close_range(unsigned first, unsigned last, int flags) {
  if (real::close_range) return real::close_range(first, last, flags);
  errno = ENOSYS;
  return -1;
}

// close() of anything but an untracked fd or a connection: listeners,
// epoll instances, and our own fds (moved out of the way first).
[[gnu::noinline]] int close_other(int fd, uint32_t word) {
  if (!entry_protected(word)) {
    untrack(fd);
    return real::close(fd);
  }
  relocate_ours(fd);
  int rc = real::close(fd);
  int saved_errno = errno;
  gen_relock();
  errno = saved_errno;
  return rc;
}

}  // namespace

// The hot path, for an fd we do not track and for a connection: one
// table lookup, then the real close.
//
// A connection's close is the system call itself, not libc's close():
// once the process has a second thread (our restart thread is one), libc
// wraps every cancellation point in enabling and disabling asynchronous
// cancellation, ~45 instructions of the hook's cost (bench/). What that
// wrapping buys is a cancellation acted upon while the call blocks; a
// socket's close blocks only with SO_LINGER and a timeout (kConnLinger,
// kept by note_linger), and those still go through libc. A cancellation
// already pending is acted upon first, as close() would, and before the
// bookkeeping (libc's close, cancelled at its start, would leave the fd
// open and forgotten).
int fd_close(int fd) {
  std::atomic<uint32_t>* slot = g_fds.word_of(fd);
  uint32_t word = slot ? slot->load(std::memory_order_acquire) : 0;
  if (word == 0) return real::close(fd);
  if (entry_kind(word) != FdKind::kConn) return close_other(fd, word);
  act_on_pending_cancel();
  uint32_t prev = slot->exchange(0, std::memory_order_acq_rel);
  if (entry_kind(prev) != FdKind::kConn) {
    forget_entry(fd, prev);  // changed meanwhile (another thread's dup2)
    return real::close(fd);
  }
  count_conn_closed();
  if (prev & kConnLinger) return real::close(fd);
  return static_cast<int>(errno_result(raw_syscall1(SYS_close, fd)));
}

int fd_close_range(unsigned first, unsigned last, int flags) {
  if (first > last) return real_close_range(first, last, flags);
  if (flags & CLOSE_RANGE_CLOEXEC) {
    g_fds.for_each(
        [](int fd, uint32_t word) {
          if (is_listener_kind(word)) g_fds.exchange(fd, word | kViewCloexec);
        },
        first, last);
    return real_close_range(first, last, flags);
  }
  // Close around our own fds: split the range at each of them.
  int protected_fds[64];
  int n = 0;
  g_fds.for_each(
      [&](int fd, uint32_t word) {
        if (entry_protected(word) && n < 64)
          protected_fds[n++] = fd;
        else if (!entry_protected(word))
          untrack(fd);
      },
      first, last);
  unsigned cur = first;
  int rc = 0;
  for (int i = 0; i < n; ++i) {
    unsigned p = static_cast<unsigned>(protected_fds[i]);
    if (p > cur && real_close_range(cur, p - 1, flags) != 0) rc = -1;
    cur = p + 1;
  }
  if (cur != 0 && cur <= last && real_close_range(cur, last, flags) != 0)
    rc = -1;
  return rc;
}

int fd_dup(int fd) {
  int rc = real::dup(fd);
  if (rc >= 0 && g_fds.get(fd) != 0) track_dup(fd, rc, false);
  return rc;
}

int fd_dup3(int oldfd, int newfd, int flags, bool is_dup2) {
  if (oldfd == newfd || oldfd < 0 || newfd < 0)
    return is_dup2 ? real::dup2(oldfd, newfd) : real::dup3(oldfd, newfd, flags);
  // dup2 onto an fd that is not open must not leave ours there either.
  uint32_t target = g_fds.get(newfd);
  if (entry_protected(target))
    relocate_ours(newfd);
  else if (target != 0 && real::fcntl(oldfd, F_GETFD) >= 0)
    untrack(newfd);
  int rc = is_dup2 ? real::dup2(oldfd, newfd) : real::dup3(oldfd, newfd, flags);
  if (entry_protected(target)) {
    int saved_errno = errno;
    gen_relock();
    errno = saved_errno;
  }
  if (rc >= 0 && g_fds.get(oldfd) != 0)
    track_dup(oldfd, newfd, !is_dup2 && (flags & O_CLOEXEC));
  return rc;
}

// Listener fds: O_NONBLOCK and FD_CLOEXEC are what the program set, not
// what the kernel has.
int fd_fcntl(int fd, int cmd, void* arg) {
  uint32_t word = g_fds.get(fd);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
    int rc = real::fcntl(fd, cmd, arg);
    if (rc >= 0 && word != 0) track_dup(fd, rc, cmd == F_DUPFD_CLOEXEC);
    return rc;
  }
  if (!is_listener_kind(word)) return real::fcntl(fd, cmd, arg);
  long value = reinterpret_cast<long>(arg);
  switch (cmd) {
    case F_GETFD: {
      int rc = real::fcntl(fd, F_GETFD);
      if (rc < 0) return rc;
      return (rc & ~FD_CLOEXEC) | (entry_cloexec(word) ? FD_CLOEXEC : 0);
    }
    case F_SETFD: {
      int rc = real::fcntl(fd, F_SETFD, static_cast<int>(value) | FD_CLOEXEC);
      if (rc == 0)
        g_fds.exchange(fd, make_entry(entry_kind(word), entry_slot(word),
                                      value & FD_CLOEXEC));
      return rc;
    }
    case F_GETFL: {
      int rc = real::fcntl(fd, F_GETFL);
      if (rc < 0) return rc;
      bool nonblock = g_listeners.nonblock(entry_slot(word));
      return (rc & ~O_NONBLOCK) | (nonblock ? O_NONBLOCK : 0);
    }
    case F_SETFL: {
      int rc = real::fcntl(fd, F_SETFL, static_cast<int>(value) | O_NONBLOCK);
      if (rc == 0)
        g_listeners.set_nonblock(entry_slot(word), value & O_NONBLOCK);
      return rc;
    }
    default:
      return real::fcntl(fd, cmd, arg);
  }
}

// SO_LINGER decides whether a connection's close may block (fd_close);
// every other option passes straight through.
int fd_setsockopt(int fd, int level, int name, const void* value,
                  socklen_t len) {
  int rc = real::setsockopt(fd, level, name, value, len);
  if (rc == 0 && level == SOL_SOCKET && name == SO_LINGER) {
    int saved_errno = errno;
    note_linger(fd, value, len);
    errno = saved_errno;
  }
  return rc;
}

int fd_ioctl(int fd, unsigned long request, void* arg) {
  uint32_t word = g_fds.get(fd);
  if (!is_listener_kind(word) ||
      (request != FIONBIO && request != FIOCLEX && request != FIONCLEX))
    return real::ioctl(fd, request, arg);
  if (request == FIONBIO) {
    int on = 1;
    int rc = real::ioctl(fd, FIONBIO, &on);
    if (rc == 0 && arg)
      g_listeners.set_nonblock(entry_slot(word), *static_cast<int*>(arg) != 0);
    return rc;
  }
  int rc = real::ioctl(fd, FIOCLEX, nullptr);
  if (rc == 0)
    g_fds.exchange(
        fd, make_entry(entry_kind(word), entry_slot(word), request == FIOCLEX));
  return rc;
}

int listeners_epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  uint32_t word = g_fds.get(fd);
  if (!is_listener_kind(word)) return real::epoll_ctl(epfd, op, fd, event);
  int rc, saved_errno;
  {
    // The call and its record under the lock that stopping accepting
    // holds while it moves this fd's registrations to the placeholder
    // (stop_accepting.cc): interleaved with the program's DEL and ADD of
    // the same fd (nginx re-adds its listener every few accepts with
    // EPOLLEXCLUSIVE), the program's ADD met the placeholder's
    // registration (EEXIST, an [alert] in nginx's log) and the record
    // lost it. epoll_ctl never blocks.
    ListenerLock lock(g_listeners);
    word = g_fds.get(fd);
    rc = real::epoll_ctl(epfd, op, fd, event);
    saved_errno = errno;
    if (rc != 0 || !is_listener_kind(word)) {
      errno = saved_errno;
      return rc;
    }
    if (op == EPOLL_CTL_DEL) {
      g_listeners.remove_reg_unlocked(entry_slot(word), epfd, fd);
    } else if (event) {
      g_listeners.add_reg_unlocked(
          entry_slot(word), EpollReg{epfd, fd, event->events, event->data.u64});
      if (g_fds.get(epfd) == 0)
        g_fds.exchange(epfd, make_entry(FdKind::kEpoll, 0, false));
    }
  }
  if (op == EPOLL_CTL_ADD && entry_kind(word) == FdKind::kListener) {
    restart_thread_ensure();
    gen_note_wait();
  }
  if (entry_kind(word) == FdKind::kRetired) restart_late_child_waits();
  errno = saved_errno;
  return rc;
}

namespace {

// A late child of a draining process (restart.h) waiting on a retired
// listener: start its restart thread, which drains it.
void note_late_child_poll(const pollfd* fds, nfds_t n) {
  for (nfds_t i = 0; i < n; ++i)
    if (entry_kind(g_fds.get(fds[i].fd)) == FdKind::kRetired)
      return restart_late_child_waits();
}

void note_late_child_select(int nfds, const fd_set* readfds) {
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd)
    if (FD_ISSET(fd, readfds) && entry_kind(g_fds.get(fd)) == FdKind::kRetired)
      return restart_late_child_waits();
}

}  // namespace

void listeners_note_poll(const pollfd* fds, nfds_t n) {
  if (g_late_child.load(std::memory_order_relaxed) && fds)
    note_late_child_poll(fds, n);
  if (!g_await_wait.load(std::memory_order_relaxed) || !fds) return;
  for (nfds_t i = 0; i < n; ++i) {
    if ((fds[i].events & POLLIN) &&
        entry_kind(g_fds.get(fds[i].fd)) == FdKind::kListener) {
      gen_note_wait_slow(false, false);
      return;
    }
  }
}

void listeners_note_select(int nfds, const fd_set* readfds) {
  if (g_late_child.load(std::memory_order_relaxed) && readfds)
    note_late_child_select(nfds, readfds);
  if (!g_await_wait.load(std::memory_order_relaxed) || !readfds) return;
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
    if (FD_ISSET(fd, readfds) &&
        entry_kind(g_fds.get(fd)) == FdKind::kListener) {
      gen_note_wait_slow(false, false);
      return;
    }
  }
}

}  // namespace huptime
