#include "our_fds.h"

#include <fcntl.h>
#include <sys/syscall.h>

#include <atomic>
#include <iterator>

#include "fork_guard.h"
#include "raw_syscall.h"
#include "real.h"
#include "runtime.h"

namespace huptime {

namespace {

constexpr size_t kOurCount = static_cast<size_t>(OurFd::kCount);

// One -1 per OurFd (checked below).
constinit std::atomic<int> g_our[] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                      -1, -1, -1, -1, -1, -1, -1, -1};
static_assert(std::size(g_our) == kOurCount);

// Pins, and the fd whose close waits for the last of them (-1: none).
constinit std::atomic<uint32_t> g_pins[kOurCount] = {};
constinit std::atomic<int> g_closing[] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1, -1, -1, -1, -1};
static_assert(std::size(g_closing) == kOurCount);

// Moves of our fds (relocate_ours), for our_fd_moves().
constinit std::atomic<uint32_t> g_moves{0};

std::atomic<int>& slot_of(OurFd which) {
  return g_our[static_cast<uint32_t>(which)];
}

// Whoever takes the pending fd closes it: exactly once.
void close_pending(OurFd which) {
  int fd = g_closing[static_cast<uint32_t>(which)].exchange(-1);
  if (fd < 0) return;
  g_fds.compare_exchange(fd, g_fds.get(fd), 0);
  real::close(fd);
}

int move_up(int fd) {
  if (fd >= 3) {
    real::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  int moved = real::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  real::close(fd);
  return moved;
}

// Wakes the restart thread's poll (as restart_poke does) so that it sees
// the new move count. async-signal-safe.
void poke_restart_thread() {
  int fd = slot_of(OurFd::kSelfPipeWrite).load(std::memory_order_acquire);
  char byte = 'M';
  if (fd >= 0) raw_syscall6(SYS_write, fd, reinterpret_cast<long>(&byte), 1);
}

}  // namespace

uint32_t our_fd_moves() { return g_moves.load(); }

int our_fd(OurFd which) {
  return slot_of(which).load(std::memory_order_acquire);
}

int adopt_our_fd(OurFd which, int fd) {
  if (fd < 0) return -1;
  fd = move_up(fd);
  if (fd < 0) return -1;
  g_fds.exchange(fd,
                 make_entry(FdKind::kOurs, static_cast<uint32_t>(which), true));
  slot_of(which).store(fd, std::memory_order_release);
  return fd;
}

void adopt_offered_fd(int fd, uint32_t slot) {
  g_fds.exchange(fd, make_entry(FdKind::kOffered, slot, true));
}

// Closing is a TransientFds scope (fork_guard.h): from the slot's exchange
// to the close, the fd is open but in no book, and a worker forked then
// kept it for its whole life (CI: a prefork worker forked as its parent
// released the ready socket held it, one fd over the baseline).
void close_our_fd(OurFd which) {
  if (slot_of(which).load() < 0) return;
  TransientFds scope;
  int fd = slot_of(which).exchange(-1);
  if (fd < 0) return;
  auto i = static_cast<uint32_t>(which);
  // Sequentially consistent with pin/unpin: either a pinner sees -1 in the
  // slot, or we see its pin and its unpin sees the pending fd.
  int older = g_closing[i].exchange(fd);
  if (older >= 0) {
    g_fds.compare_exchange(older, g_fds.get(older), 0);
    real::close(older);
  }
  if (g_pins[i].load() == 0) close_pending(which);
}

int pin_our_fd(OurFd which) {
  auto i = static_cast<uint32_t>(which);
  g_pins[i].fetch_add(1);
  int fd = slot_of(which).load();
  if (fd < 0) unpin_our_fd(which);
  return fd;
}

void unpin_our_fd(OurFd which) {
  if (g_pins[static_cast<uint32_t>(which)].fetch_sub(1) == 1) {
    TransientFds scope;  // as in close_our_fd
    close_pending(which);
  }
}

void our_fds_after_fork_child() {
  for (size_t i = 0; i < kOurCount; ++i) {
    g_pins[i].store(0);
    close_pending(static_cast<OurFd>(i));
  }
}

void forget_our_fd(OurFd which) {
  int fd = slot_of(which).exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) g_fds.exchange(fd, 0);
}

bool relocate_ours(int fd) {
  uint32_t word = g_fds.get(fd);
  if (!entry_protected(word)) return true;
  int moved = real::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  g_fds.exchange(moved, word);
  if (entry_kind(word) == FdKind::kOurs) {
    auto& slot = g_our[entry_slot(word)];
    int expected = fd;
    // The fd may be open only until its last pin goes: it moves too.
    if (!slot.compare_exchange_strong(expected, moved)) {
      expected = fd;
      g_closing[entry_slot(word)].compare_exchange_strong(expected, moved);
    }
    // After the slot holds the new number: a waiter that sees the count
    // unchanged read the new number (our_fd_moves).
    g_moves.fetch_add(1);
    poke_restart_thread();
  }
  // The caller's own close/dup2 now releases the old number.
  g_fds.exchange(fd, 0);
  return true;
}

}  // namespace huptime
