// CLOCK_MONOTONIC in milliseconds: system-wide, so times written into the
// shared pages by one process compare with another's (--status ages).
//
// A system call of our own rather than libc's clock_gettime(): every
// caller is on a cold path (generation and service pages, the restart
// machine, waits around fork), where ~0.1 µs more than the vDSO does not
// show, and libc's wrapper lies in a 64 KiB window of libc's text that the
// programs we are preloaded into seldom touch: a server's start-up made it
// resident (+64 KiB) for the one timestamp of its ready time.
#pragma once

#include <sys/syscall.h>
#include <time.h>

#include <cstdint>

#include "raw_syscall.h"

namespace huptime {

inline int64_t monotonic_ms() {
  timespec ts{};
  raw_syscall6(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&ts));
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace huptime
