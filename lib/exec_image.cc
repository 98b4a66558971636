#include "exec_image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace huptime {

namespace {

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

std::string join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

// `name` is the file name part of a path: after the last '/'.
const char* base_name(const char* path, size_t len) {
  const char* base = path;
  for (size_t i = 0; i < len; ++i)
    if (path[i] == '/') base = path + i + 1;
  return base;
}

bool starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

}  // namespace

int check_executable(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  return access(path, X_OK) == 0 ? 0 : errno;
}

std::optional<std::string> resolve_command(std::string_view argv0,
                                           std::string_view path_env,
                                           std::string_view cwd,
                                           AccessFn access_ok, int* error) {
  *error = ENOENT;
  if (argv0.empty()) return std::nullopt;
  auto absolute = [&](std::string_view p) {
    return p.front() == '/' ? std::string(p) : join(cwd, p);
  };
  if (argv0.find('/') != std::string_view::npos) {
    std::string path = absolute(argv0);
    int rc = access_ok(path.c_str());
    if (rc == 0) return path;
    *error = rc == ENOENT || rc == ENOTDIR ? ENOENT : EACCES;
    return std::nullopt;
  }
  if (path_env.empty()) path_env = kDefaultPath;
  bool saw_denied = false;
  while (true) {
    size_t colon = path_env.find(':');
    std::string_view dir = path_env.substr(0, colon);
    std::string candidate = join(dir.empty() ? "." : dir, argv0);
    if (candidate.front() != '/') candidate = absolute(candidate);
    int rc = access_ok(candidate.c_str());
    if (rc == 0) return candidate;
    if (rc == EACCES) saw_denied = true;
    if (colon == std::string_view::npos) break;
    path_env.remove_prefix(colon + 1);
  }
  *error = saw_denied ? EACCES : ENOENT;
  return std::nullopt;
}

bool strip_preload(const char* value, const char* lib, char* out, size_t cap) {
  if (cap == 0) return false;
  size_t used = 0;
  size_t lib_len = strlen(lib);
  const char* lib_base = base_name(lib, lib_len);
  const char* p = value;
  while (*p) {
    // LD_PRELOAD separates entries with ':' or spaces.
    size_t len = 0;
    while (p[len] && p[len] != ':' && p[len] != ' ') ++len;
    const char* entry_base = base_name(p, len);
    size_t base_len = len - static_cast<size_t>(entry_base - p);
    bool ours = (len == lib_len && memcmp(p, lib, len) == 0) ||
                (base_len == strlen(lib_base) &&
                 memcmp(entry_base, lib_base, base_len) == 0);
    if (len > 0 && !ours) {
      size_t sep = used ? 1 : 0;
      if (used + sep + len + 1 > cap) return false;
      if (used) out[used++] = ':';
      memcpy(out + used, p, len);
      used += len;
    }
    p += len;
    if (*p) ++p;
  }
  out[used] = '\0';
  return true;
}

bool compose_env(char* const* envp, const EnvAdditions& add, const char** out,
                 size_t cap, char* preload_buf, size_t preload_cap) {
  static const char kPreload[] = "LD_PRELOAD=";
  constexpr size_t kPreloadLen = sizeof kPreload - 1;
  if (cap == 0) return false;
  size_t n = 0;
  const char* old_preload = "";
  for (char* const* e = envp; e && *e; ++e) {
    if (starts_with(*e, "HUPTIME_")) continue;
    if (starts_with(*e, kPreload)) {
      old_preload = *e + kPreloadLen;
      continue;
    }
    if (n + 1 >= cap) return false;
    out[n++] = *e;
  }
  if (preload_cap <= kPreloadLen) return false;
  memcpy(preload_buf, kPreload, kPreloadLen);
  char* value = preload_buf + kPreloadLen;
  size_t room = preload_cap - kPreloadLen;  // bytes for the value and NUL
  size_t used = 0;
  if (add.preload_lib) {
    used = strlen(add.preload_lib);
    if (used + 1 > room) return false;
    memcpy(value, add.preload_lib, used);
    value[used] = '\0';
  }
  const char* lib = add.preload_lib ? add.preload_lib : "libhuptime.so";
  // The other entries go after ours and a ':' (or at the start).
  size_t sep = used ? 1 : 0;
  if (used + sep < room) {
    char* rest = value + used + sep;
    if (!strip_preload(old_preload, lib, rest, room - used - sep)) return false;
    if (used && *rest) value[used] = ':';
  } else if (*old_preload) {
    char probe[1];
    if (!strip_preload(old_preload, lib, probe, sizeof probe)) return false;
  }
  if (*value) {
    if (n + 1 >= cap) return false;
    out[n++] = preload_buf;
  }
  for (size_t i = 0; i < add.n_vars; ++i) {
    if (n + 1 >= cap) return false;
    out[n++] = add.vars[i];
  }
  out[n] = nullptr;
  return true;
}

void ExecImage::seal() {
  argv_ptrs.clear();
  env_ptrs.clear();
  for (auto& a : argv) argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  for (auto& e : env) env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);
}

}  // namespace huptime
