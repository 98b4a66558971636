// What the launcher records about its own process before exec: the logical
// working directory and the signal state. The library needs both to start
// every later generation of the service exactly as the user started the
// first one. Nothing here changes the state it reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace huptime {

// The logical working directory: `pwd_env` ($PWD, may be null) when it is
// absolute, has no "." or ".." component and names the same directory as
// "." (same st_dev and st_ino); otherwise getcwd(). Keeping $PWD means a
// service started from /srv/app/current (a symlink) is restarted from
// whatever that symlink points at by then. nullopt with errno set when
// getcwd() fails (e.g. the directory was removed).
std::optional<std::string> logical_cwd(const char* pwd_env);

// Signals blocked in the calling thread, as a config.h mask.
uint64_t blocked_signal_mask();

// Signals whose disposition is SIG_IGN, as a config.h mask. Signals that
// sigaction() refuses to report (the C library's internal ones) count as not
// ignored.
uint64_t ignored_signal_mask();

}  // namespace huptime
