#include "fork_guard.h"

#include <time.h>

#include <atomic>
#include <cstdint>

#include "clock.h"
#include "futex.h"

namespace huptime {

namespace {

// Scopes last microseconds (an open, a read, a close) and so does a
// fork: only a thread starved of CPU, or stopped, holds the other side
// this long.
constexpr int kForkWaitMs = 500;

constinit std::atomic<uint32_t> g_open{0};     // scopes open now
constinit std::atomic<uint32_t> g_forking{0};  // forks waiting or under way
constinit std::atomic<uint32_t> g_expired{0};  // fork_guard_expired_waits()

}  // namespace

// Sequentially consistent: a scope that counts itself before it looks at
// g_forking and a fork that counts itself before it looks at g_open never
// both go ahead.
void transient_fds_begin() {
  int64_t deadline = -1;
  for (;;) {
    g_open.fetch_add(1);
    uint32_t forking = g_forking.load();
    if (forking == 0) return;
    int64_t now = monotonic_ms();
    if (deadline < 0) deadline = now + kForkWaitMs;
    // A fork that does not end (its thread stopped in the prepare
    // handler): go ahead rather than wait for ever.
    if (now >= deadline) {
      g_expired.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (g_open.fetch_sub(1) == 1) futex_wake_all(g_open);
    timespec wait = {0, (deadline - now) * 1'000'000};
    futex_wait(g_forking, forking, &wait);
  }
}

void transient_fds_end() {
  if (g_open.fetch_sub(1) == 1 && g_forking.load() != 0) futex_wake_all(g_open);
}

void fork_guard_prepare() {
  g_forking.fetch_add(1);
  int64_t deadline = monotonic_ms() + kForkWaitMs;
  for (;;) {
    uint32_t open = g_open.load();
    if (open == 0) return;
    int64_t left = deadline - monotonic_ms();
    if (left <= 0) {
      g_expired.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    timespec wait = {0, left * 1'000'000};
    futex_wait(g_open, open, &wait);
  }
}

void fork_guard_parent() {
  if (g_forking.fetch_sub(1) == 1) futex_wake_all(g_forking);
}

// The child's only thread is the one that forked: nothing of ours is
// open in it, whatever the counters copied from the parent say.
void fork_guard_child() {
  g_open.store(0);
  g_forking.store(0);
}

unsigned fork_guard_expired_waits() {
  return g_expired.load(std::memory_order_relaxed);
}

}  // namespace huptime
