#include "library_path.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "paths.h"

namespace huptime {

std::string installed_relative_libdir(std::string_view prefix,
                                      std::string_view bindir,
                                      std::string_view libdir) {
  return relative_path(absolute_path(prefix, bindir),
                       absolute_path(prefix, libdir));
}

std::vector<std::string> library_candidates(std::string_view exe_path,
                                            std::string_view relative_libdir) {
  std::vector<std::string> candidates;
  if (exe_path.empty()) return candidates;
  std::string exe_dir = dirname(exe_path);
  for (std::string_view relative :
       {relative_libdir, std::string_view("../lib")}) {
    std::string dir = absolute_path(exe_dir, relative);
    std::string candidate = absolute_path(dir, kLibraryName);
    if (std::find(candidates.begin(), candidates.end(), candidate) ==
        candidates.end())
      candidates.push_back(std::move(candidate));
  }
  return candidates;
}

LibraryLookup find_library(
    const char* env_value, std::string_view cwd, std::string_view exe_path,
    std::string_view relative_libdir,
    const std::function<bool(const std::string&)>& exists) {
  LibraryLookup lookup;
  if (env_value && *env_value) {
    std::string path = absolute_path(cwd, env_value);
    lookup.tried.push_back(path);
    if (exists(path))
      lookup.path = std::move(path);
    else
      lookup.error =
          std::string(kEnvLibrary) + "=" + env_value +
          " does not name a file (unset it to use the installed library)";
    return lookup;
  }
  lookup.tried = library_candidates(exe_path, relative_libdir);
  for (const std::string& candidate : lookup.tried) {
    if (exists(candidate)) {
      lookup.path = candidate;
      return lookup;
    }
  }
  lookup.error = std::string("cannot find ") + kLibraryName + " (looked in: ";
  for (size_t i = 0; i < lookup.tried.size(); ++i)
    lookup.error += (i ? ", " : "") + lookup.tried[i];
  if (lookup.tried.empty())
    lookup.error += "nothing, /proc/self/exe is unreadable";
  lookup.error += "); set " + std::string(kEnvLibrary) + " to its path";
  return lookup;
}

bool library_file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string self_exe_path() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buffer) return "";
  std::string path(buffer, static_cast<size_t>(n));
  if (path.front() != '/' || path.ends_with(" (deleted)")) return "";
  return path;
}

}  // namespace huptime
