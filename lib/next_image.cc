#include "next_image.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config.h"
#include "log.h"
#include "real.h"
#include "runtime.h"

namespace huptime {

namespace {

std::string_view env_value(const std::vector<std::string>& env,
                           std::string_view name) {
  for (const std::string& e : env)
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 &&
        e[name.size()] == '=')
      return std::string_view(e).substr(name.size() + 1);
  return {};
}

bool replaced(const std::vector<std::string>& replace, const std::string& e) {
  for (const std::string& r : replace) {
    size_t eq = r.find('=');
    if (e.size() > eq && e.compare(0, eq + 1, r, 0, eq + 1) == 0) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> resolve_next_command(int* error) {
  const LaunchConfig& config = *g_rt.config;
  return resolve_command(config.argv[0], env_value(*g_rt.base_env, "PATH"),
                         config.cwd.empty() ? "/" : config.cwd,
                         check_executable, error);
}

std::optional<ExecImage> build_next_image(
    const Handoff& handoff, int* error,
    const std::vector<std::string>& replace) {
  const LaunchConfig& config = *g_rt.config;
  const std::vector<std::string>& base = *g_rt.base_env;
  ExecImage image;
  auto path = resolve_next_command(error);
  if (!path) return std::nullopt;
  image.path = *path;
  image.argv = config.argv;
  std::string preload = std::string("LD_PRELOAD=") + g_rt.preload_lib;
  for (const std::string& e : base) {
    if (e.compare(0, 11, "LD_PRELOAD=") == 0) {
      if (e.size() > 11) preload += ":" + e.substr(11);
      continue;
    }
    if (!replaced(replace, e)) image.env.push_back(e);
  }
  for (const std::string& r : replace) image.env.push_back(r);
  image.env.push_back(preload);
  for (size_t i = 0; i < g_rt.n_launch_vars; ++i)
    image.env.push_back(g_rt.launch_vars[i]);
  char buf[8192];
  if (encode_handoff(handoff, buf, sizeof buf) == 0) {
    *error = E2BIG;
    return std::nullopt;
  }
  image.handoff_index = static_cast<int>(image.env.size());
  image.env.push_back(std::string(kEnvFds) + "=" + buf);
  image.seal();
  return image;
}

void unlink_configured_files() {
  for (const std::string& path : g_rt.config->unlink) {
    if (real::unlink(path.c_str()) == 0)
      HUPTIME_LOG(kInfo, "removed {}", path);
    else if (errno != ENOENT)
      HUPTIME_LOG(kWarn, "cannot remove {}: {}", path, strerror(errno));
  }
}

}  // namespace huptime
