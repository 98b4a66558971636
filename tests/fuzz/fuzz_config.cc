// The launcher→library contract (lib/config.h): signal names, durations,
// signal masks and the whole set of HUPTIME_* variables, which anything
// that starts a program may set. Whatever is accepted is in range, and
// encoding an accepted LaunchConfig decodes back to the same values.
#include <cstring>

#include "config.h"
#include "fuzz_support.h"

using huptime::LaunchConfig;

namespace {

void check_scalars(std::string_view text) {
  if (auto sig = huptime::parse_signal(text)) {
    FUZZ_CHECK(*sig >= 1 && *sig <= SIGRTMAX && *sig != SIGKILL &&
               *sig != SIGSTOP);
    FUZZ_CHECK(huptime::parse_signal(huptime::signal_name(*sig)) == sig);
  }
  if (auto ms = huptime::parse_duration_ms(text))
    FUZZ_CHECK(*ms >= 0 && *ms <= huptime::kMaxTimeoutMs);
  if (auto mask = huptime::hex_to_mask(text))
    FUZZ_CHECK(huptime::hex_to_mask(huptime::mask_to_hex(*mask)) == mask);
  if (auto n = huptime::parse_number(text))
    FUZZ_CHECK(huptime::parse_number(std::to_string(*n)) == n);
  if (auto level = huptime::parse_log_level(text))
    FUZZ_CHECK(huptime::parse_log_level(huptime::log_level_name(*level)) ==
               level);
  if (auto mode = huptime::parse_mode(text))
    FUZZ_CHECK(huptime::parse_mode(huptime::mode_name(*mode)) == mode);
}

bool same(const LaunchConfig& a, const LaunchConfig& b) {
  return a.mode == b.mode && a.argv == b.argv && a.cwd == b.cwd &&
         a.sigmask == b.sigmask && a.sigign == b.sigign &&
         a.unlink == b.unlink && a.log_level == b.log_level &&
         a.restart_signal == b.restart_signal &&
         a.stop_signal == b.stop_signal &&
         a.start_timeout_ms == b.start_timeout_ms &&
         a.drain_timeout_ms == b.drain_timeout_ms &&
         a.max_draining == b.max_draining && a.check == b.check &&
         a.ready == b.ready;
}

// Decodes from NAME=VALUE strings, as the library reads its environment.
std::optional<LaunchConfig> decode(const std::vector<std::string>& env) {
  auto lookup = [&env](const char* name) -> const char* {
    size_t len = std::strlen(name);
    for (const std::string& var : env)
      if (var.size() > len && var.compare(0, len, name) == 0 && var[len] == '=')
        return var.c_str() + len + 1;
    return nullptr;
  };
  std::string error;
  auto config = huptime::decode_launch_env(lookup, &error);
  FUZZ_CHECK(config.has_value() == error.empty());
  return config;
}

}  // namespace

// The input, cut at NUL bytes: the first piece goes through every scalar
// parser; the pieces are also the values of the HUPTIME_* variables in
// order (an empty piece leaves that variable unset).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts = huptime::fuzz::split_nul(data, size);
  check_scalars(parts[0]);

  static const char* const kNames[] = {
      huptime::kEnvArgv,         huptime::kEnvMode,
      huptime::kEnvCwd,          huptime::kEnvSigMask,
      huptime::kEnvSigIgn,       huptime::kEnvUnlink,
      huptime::kEnvLog,          huptime::kEnvSignal,
      huptime::kEnvStopSignal,   huptime::kEnvStartTimeout,
      huptime::kEnvDrainTimeout, huptime::kEnvMaxDraining,
      huptime::kEnvCheck,        huptime::kEnvReady};
  std::vector<std::string> env;
  for (size_t i = 0; i < parts.size() && i < std::size(kNames); ++i)
    if (!parts[i].empty())
      env.push_back(std::string(kNames[i]) + "=" + parts[i]);

  auto config = decode(env);
  if (!config) return 0;
  FUZZ_CHECK(!config->argv.empty());
  FUZZ_CHECK(config->cwd.empty() || config->cwd[0] == '/');
  FUZZ_CHECK(config->start_timeout_ms >= 0 &&
             config->start_timeout_ms <= huptime::kMaxTimeoutMs);
  FUZZ_CHECK(config->drain_timeout_ms >= 0 &&
             config->drain_timeout_ms <= huptime::kMaxTimeoutMs);
  FUZZ_CHECK(config->max_draining >= 1 &&
             config->max_draining <= huptime::kMaxDrainingLimit);
  FUZZ_CHECK(config->restart_signal >= 1 && config->restart_signal <= SIGRTMAX);

  auto again = decode(huptime::encode_launch_env(*config));
  FUZZ_CHECK(again && same(*config, *again));
  return 0;
}
