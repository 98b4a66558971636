// CLOCK_MONOTONIC in milliseconds: system-wide, so times written into the
// shared pages by one process compare with another's (--status ages).
#pragma once

#include <time.h>

#include <cstdint>

namespace huptime {

inline int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace huptime
