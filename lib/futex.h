// Waiting on a 32-bit atomic with the kernel's futex: no allocation, no
// lock, usable from signal handlers and around fork.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <climits>
#include <cstdint>

#include "raw_syscall.h"

namespace huptime {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

// Sleeps while `word` holds `expected`, at most `timeout` (null: no limit).
inline void futex_wait(std::atomic<uint32_t>& word, uint32_t expected,
                       const timespec* timeout) {
  raw_syscall6(SYS_futex, reinterpret_cast<long>(&word), FUTEX_WAIT_PRIVATE,
               expected, reinterpret_cast<long>(timeout));
}

inline void futex_wake_all(std::atomic<uint32_t>& word) {
  raw_syscall6(SYS_futex, reinterpret_cast<long>(&word), FUTEX_WAKE_PRIVATE,
               INT_MAX);
}

// The same on a word in memory shared between processes (MAP_SHARED).
inline void futex_wait_shared(std::atomic<uint32_t>& word, uint32_t expected,
                              const timespec* timeout) {
  raw_syscall6(SYS_futex, reinterpret_cast<long>(&word), FUTEX_WAIT, expected,
               reinterpret_cast<long>(timeout));
}

inline void futex_wake_all_shared(std::atomic<uint32_t>& word) {
  raw_syscall6(SYS_futex, reinterpret_cast<long>(&word), FUTEX_WAKE, INT_MAX);
}

}  // namespace huptime
