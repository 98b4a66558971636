// The launcher's messages to the operator: one "huptime: ..." line on
// stderr, written with a single write(2) so lines from concurrent launches
// do not interleave.
#pragma once

#include <string_view>

namespace huptime {

// Exit statuses of the launcher itself (COMMAND's 126/127: resolve.h).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// "huptime: MESSAGE", then exit(status).
[[noreturn]] void fatal(int status, std::string_view message);

// "huptime: MESSAGE" and "Try 'huptime --help'.", then exit(2).
[[noreturn]] void usage_error(std::string_view message);

// "huptime: warning: MESSAGE".
void warn(std::string_view message);

// "huptime: MESSAGE" (information, not a problem).
void inform(std::string_view message);

// Writes `text` to stdout and exits 0, or 1 if it cannot be written
// (so `huptime --help > /dev/full` fails, as it should).
[[noreturn]] void print_and_exit(std::string_view text);

// Writes `out` to stdout and `err` to stderr, then exits with `status`
// (1 instead of 0 when stdout cannot be written).
[[noreturn]] void finish(int status, std::string_view out,
                         std::string_view err);

}  // namespace huptime
