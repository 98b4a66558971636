#include "our_fds.h"

#include <fcntl.h>

#include <atomic>
#include <iterator>

#include "real.h"
#include "runtime.h"

namespace huptime {

namespace {

// One -1 per OurFd (checked below).
constinit std::atomic<int> g_our[] = {-1, -1, -1, -1, -1, -1, -1,
                                      -1, -1, -1, -1, -1, -1, -1};
static_assert(std::size(g_our) == static_cast<size_t>(OurFd::kCount));

std::atomic<int>& slot_of(OurFd which) {
  return g_our[static_cast<uint32_t>(which)];
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

}  // namespace

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

void close_our_fd(OurFd which) {
  int fd = slot_of(which).exchange(-1, std::memory_order_acq_rel);
  if (fd < 0) return;
  g_fds.compare_exchange(fd, g_fds.get(fd), 0);
  real::close(fd);
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
    slot.compare_exchange_strong(expected, moved, std::memory_order_acq_rel);
  }
  // The caller's own close/dup2 now releases the old number.
  g_fds.exchange(fd, 0);
  return true;
}

}  // namespace huptime
