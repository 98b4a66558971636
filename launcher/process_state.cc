#include "process_state.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "config.h"
#include "paths.h"

namespace huptime {
namespace {

bool same_directory(const char* a, const char* b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISDIR(sa.st_mode) &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<std::string> logical_cwd(const char* pwd_env) {
  if (pwd_env && pwd_env[0] == '/' && has_no_dot_components(pwd_env) &&
      same_directory(pwd_env, "."))
    return normalize_path(pwd_env);
  char* physical = getcwd(nullptr, 0);
  if (!physical) return std::nullopt;
  std::string cwd(physical);
  std::free(physical);
  // Linux returns "(unreachable)/..." for a directory outside our root.
  if (cwd.empty() || cwd.front() != '/') {
    errno = ENOENT;
    return std::nullopt;
  }
  return cwd;
}

uint64_t blocked_signal_mask() {
  sigset_t set;
  sigemptyset(&set);
  sigprocmask(SIG_BLOCK, nullptr, &set);
  return sigset_to_mask(set);
}

uint64_t ignored_signal_mask() {
  uint64_t mask = 0;
  for (int sig = 1; sig <= 64 && sig < NSIG; ++sig) {
    struct sigaction action;
    if (sigaction(sig, nullptr, &action) != 0) continue;
    if (!(action.sa_flags & SA_SIGINFO) && action.sa_handler == SIG_IGN)
      mask |= uint64_t{1} << (sig - 1);
  }
  return mask;
}

}  // namespace huptime
