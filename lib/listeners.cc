#include "listeners.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <cerrno>

#include "generation.h"
#include "log.h"
#include "our_fds.h"
#include "raw_syscall.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "signals.h"
#include "tracking.h"

namespace huptime {

constinit std::atomic<int> g_offered_count{0};

namespace {

bool wanted_id(int fd, const sockaddr* addr, socklen_t len, SocketId* id) {
  int type = 0, protocol = 0, v6only = 0;
  socklen_t olen = sizeof(int);
  if (!addr || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) != 0)
    return false;
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &olen);
  if (addr->sa_family == AF_INET6) {
    olen = sizeof(int);
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
  }
  return make_socket_id(addr->sa_family, type, protocol, v6only, addr, len, id);
}

// An inherited listener matching `id`: its fd, and its slot in *slot.
// Requires the listener lock.
int find_offered_unlocked(const SocketId& id, uint32_t* slot) {
  int found = -1;
  g_fds.for_each([&](int fd, uint32_t word) {
    if (found >= 0 || entry_kind(word) != FdKind::kOffered) return;
    Listener& l = g_listeners.at_unlocked(entry_slot(word));
    if (l.offered && !l.claimed && same_listener(l.id, id)) {
      found = fd;
      *slot = entry_slot(word);
    }
  });
  return found;
}

// Blocks like accept() on a listener with nothing to accept: forever, or
// until a signal interrupts it the way the kernel would have.
int block_like_accept(int fd, bool* retry) {
  *retry = false;
  uint32_t moves = our_fd_moves();
  int latch = our_fd(OurFd::kDrainLatch);
  pollfd p[2] = {{fd, POLLIN, 0}, {latch, POLLIN, 0}};
  bool retired = entry_kind(g_fds.get(fd)) == FdKind::kRetired;
  // A retired fd never becomes readable: wait for signals only.
  nfds_t n = retired ? 0 : (latch >= 0 ? 2 : 1);
  int rc = real::poll(n ? p : nullptr, n, -1);
  if (rc < 0 && errno == EINTR && !all_handlers_restart()) return -1;
  // A latch number that moved meanwhile may be the program's (our_fds.h).
  if (rc > 0 && n == 2 && (p[1].revents & POLLIN) && our_fd_moves() == moves) {
    // The generation is draining: stop accepting here too, without
    // waiting for our restart thread to get round to it.
    listeners_stop_accepting(false);
  }
  *retry = true;
  return 0;
}

// The accept queue of a TCP listener: connections waiting (*queued) and
// the backlog the kernel enforces (*max). False for anything else.
bool tcp_queue(int fd, int* queued, int* max) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      info.tcpi_state != TCP_LISTEN)
    return false;
  *queued = static_cast<int>(info.tcpi_unacked);
  *max = static_cast<int>(info.tcpi_sacked);
  return true;
}

// This process's accepts need nothing more than the call and the count:
// its restart thread runs and its generation is known to be ready. One
// relaxed load each; after fork the child's pid differs until its first
// accept has started its thread.
constinit std::atomic<pid_t> g_accept_ready_pid{0};

// A listener whose backlog stays larger than the program asked for, until
// the connections that queued during a hand-off have been accepted.
//
// Exec mode raises the backlog of the listener it hands on to SOMAXCONN
// (stop_accepting.cc): whatever arrives during the drain, the exec and the
// new image's start-up waits in the queue. The new image's listen() then
// sets the program's backlog; when more than that has queued (python's
// socketserver: 5, with 8 clients waiting), the kernel drops every SYN
// until the program has accepted its way below it, and those clients wait
// for their retransmission (1 s, then 3 s): the restart, not the program's
// load, would have cost them a second. So listen() on an inherited TCP
// listener whose queue already holds `backlog` or more keeps the larger
// backlog, and the program's own is applied once this process has
// accepted as many connections as had queued, or found the queue empty
// (checked on the accept path's cold branch: accept_needs_care stays true
// while one is held). Requires the listener lock.
struct HeldBacklog {
  int fd = -1;
  uint32_t slot = 0;
  int backlog = 0;    // the program's
  int remaining = 0;  // accepts until it applies anyway
};
constexpr int kMaxHeld = 8;
constinit HeldBacklog g_held[kMaxHeld];
constinit std::atomic<int> g_n_held{0};

