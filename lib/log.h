// Logging from inside someone else's process.
//
// One line per call, prefixed "huptime[pid]: ", formatted into a stack
// buffer and written to stderr with a single write(2), so lines from
// several processes never interleave. The level comes from HUPTIME_LOG
// (config.h); lifecycle events that an operator wants to see (restart,
// ready, draining, exiting) are info, everything else debug or trace.
// At debug level and above every line ends in " @SECONDS.MICROSECONDS" on
// CLOCK_MONOTONIC, for timelines across processes.
// No allocation, no lock; not async-signal-safe (fmt), so never call it
// from a signal handler or between clone and exec.
#pragma once

#include <fmt/format.h>

#include <atomic>

#include "config.h"

namespace huptime {

extern constinit std::atomic<int> g_log_level;

inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= g_log_level.load(std::memory_order_relaxed);
}

void log_write(LogLevel level, const char* text, size_t len);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (!log_enabled(level)) return;
  char buf[1024];
  auto result = fmt::format_to_n(buf, sizeof buf - 1, format,
                                 std::forward<Args>(args)...);
  size_t len = result.size < sizeof buf - 1 ? result.size : sizeof buf - 1;
  log_write(level, buf, len);
}

#define HUPTIME_LOG(level, ...) \
  ::huptime::log(::huptime::LogLevel::level, __VA_ARGS__)

}  // namespace huptime
