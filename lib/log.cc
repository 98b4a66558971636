#include "log.h"

#include <sys/syscall.h>

#include <time.h>

#include <cerrno>
#include <cstring>

#include "raw_syscall.h"

namespace huptime {

constinit std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

namespace {

// At debug level and above, " @SECONDS.MICROSECONDS" on CLOCK_MONOTONIC
// (the clock of the bench's tracer and of python's time.monotonic_ns()),
// at the end so that "huptime[pid]: text" stays as readers match it.
// Timelines of a restart across processes come from these. Returns the
// length written (0 at info level, or when it does not fit).
size_t stamp(char* out, size_t room) {
  if (g_log_level.load(std::memory_order_relaxed) <
      static_cast<int>(LogLevel::kDebug))
    return 0;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto r =
      fmt::format_to_n(out, room, " @{}.{:06}", ts.tv_sec, ts.tv_nsec / 1000);
  return r.size <= room ? r.size : 0;
}

}  // namespace

void log_write(LogLevel level, const char* text, size_t len) {
  static const char* const kTags[] = {"error: ", "warning: ", "", "", ""};
  char line[1200];
  int saved_errno = errno;
  auto pid = raw_syscall6(SYS_getpid);
  auto head = fmt::format_to_n(line, sizeof line, "huptime[{}]: {}", pid,
                               kTags[static_cast<int>(level)]);
  size_t used = head.size;
  size_t room = sizeof line - used - 1;
  if (len > room) len = room;
  memcpy(line + used, text, len);
  used += len;
  used += stamp(line + used, sizeof line - 1 - used);
  line[used++] = '\n';
  // One write: lines of several processes sharing stderr never interleave.
  raw_syscall6(SYS_write, 2, reinterpret_cast<long>(line),
               static_cast<long>(used));
  errno = saved_errno;
}

}  // namespace huptime