void drop_held_unlocked(int i) {
  int n = g_n_held.load();
  g_held[i] = g_held[n - 1];
  g_n_held.store(n - 1);
}

int find_held_unlocked(int fd) {
  for (int i = 0; i < g_n_held.load(); ++i)
    if (g_held[i].fd == fd) return i;
  return -1;
}

// listen(fd, backlog) on an inherited listener in `slot`: the backlog the
// kernel gets, and the program's noted for later when it is held.
int backlog_to_set_unlocked(int fd, uint32_t slot, int backlog) {
  int held = find_held_unlocked(fd);
  if (held >= 0) drop_held_unlocked(held);
  int queued = 0, max = 0;
  if (!tcp_queue(fd, &queued, &max) || queued < backlog || max <= backlog ||
      g_n_held.load() == kMaxHeld)
    return backlog;
  g_held[g_n_held.load()] = HeldBacklog{fd, slot, backlog, queued};
  g_n_held.fetch_add(1);
  g_accept_ready_pid.store(0, std::memory_order_relaxed);
  HUPTIME_LOG(kDebug,
              "listen({}, {}): {} connections queued during the hand-off; "
              "backlog {} kept until they are accepted",
              fd, backlog, queued, max);
  return max;
}

// Before an accept on the listener `word` names: applies the program's
// backlog once the hand-off's connections are accepted. By slot, not fd:
// see prepare_accept. Requires the listener lock.
void apply_held_backlog_unlocked(uint32_t word) {
  int i = 0;
  while (i < g_n_held.load() && g_held[i].slot != entry_slot(word)) ++i;
  if (i == g_n_held.load()) return;
  HeldBacklog& h = g_held[i];
  int fd = h.fd;
  uint32_t now = g_fds.get(fd);
  if (entry_kind(now) != FdKind::kListener || entry_slot(now) != h.slot) {
    drop_held_unlocked(i);  // closed, or another socket now
    return;
  }
  int queued = 0, max = 0;
  bool known = tcp_queue(fd, &queued, &max);
  if (known && queued > 0 && --h.remaining > 0) return;
  real::listen(fd, h.backlog);
  HUPTIME_LOG(kDebug, "listener fd {}: the program's backlog {} applied", fd,
              h.backlog);
  drop_held_unlocked(i);
}

// On the accept path: a successful accept leaves errno as the program had
// it, whatever TCP_INFO or listen() set here.
void apply_held_backlog(uint32_t word) {
  int saved_errno = errno;
  {
    ListenerLock lock(g_listeners);
    apply_held_backlog_unlocked(word);
  }
  errno = saved_errno;
}

}  // namespace

bool listeners_bind(int fd, const sockaddr* addr, socklen_t len, int* rc) {
  if (g_offered_count.load(std::memory_order_acquire) == 0) return false;
  SocketId id;
  if (!wanted_id(fd, addr, len, &id)) return false;
  int view_fl = real::fcntl(fd, F_GETFL);
  int view_fd = real::fcntl(fd, F_GETFD);
  uint32_t slot = 0;
  {
    ListenerLock lock(g_listeners);
    int offered = find_offered_unlocked(id, &slot);
    if (offered < 0) return false;
    if (real::dup3(offered, fd, O_CLOEXEC) < 0) return false;
    Listener& l = g_listeners.at_unlocked(slot);
    l.claimed = true;
    g_listeners.set_nonblock(slot, view_fl >= 0 && (view_fl & O_NONBLOCK));
    g_fds.exchange(fd, make_entry(FdKind::kListener, slot,
                                  view_fd >= 0 && (view_fd & FD_CLOEXEC)));
    g_fds.exchange(offered, 0);
    real::close(offered);
    g_offered_count.fetch_sub(1);
  }
  // Formatted only when logged: inet_ntop's sprintf brings ~250 KiB of
  // libc code into memory that nothing else at start-up needs.
  if (log_enabled(LogLevel::kDebug)) {
    char name[160];
    format_socket_id(id, name, sizeof name);
    HUPTIME_LOG(kDebug, "bind({}, {}): answered with the inherited listener",
                fd, name);
  }
  on_first_listener();
  *rc = 0;
  return true;
}

