#include "log.h"

#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "raw_syscall.h"

namespace huptime {

constinit std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

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
  line[used++] = '\n';
  // One write: lines of several processes sharing stderr never interleave.
  raw_syscall6(SYS_write, 2, reinterpret_cast<long>(line),
               static_cast<long>(used));
  errno = saved_errno;
}

}  // namespace huptime
