// Stopping and resuming accepting in one process.
//
// To stop, each listener fd of the program is replaced (dup3) by a
// placeholder: one end of a socket pair whose other end we hold, so it is
// never readable, never hangs up, and nobody can connect to it. The
// program's poll/select/epoll on that fd number then simply never fires,
// and accept() on it blocks or says EAGAIN as the program expects. Epoll
// registrations are keyed by (fd, open file), so each is removed before the
// swap and added again for the placeholder, keeping the program's later
// EPOLL_CTL_MOD/DEL on that fd working.
#include <fcntl.h>
#include <sys/socket.h>

#include "generation.h"
#include "listeners.h"
#include "log.h"
#include "our_fds.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"

namespace huptime {

constinit std::atomic<bool> g_stopped_accepting{false};

namespace {

bool ensure_placeholder() {
  if (our_fd(OurFd::kPlaceholder) >= 0) return true;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                 pair) != 0)
    return false;
  adopt_our_fd(OurFd::kPlaceholder, pair[0]);
  adopt_our_fd(OurFd::kPlaceholderPeer, pair[1]);
  shutdown(our_fd(OurFd::kPlaceholderPeer), SHUT_RD);
  return our_fd(OurFd::kPlaceholder) >= 0;
}

// Moves fd's epoll registrations from one open file to the one now at fd.
// `before` runs between the removal and the re-adding.
template <typename Fn>
void swap_file(int fd, const Listener& l, Fn before) {
  for (int i = 0; i < l.nregs; ++i)
    if (l.regs[i].fd == fd)
      real::epoll_ctl(l.regs[i].epfd, EPOLL_CTL_DEL, fd, nullptr);
  before();
  for (int i = 0; i < l.nregs; ++i) {
    if (l.regs[i].fd != fd) continue;
    epoll_event ev{};
    ev.events = l.regs[i].events;
    ev.data.u64 = l.regs[i].data;
    real::epoll_ctl(l.regs[i].epfd, EPOLL_CTL_ADD, fd, &ev);
  }
}

// A protected copy of the listener in `slot`, if one was saved.
int saved_copy_unlocked(uint32_t slot) {
  int copy = -1;
  g_fds.for_each([&](int fd, uint32_t word) {
    if (entry_kind(word) == FdKind::kOffered && entry_slot(word) == slot)
      copy = fd;
  });
  return copy;
}

// An accept4() that entered the kernel on the real listener before the
// swap can still take a connection after it, possibly one made after the
// new generation answered (seen at load 20: a thread preempted inside the
// call). The real listener is non-blocking, so these return at once
// unless preempted; bounded anyway.
void wait_accepts_returned() {
  for (int waited = 0; waited < 200; ++waited) {
    if (g_accepts_in_flight.load() == 0) return;
    real::poll(nullptr, 0, 1);
  }
}

// Returns how many fds it retired, or -1 when it did nothing.
int swap_in_placeholders(bool keep_copies) {
  ListenerLock lock(g_listeners);
  if (g_stopped_accepting.load()) return -1;
  if (!ensure_placeholder()) {
    HUPTIME_LOG(kError, "cannot stop accepting: {}", strerror(errno));
    return -1;
  }
  int placeholder = our_fd(OurFd::kPlaceholder);
  int retired = 0;
  g_fds.for_each([&](int fd, uint32_t word) {
    if (entry_kind(word) != FdKind::kListener) return;
    uint32_t slot = entry_slot(word);
    Listener& l = g_listeners.at_unlocked(slot);
    if (keep_copies && saved_copy_unlocked(slot) < 0) {
      int copy = real::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (copy >= 0) {
        g_listeners.add_ref_unlocked(slot);
        adopt_offered_fd(copy, slot);
        // Exec mode: every connection that arrives during the drain and
        // the new image's start-up waits in this socket's queue. With the
        // program's backlog (python's socketserver: 5) it overflows and
        // the kernel drops SYNs, which clients retry after 1, 3, 7 s...
        // The new image's own listen() sets its backlog again.
        real::listen(copy, SOMAXCONN);
      }
    }
    // Retired in the books first: an accept() racing with the swap that
    // reaches the placeholder (EINVAL) then knows why.
    g_fds.exchange(fd, make_entry(FdKind::kRetired, slot, entry_cloexec(word)));
    swap_file(fd, l, [&] { real::dup3(placeholder, fd, O_CLOEXEC); });
    ++retired;
  });
  g_stopped_accepting.store(true);
  return retired;
}

}  // namespace

void listeners_stop_accepting(bool keep_copies) {
  int retired = swap_in_placeholders(keep_copies);
  if (retired < 0) return;
  wait_accepts_returned();
  // Logged before the others learn it: the line's stamp then comes before
  // any accept of the new generation, as the stop itself does
  // (supervise/handoff-order reads the order from the stamps; logged
  // after, a preemption between the two put the stamp after the new
  // generation's first accept).
  HUPTIME_LOG(kDebug, "stopped accepting on {} listener fd{}", retired,
              retired == 1 ? "" : "s");
  gen_mark_stopped();
}

void listeners_resume_accepting() {
  ListenerLock lock(g_listeners);
  g_fds.for_each([&](int fd, uint32_t word) {
    if (entry_kind(word) != FdKind::kRetired) return;
    uint32_t slot = entry_slot(word);
    int copy = saved_copy_unlocked(slot);
    if (copy < 0) return;
    Listener& l = g_listeners.at_unlocked(slot);
    swap_file(fd, l, [&] { real::dup3(copy, fd, O_CLOEXEC); });
    g_fds.exchange(fd,
                   make_entry(FdKind::kListener, slot, entry_cloexec(word)));
  });
  g_fds.for_each([&](int fd, uint32_t word) {
    if (entry_kind(word) != FdKind::kOffered) return;
    g_fds.exchange(fd, 0);
    g_listeners.drop_ref_unlocked(entry_slot(word));
    real::close(fd);
  });
  g_stopped_accepting.store(false);
  gen_mark_accepting();
  HUPTIME_LOG(kInfo, "accepting again");
}

}  // namespace huptime
