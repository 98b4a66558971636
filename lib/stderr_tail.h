// The last lines a failed new generation wrote to stderr, for the error
// that reports the failure ("new copy pid N failed ...: last stderr lines:
// ..."), when stderr is a regular file that both generations share.
//
// Take a mark before starting the new copy; after it failed, read what
// was appended since. The old generation writes to the same file, so its
// lines may be among them; lines this process logged itself
// ("huptime[<our pid>]: ...") are left out. Best effort and cold: any
// error yields an empty string.
#pragma once

#include <cstdint>
#include <string>

namespace huptime {

// Where fd 2 ends now when it is a regular file; -1 when it is not (pipe,
// socket, tty, closed) or cannot be examined.
int64_t stderr_mark();

// The last max_lines non-blank lines appended to fd 2's file after mark,
// from at most the last 64 KiB (a partial first line is dropped), each
// trimmed to 200 bytes (on a UTF-8 character boundary) with control
// characters replaced by spaces, joined by " | ". Empty when mark < 0, fd 2
// is no longer a regular file, the file shrank (truncated or rotated), or
// nothing was appended. Reads with pread on fd 2, or on a read-only
// reopening of /proc/self/fd/2 (CLOEXEC, >= 3, closed before returning)
// when fd 2 is write-only. Allocates.
std::string stderr_tail_since(int64_t mark, int max_lines);

}  // namespace huptime
