// Finding COMMAND before exec: the same search execvp() does, done up front
// so the launcher can report "command not found" (127) or "cannot execute"
// (126) itself, look at the file it is about to run (static_elf.h), and exec it
// by path with an environment of its own making.
#pragma once

#include <string>
#include <string_view>

namespace huptime {

// The file to exec, or why there is none.
struct Resolution {
  std::string path;  // the file found, or the candidate that was refused
  int error = 0;     // 0 when found; else ENOENT, EACCES, EISDIR, ...
};

// The search PATH used when the environment has none (glibc's execvp default).
inline constexpr const char* kDefaultSearchPath = "/bin:/usr/bin";

// A COMMAND containing '/' is taken as a path. Otherwise each entry of
// `search_path` (an empty entry is the working directory) is tried in order;
// the first executable regular file wins. Directories are skipped, as the
// shell skips them; a file found but not executable is reported (EACCES)
// only when no later entry has an executable one, as execvp does.
Resolution resolve_command(std::string_view command,
                           std::string_view search_path);

// Exit status for a failure to run COMMAND: 127 for ENOENT, 126 otherwise.
int exit_status_for_errno(int error);

// The one-line message (without the "huptime: " prefix) for a failed
// resolution: "foo: command not found" when a bare name was not found in
// PATH, "./foo: No such file or directory" for a missing path, and
// "PATH: cannot execute: REASON" otherwise.
std::string resolution_message(std::string_view command,
                               const Resolution& resolution);

}  // namespace huptime
