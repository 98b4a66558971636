// Where is libhuptime.so? The launcher must hand the loader an absolute
// path, and must work both installed and straight from the build tree.
//
// Order, first that exists wins:
//   1. $HUPTIME_LIBRARY, if set and non-empty (then it must exist: no fallback,
//      so a typo is reported rather than silently replaced);
//   2. the installed layout: <dir of the launcher>/<bindir→huptime libdir>/;
//   3. the build tree: <dir of the launcher>/../lib/.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace huptime {

inline constexpr const char* kLibraryName = "libhuptime.so";
inline constexpr const char* kEnvLibrary = "HUPTIME_LIBRARY";

struct LibraryLookup {
  std::string path;                // absolute and normalized; empty if none
  std::vector<std::string> tried;  // candidates looked at, in order
  std::string error;               // one line, set when path is empty
};

// The relative path from the installed bindir to the installed huptime
// libdir, from Meson's options (each absolute, or relative to `prefix`):
// ("/usr", "bin", "lib/x86_64-linux-gnu/huptime") ->
// "../lib/x86_64-linux-gnu/huptime".
std::string installed_relative_libdir(std::string_view prefix,
                                      std::string_view bindir,
                                      std::string_view libdir);

// Candidates 2 and 3 above, normalized, without duplicates. `exe_path` is
// the launcher's own absolute path (/proc/self/exe); empty gives none.
std::vector<std::string> library_candidates(std::string_view exe_path,
                                            std::string_view relative_libdir);

// Applies the order above. `env_value` is $HUPTIME_LIBRARY (may be null); a
// relative value is taken relative to `cwd`. `exists` says whether a
// candidate is a usable file (the seam for tests; see library_file_exists).
LibraryLookup find_library(
    const char* env_value, std::string_view cwd, std::string_view exe_path,
    std::string_view relative_libdir,
    const std::function<bool(const std::string&)>& exists);

// True when `path` names (after symlinks) a regular file.
bool library_file_exists(const std::string& path);

// The launcher's own path from /proc/self/exe, or "" if it cannot be read
// (no /proc, or the file was deleted since).
std::string self_exe_path();

}  // namespace huptime
