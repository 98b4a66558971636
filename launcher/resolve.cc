#include "resolve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace huptime {
namespace {

// 0 if `path` is a file we may exec, else the errno execve() would give
// (near enough: EISDIR stands in for execve's EACCES on a directory, which
// is the more useful thing to tell the user).
int check_candidate(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return errno;
  return 0;
}

}  // namespace

Resolution resolve_command(std::string_view command,
                           std::string_view search_path) {
  if (command.empty()) return {std::string(command), ENOENT};
  if (command.find('/') != std::string_view::npos) {
    std::string path(command);
    return {path, check_candidate(path)};
  }
  Resolution refused;  // first candidate that exists but cannot be run
  while (true) {
    size_t colon = search_path.find(':');
    std::string_view dir = search_path.substr(0, colon);
    std::string candidate = dir.empty() ? "." : std::string(dir);
    candidate += '/';
    candidate += command;
    int error = check_candidate(candidate);
    if (error == 0) return {candidate, 0};
    bool absent = error == ENOENT || error == ENOTDIR || error == EISDIR;
    if (!absent && refused.error == 0) refused = {candidate, error};
    if (colon == std::string_view::npos) break;
    search_path.remove_prefix(colon + 1);
  }
  if (refused.error != 0) return refused;
  return {std::string(command), ENOENT};
}

int exit_status_for_errno(int error) { return error == ENOENT ? 127 : 126; }

std::string resolution_message(std::string_view command,
                               const Resolution& resolution) {
  bool bare = command.find('/') == std::string_view::npos;
  if (resolution.error == ENOENT) {
    if (bare) return std::string(command) + ": command not found";
    return resolution.path + ": " + std::strerror(ENOENT);
  }
  return resolution.path +
         ": cannot execute: " + std::strerror(resolution.error);
}

}  // namespace huptime
