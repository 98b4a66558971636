#include "generation.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "fork_guard.h"
#include "futex.h"
#include "log.h"
#include "our_fds.h"
#include "proc_members.h"
#include "real.h"
#include "restart.h"
#include "runtime.h"
#include "service_state.h"
#include "shared_state.h"

namespace huptime {

namespace {
// Where a process without a slot counts (more processes than slots).
constinit std::atomic<int32_t> g_unslotted_conns{0};
}  // namespace

constinit std::atomic<std::atomic<int32_t>*> g_slot_conns{&g_unslotted_conns};

namespace {

static_assert(std::atomic<uint32_t>::is_always_lock_free);

constinit std::atomic<GenShared*> g_shared{nullptr};
constinit std::atomic<ProcSlot*> g_slot{nullptr};

void set_slot(ProcSlot* slot) {
  g_slot_conns.store(slot ? &slot->conns : &g_unslotted_conns);
  g_slot.store(slot);
}
// The starting copy's page, in the process that started it.
constinit std::atomic<GenShared*> g_next{nullptr};

GenShared* map_page(int fd) {
  void* mem = mmap(nullptr, sizeof(GenShared), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
  return mem == MAP_FAILED ? nullptr : static_cast<GenShared*>(mem);
}

bool pid_alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

// An exited process its parent has not reaped yet.
bool proc_is_zombie(pid_t pid) {
  char path[48];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  TransientFds scope;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t got = read(fd, buf, sizeof buf - 1);
  real::close(fd);
  if (got <= 0) return false;
  buf[got] = '\0';
  const char* paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' && paren[2] == 'Z';
}

// A slot for this process: a free one, or one whose process is gone.
// Only system calls and atomics: runs in a fork child.
void claim_slot(GenShared* page) {
  int32_t self = g_rt.pid.load();
  for (int pass = 0; pass < 2; ++pass) {
    for (ProcSlot& slot : page->slots) {
      int32_t pid = slot.pid.load(std::memory_order_relaxed);
      if (pid == self) {
        set_slot(&slot);
        break;
      }
      bool free_slot = pass == 0 ? pid == 0 : !pid_alive(pid);
      if (free_slot && slot.pid.compare_exchange_strong(pid, self)) {
        slot.conns.store(static_cast<int32_t>(g_conns.load()));
        set_slot(&slot);
        return;
      }
    }
    if (g_slot.load()) return;
  }
  set_slot(nullptr);  // more processes than slots: not counted
}

// A new page and drain latch, adopted as `page_fd`/`latch_fd`.
GenShared* create_page(uint32_t generation, pid_t root, OurFd page_fd,
                       OurFd latch_fd) {
  int memfd =
      adopt_our_fd(page_fd, memfd_create(kGenerationMemfdName, MFD_CLOEXEC));
  if (memfd < 0 || ftruncate(memfd, sizeof(GenShared)) != 0) {
    HUPTIME_LOG(kWarn, "cannot create generation state: {}", strerror(errno));
    close_our_fd(page_fd);
    return nullptr;
  }
  int latch = adopt_our_fd(latch_fd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  GenShared* page = map_page(memfd);
  if (latch < 0 || !page) {
    HUPTIME_LOG(kWarn, "cannot create generation state: {}", strerror(errno));
    close_our_fd(page_fd);
    close_our_fd(latch_fd);
    return nullptr;
  }
  page->generation.store(generation);
  page->root_pid.store(root);
  page->started_ms.store(monotonic_ms());
  page->magic.store(GenShared::kMagic);
  return page;
}

}  // namespace

GenShared* gen_page() { return g_shared.load(std::memory_order_acquire); }

bool gen_ensure(uint32_t generation) {
  if (g_shared.load(std::memory_order_acquire)) return true;
  service_ensure();
  GenShared* page = create_page(generation, g_rt.pid.load(), OurFd::kGenState,
                                OurFd::kDrainLatch);
  if (!page) return false;
  g_rt.generation.store(generation);
  claim_slot(page);
  g_shared.store(page, std::memory_order_release);
  return true;
}

bool gen_attach(int state_fd, int latch_fd) {
  GenShared* page = map_page(state_fd);
  if (!page || page->magic.load() != GenShared::kMagic) {
    if (page) munmap(page, sizeof(GenShared));
    return false;
  }
  adopt_our_fd(OurFd::kGenState, state_fd);
  adopt_our_fd(OurFd::kDrainLatch, latch_fd);
  g_rt.generation.store(page->generation.load());
  // A new copy is the first to attach, before its parent may have noted
  // its pid.
  int32_t unset = 0;
  page->root_pid.compare_exchange_strong(unset, g_rt.pid.load());
  service_ensure();
  claim_slot(page);
  g_shared.store(page, std::memory_order_release);
  return true;
}

pid_t gen_root_pid() {
  GenShared* page = g_shared.load(std::memory_order_acquire);
  return page ? page->root_pid.load() : 0;
}

bool gen_prepare_next(uint32_t generation, int* state_fd, int* latch_fd) {
  gen_release_next();
  GenShared* page =
      create_page(generation, 0, OurFd::kChildGen, OurFd::kChildLatch);
  if (!page) return false;
  *state_fd = our_fd(OurFd::kChildGen);
  *latch_fd = our_fd(OurFd::kChildLatch);
  g_next.store(page);
  return true;
}

void gen_next_started(pid_t pid) {
  if (GenShared* page = g_next.load()) page->root_pid.store(pid);
}

void gen_next_mark_ready() {
  GenShared* page = g_next.load();
  if (!page) return;
  page->ready_ms.store(monotonic_ms());
  page->ready.store(1);
}

bool gen_next_kill_all(int timeout_ms) {
  int fd = our_fd(OurFd::kChildGen);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return false;
  return kill_all_holders(st.st_dev, st.st_ino, timeout_ms);
}

void gen_release_next() {
  GenShared* page = g_next.exchange(nullptr);
  if (page) munmap(page, sizeof(GenShared));
  close_our_fd(OurFd::kChildGen);
  close_our_fd(OurFd::kChildLatch);
}

bool gen_exists() { return g_shared.load(std::memory_order_acquire); }

uint32_t gen_number() { return g_rt.generation.load(); }

bool gen_take_restart_token() {
  GenShared* page = g_shared.load(std::memory_order_acquire);
  if (!page) return false;
  int32_t self = g_rt.pid.load();
  int32_t owner = page->restart_owner.load();
  while (true) {
    if (owner == self) return true;
    if (owner != 0 && pid_alive(owner)) return false;
    if (page->restart_owner.compare_exchange_weak(owner, self)) return true;
  }
}

void gen_release_restart_token() {
  GenShared* page = g_shared.load(std::memory_order_acquire);
  if (!page) return;
  int32_t self = g_rt.pid.load();
  page->restart_owner.compare_exchange_strong(self, 0);
}

void gen_announce_drain() {
  if (GenShared* page = g_shared.load(std::memory_order_acquire))
    page->draining.store(1);
  // Again when our latch moved meanwhile: the write may have gone to the
  // program's file (our_fds.h). Two writes still read as one drain.
  uint32_t moves;
  do {
    moves = our_fd_moves();
    int latch = our_fd(OurFd::kDrainLatch);
    if (latch >= 0) eventfd_write(latch, 1);
    HUPTIME_LOG(kDebug, "drain announced (latch fd {})", latch);
  } while (our_fd_moves() != moves);
}

bool gen_drain_announced() {
  while (true) {
    uint32_t moves = our_fd_moves();
    int latch = our_fd(OurFd::kDrainLatch);
    if (latch < 0) return false;
    pollfd p{latch, POLLIN, 0};
    int rc = real::poll(&p, 1, 0);
    if (our_fd_moves() == moves) return rc == 1;
  }
}

void gen_clear_drain() {
  if (GenShared* page = g_shared.load(std::memory_order_acquire))
    page->draining.store(0);
  int latch = our_fd(OurFd::kDrainLatch);
  eventfd_t value;
  if (latch >= 0) eventfd_read(latch, &value);
}

namespace {

constinit std::atomic<bool> g_accept_lock_held{false};

int lock_page(short type, int cmd) {
  int fd = our_fd(OurFd::kGenState);
  if (fd < 0) return -1;
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 1;
  int rc = real::fcntl(fd, cmd, &lock);
  if (rc == 0 && cmd == F_GETLK) return lock.l_type == F_UNLCK ? 0 : 1;
  return rc;
}

}  // namespace

void gen_mark_accepting() {
  if (g_accept_lock_held.exchange(true)) return;
  if (lock_page(F_RDLCK, F_SETLK) != 0) g_accept_lock_held.store(false);
}

void gen_mark_stopped() {
  if (!g_accept_lock_held.exchange(false)) return;
  lock_page(F_UNLCK, F_SETLK);
  if (GenShared* page = g_shared.load(std::memory_order_acquire)) {
    page->stopped_seq.fetch_add(1);
    futex_wake_all_shared(page->stopped_seq);
  }
}

// Checks the locks again each time a process stops (its wake-up), and at
// least every millisecond: a process that exits or is killed drops its lock
// without waking anyone, and one of an older library never wakes. (It used
// to check only every millisecond; with nginx's two workers that was most
// of the time between the last worker stopping and the new copy
// accepting.)
bool gen_wait_others_stopped(int timeout_ms) {
  GenShared* page = g_shared.load(std::memory_order_acquire);
  int64_t deadline = monotonic_ms() + timeout_ms;
  for (;;) {
    uint32_t seq = page ? page->stopped_seq.load() : 0;
    if (lock_page(F_WRLCK, F_GETLK) <= 0) return true;
    if (monotonic_ms() > deadline) return false;
    timespec slice{0, 1000 * 1000};
    if (page)
      futex_wait_shared(page->stopped_seq, seq, &slice);
    else
      real::poll(nullptr, 0, 1);
  }
}

void gen_relock() {
  if (g_accept_lock_held.load()) lock_page(F_RDLCK, F_SETLK);
}

namespace {
// Fork children (gen_take_over_root): the parent's pid, and whether this
// process descends from the generation's root through forks alone.
constinit std::atomic<pid_t> g_fork_parent{0};
constinit std::atomic<bool> g_root_line{false};
}  // namespace

void gen_after_fork_child() {
  g_accept_lock_held.store(false);
  // The starting copy is the parent's business.
  if (GenShared* next = g_next.exchange(nullptr))
    munmap(next, sizeof(GenShared));
  GenShared* page = g_shared.load(std::memory_order_acquire);
  if (!page) return;
  // The slot inherited from the parent still names the parent.
  ProcSlot* slot = g_slot.load();
  pid_t parent = slot ? slot->pid.load() : 0;
  g_fork_parent.store(parent);
  if (parent != 0 && parent == page->root_pid.load()) g_root_line.store(true);
  claim_slot(page);
}

bool gen_take_over_root(pid_t* exiting) {
  if (exiting) *exiting = 0;
  GenShared* page = g_shared.load(std::memory_order_acquire);
  if (!page || !g_root_line.load()) return false;
  int32_t root = page->root_pid.load();
  pid_t self = g_rt.pid.load();
  if (root == self) return false;
  // The parent that forked us has exited (we were reparented), and so has
  // the root (the same process, or the first of a double fork).
  pid_t parent = g_fork_parent.load();
  if (getppid() == parent) {
    if (exiting) *exiting = parent;
    return false;
  }
  if (pid_alive(root) && !proc_is_zombie(root)) {
    if (exiting) *exiting = root;
    return false;
  }
  if (!page->root_pid.compare_exchange_strong(root, self)) return false;
  HUPTIME_LOG(kInfo,
              "main process {} exited after forking this one (a daemon): "
              "pid {} is the generation's main process now",
              root, self);
  return true;
}

}  // namespace huptime