int listeners_listen(int fd, int backlog) {
  uint32_t word = g_fds.get(fd);
  if (entry_kind(word) == FdKind::kListener) {
    int saved_errno = errno;
    {
      ListenerLock lock(g_listeners);
      Listener& l = g_listeners.at_unlocked(entry_slot(word));
      int set = l.claimed
                    ? backlog_to_set_unlocked(fd, entry_slot(word), backlog)
                    : backlog;
      errno = saved_errno;
      int rc = real::listen(fd, set);
      if (rc != 0) return rc;
      saved_errno = errno;
      l.listening = true;
    }
    on_first_listener();
    errno = saved_errno;
    return 0;
  }
  int rc = real::listen(fd, backlog);
  if (rc != 0) return rc;
  int saved_errno = errno;
  if (word == 0 || entry_kind(word) == FdKind::kConn) register_listener(fd);
  errno = saved_errno;
  return 0;
}

namespace {

bool accept_needs_care() {
  return g_await_wait.load(std::memory_order_relaxed) ||
         g_accept_ready_pid.load(std::memory_order_relaxed) !=
             g_rt.pid.load(std::memory_order_relaxed);
}

// Starts this process's restart thread and notes the program accepting on
// a listener. Cold. False when the accept must fail with EAGAIN: a
// non-blocking accept that --ready=notify's hand-off barrier holds back
// (gen_note_accept).
[[gnu::noinline, gnu::cold]] bool prepare_accept(bool listening,
                                                 uint32_t word) {
  restart_thread_ensure();
  if (listening && gen_drain_announced()) {
    // The generation drains, and this process has not stopped accepting:
    // its restart thread has not run yet, or runs and has not polled the
    // latch yet (it was just started, by the call above). Accepting now
    // would answer with the old version after the new one (compat/nginx-
    // exec, a worker forked before the drain whose first accept comes
    // after it). Stop here; the accept then fails as on a retired
    // listener. (Once this process is ready, only its restart thread
    // stops it: this check costs a poll(), too much for every accept.)
    listeners_stop_accepting(false);
    return true;
  }
  // While a backlog is held, accepts keep coming here (the ready pid stays
  // unset), so that it is applied in time.
  if (listening && g_n_held.load() != 0) apply_held_backlog(word);
  pid_t self = g_rt.pid.load(std::memory_order_relaxed);
  if (restart_thread_running_pid().load(std::memory_order_acquire) == self &&
      g_n_held.load() == 0)
    g_accept_ready_pid.store(self, std::memory_order_relaxed);
  if (!listening) return true;
  if (!gen_note_accept(g_listeners.nonblock(entry_slot(word)))) return false;
  // Once per process, or a few times until its restart thread runs: the
  // end of a hand-off's timeline (bench/benchlib/trace.py). The listener's
  // slot, not its fd: one more argument to this cold call cost the hot
  // path two register moves per accept (callgrind, hookloop).
  HUPTIME_LOG(kDebug, "accepting on listener slot {}", entry_slot(word));
  return true;
}

// One accept on a listener, counted as in flight (the restart thread of a
// draining process waits for those before it exits). errno is the real
// call's: the bookkeeping after it does not touch errno.
//
// The system call itself, not libc's accept4(): the real listener is always
// non-blocking (the program's blocking view is block_like_accept's poll,
// which is libc's and a cancellation point), so libc's wrapping of a
// cancellation point in asynchronous cancellation (~45 instructions once
// the process has a second thread, as it does with our restart thread)
// would guard a call that never waits. A cancellation already pending is
// acted upon first, as accept4() would, before anything is counted.
[[gnu::always_inline]] inline int accept_once(int fd, sockaddr* addr,
                                              socklen_t* len, int flags,
                                              uint32_t word) {
  act_on_pending_cancel();
  g_accepts_in_flight.fetch_add(1, std::memory_order_acq_rel);
  int rc = static_cast<int>(
      errno_result(raw_syscall4(SYS_accept4, fd, reinterpret_cast<long>(addr),
                                reinterpret_cast<long>(len), flags)));
  if (rc >= 0) track_conn(rc, g_listeners.linger(entry_slot(word)));
  if (g_accepts_in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      g_stopped_accepting.load(std::memory_order_relaxed))
    restart_poke();
  return rc;
}

// After an accept on a listener that failed with `err` (errno when -1), or
// on a listener retired meanwhile: what the program's own accept would do.
// Nonblocking (in the program's view): EAGAIN. Blocking: wait like accept()
// would, and try again, on the listener or, once retired, only for signals.
[[gnu::noinline]] int accept_failed(int fd, sockaddr* addr, socklen_t* len,
                                    int flags, uint32_t word, int err) {
  if (err == -1) err = errno;
  bool nonblock = g_listeners.nonblock(entry_slot(word));
  while (true) {
    bool now_retired = entry_kind(g_fds.get(fd)) == FdKind::kRetired;
    if (!now_retired && err != EAGAIN && err != EWOULDBLOCK) {
      errno = err;
      return -1;
    }
    if (nonblock) {
      errno = EAGAIN;
      return -1;
    }
    bool retry = false;
    if (block_like_accept(fd, &retry) < 0) return -1;
    if (!retry) return -1;
    if (entry_kind(g_fds.get(fd)) == FdKind::kListener) {
      if (!gen_note_accept(nonblock)) {
        errno = EAGAIN;
        return -1;
      }
      int rc = accept_once(fd, addr, len, flags, word);
      if (rc >= 0) return rc;
      err = errno;
    } else {
      err = EAGAIN;
    }
  }
}

}  // namespace

