// Exec mode: the children of the image that re-executed.
//
// A pre-fork server's workers (gunicorn's, nginx's) and a bgsave child
// (redis's) are children of the process that re-executes in place. They
// drain and exit after the exec, and the new image knows nothing of them:
// their SIGCHLD comes before the new program installs its handler (or while
// it is at its default, which discards it), so they would stay zombies
// until the next SIGCHLD makes the program reap with waitpid(-1). The new
// image reaps them (reap_old_children.h).
//
// Which children are old: those that exist when the new image's library
// initialises. The exec ended every thread of the old image, and the new
// program has not run yet (our init runs before main, and before any fork
// a constructor may make, since the fork hook initialises first), so no
// list from the old image is needed, and none can miss a worker that the
// old program forked while the restart thread was re-executing.
//
// A child is named by its pid and its start time (field 22 of
// /proc/PID/stat, clock ticks since boot): a pid that the program reaped
// itself, and that the kernel then gave to a process the new program
// forked, has another start time, so it is never mistaken for an old one.
//
// Pure: the /proc/PID/stat parse, for unit tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace huptime {

struct OldChild {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// More is not a pre-fork server we know; the rest are left to the program.
inline constexpr size_t kMaxOldChildren = 1024;

// From the text of /proc/PID/stat: the parent pid (field 4) and the start
// time (field 22). The command name (field 2) may hold spaces and
// parentheses: fields are counted from the last ')'.
struct StatFields {
  pid_t ppid = 0;
  uint64_t start_time = 0;
};
std::optional<StatFields> parse_proc_stat(std::string_view text);

}  // namespace huptime
