#include "launch_env.h"

#include <algorithm>
#include <iterator>

#include "library_path.h"

namespace huptime {
namespace {

constexpr std::string_view kEnvPreload = "LD_PRELOAD";

// Every variable the launcher sets, or that must not survive from an older
// launch; see lib/config.h.
constexpr const char* kContractVariables[] = {
    kEnvMode,        kEnvArgv,       kEnvCwd,          kEnvSigMask,
    kEnvSigIgn,      kEnvUnlink,     kEnvLog,          kEnvFds,
    kEnvSignal,      kEnvStopSignal, kEnvStartTimeout, kEnvDrainTimeout,
    kEnvMaxDraining, kEnvCheck,      kEnvReady,        kEnvSystemdNotify,
};

std::string_view variable_name(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

bool is_replaced(std::string_view name) {
  if (name == kEnvPreload) return true;
  return std::any_of(std::begin(kContractVariables),
                     std::end(kContractVariables),
                     [&](const char* var) { return name == var; });
}

bool is_huptime_library(std::string_view entry) {
  size_t slash = entry.rfind('/');
  std::string_view file =
      slash == std::string_view::npos ? entry : entry.substr(slash + 1);
  return file == kLibraryName;
}

}  // namespace

std::string build_ld_preload(std::string_view library, const char* existing) {
  std::string value(library);
  std::string_view rest = existing ? existing : "";
  while (!rest.empty()) {
    size_t end = rest.find_first_of(": ");
    std::string_view entry = rest.substr(0, end);
    if (!entry.empty() && !is_huptime_library(entry)) {
      value += ':';
      value += entry;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return value;
}

std::vector<std::string> build_launch_environment(
    const std::vector<std::string>& current, std::string_view library,
    const LaunchConfig& config) {
  std::vector<std::string> env;
  const char* old_preload = nullptr;
  for (const std::string& entry : current) {
    std::string_view name = variable_name(entry);
    if (name == kEnvPreload && !old_preload && entry.size() > name.size())
      old_preload = entry.c_str() + name.size() + 1;
    if (!is_replaced(name)) env.push_back(entry);
  }
  env.push_back(std::string(kEnvPreload) + "=" +
                build_ld_preload(library, old_preload));
  std::vector<std::string> encoded = encode_launch_env(config);
  env.insert(env.end(), encoded.begin(), encoded.end());
  return env;
}

}  // namespace huptime