// The hot path, for a listener that is not retired in a process that is
// ready: one table lookup, the real accept4 and the count.
int listeners_accept(int fd, sockaddr* addr, socklen_t* len, int flags,
                     bool accept4) {
  uint32_t word = g_fds.get(fd);
  FdKind kind = entry_kind(word);
  if (kind != FdKind::kListener && kind != FdKind::kRetired)
    return accept4 ? real::accept4(fd, addr, len, flags)
                   : real::accept(fd, addr, len);
  if (__builtin_expect(accept_needs_care(), 0) &&
      !prepare_accept(kind == FdKind::kListener, word)) {
    errno = EAGAIN;
    return -1;
  }
  if (kind == FdKind::kListener) {
    int rc = accept_once(fd, addr, len, flags, word);
    if (rc >= 0) return rc;
    return accept_failed(fd, addr, len, flags, word, -1);
  }
  return accept_failed(fd, addr, len, flags, word, EAGAIN);
}

bool listeners_keep_path(int dirfd, const char* path) {
  if (g_offered_count.load() == 0 && !g_stopped_accepting.load()) return false;
  struct stat st;
  if (!path || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISSOCK(st.st_mode))
    return false;
  bool draining = g_stopped_accepting.load();
  bool keep = false;
  ListenerLock lock(g_listeners);
  g_listeners.for_each_unlocked([&](uint32_t, const Listener& l) {
    bool needed = (l.offered && !l.claimed) || draining;
    if (needed && l.path_ino == st.st_ino && l.path_dev == st.st_dev)
      keep = true;
  });
  if (keep)
    HUPTIME_LOG(kDebug, "unlink({}) skipped: another generation serves on it",
                path);
  return keep;
}

long listeners_sweep_conns() {
  g_fds.for_each([](int fd, uint32_t word) {
    if (entry_kind(word) == FdKind::kConn && real::fcntl(fd, F_GETFD) < 0 &&
        errno == EBADF)
      untrack(fd);
  });
  return g_conns.load();
}

}  // namespace huptime
