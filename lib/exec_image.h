// What a new generation is started with: the command as the user gave it,
// resolved again at each restart (so `current -> releases/N` symlink flips
// and binaries replaced by a package upgrade start the new version), the
// logical working directory, and the environment as at first start plus
// the library's own variables.
//
// Also the environment filter used by the exec hooks, which runs in forked
// children and so must not allocate: compose_env() writes only into buffers
// the caller provides.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace huptime {

// Resolves argv0 like execvp, but against the given logical cwd and PATH
// (default "/usr/local/bin:/usr/bin:/bin" when empty). `access_ok` is the
// seam for tests: it returns 0 or an errno for (path, X_OK-and-regular).
// On failure returns nullopt with *error = ENOENT (127) or EACCES (126).
using AccessFn = int (*)(const char* path);
std::optional<std::string> resolve_command(std::string_view argv0,
                                           std::string_view path_env,
                                           std::string_view cwd,
                                           AccessFn access_ok, int* error);

// The real check used by resolve_command: a regular file we may execute.
int check_executable(const char* path);

// Removes every entry naming `lib` (same path, or same file name
// "libhuptime.so") from a colon-separated LD_PRELOAD value. Writes at most
// cap bytes (NUL included) to out. async-signal-safe.
bool strip_preload(const char* value, const char* lib, char* out, size_t cap);

struct EnvAdditions {
  const char* preload_lib = nullptr;  // prepended to LD_PRELOAD if set
  const char* const* vars = nullptr;  // "NAME=VALUE" strings to add
  size_t n_vars = 0;
};

// Copies envp into out (NULL-terminated, at most cap pointers including
// the NULL), dropping every HUPTIME_* variable and our LD_PRELOAD entry,
// then adds `add`. preload_buf receives the new LD_PRELOAD=... string.
// Returns false if something did not fit. async-signal-safe.
bool compose_env(char* const* envp, const EnvAdditions& add, const char** out,
                 size_t cap, char* preload_buf, size_t preload_cap);

// A fully built argv/envp, owned, with pointer arrays for execve.
struct ExecImage {
  std::string path;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::vector<char*> argv_ptrs;
  std::vector<char*> env_ptrs;
  int handoff_index = -1;  // env entry holding HUPTIME_FDS, for the pid patch

  void seal();  // fills the pointer arrays; call after the last change
};

}  // namespace huptime
