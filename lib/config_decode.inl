// Template body of decode_launch_env (config.h).
#pragma once

#include <type_traits>

#include "env_codec.h"

namespace huptime {

template <typename Getenv>
std::optional<LaunchConfig> decode_launch_env(Getenv getenv_fn,
                                              std::string* error) {
  LaunchConfig config;
  auto fail = [&](std::string message) -> std::optional<LaunchConfig> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  if (const char* v = getenv_fn(kEnvMode)) {
    auto mode = parse_mode(v);
    if (!mode) return fail(std::string("bad ") + kEnvMode + "=" + v);
    config.mode = *mode;
  }
  const char* argv = getenv_fn(kEnvArgv);
  if (!argv) return fail(std::string(kEnvArgv) + " is not set");
  auto args = decode_list(argv);
  if (!args || args->empty()) return fail(std::string("bad ") + kEnvArgv);
  config.argv = std::move(*args);
  if (const char* v = getenv_fn(kEnvCwd)) {
    if (v[0] != '/') return fail(std::string("bad ") + kEnvCwd);
    config.cwd = v;
  }
  if (const char* v = getenv_fn(kEnvSigMask)) {
    auto mask = hex_to_mask(v);
    if (!mask) return fail(std::string("bad ") + kEnvSigMask);
    config.sigmask = *mask;
  }
  if (const char* v = getenv_fn(kEnvSigIgn)) {
    auto mask = hex_to_mask(v);
    if (!mask) return fail(std::string("bad ") + kEnvSigIgn);
    config.sigign = *mask;
  }
  if (const char* v = getenv_fn(kEnvUnlink)) {
    auto paths = decode_list(v);
    if (!paths) return fail(std::string("bad ") + kEnvUnlink);
    config.unlink = std::move(*paths);
  }
  if (const char* v = getenv_fn(kEnvLog)) {
    auto level = parse_log_level(v);
    if (!level) return fail(std::string("bad ") + kEnvLog + "=" + v);
    config.log_level = *level;
  }
  auto number = [&](const char* name, int64_t low, int64_t high,
                    auto* out) -> bool {
    const char* v = getenv_fn(name);
    if (!v) return true;
    auto value = parse_number(v);
    if (!value || *value < low || *value > high) return false;
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*value);
    return true;
  };
  if (!number(kEnvSignal, 1, SIGRTMAX, &config.restart_signal) ||
      !parse_signal(std::to_string(config.restart_signal)))
    return fail(std::string("bad ") + kEnvSignal);
  if (!number(kEnvStopSignal, 0, SIGRTMAX, &config.stop_signal))
    return fail(std::string("bad ") + kEnvStopSignal);
  if (!number(kEnvStartTimeout, 0, kMaxTimeoutMs, &config.start_timeout_ms))
    return fail(std::string("bad ") + kEnvStartTimeout);
  if (!number(kEnvDrainTimeout, 0, kMaxTimeoutMs, &config.drain_timeout_ms))
    return fail(std::string("bad ") + kEnvDrainTimeout);
  if (!number(kEnvMaxDraining, 1, kMaxDrainingLimit, &config.max_draining))
    return fail(std::string("bad ") + kEnvMaxDraining);
  if (const char* v = getenv_fn(kEnvCheck)) config.check = v;
  if (const char* v = getenv_fn(kEnvSystemdNotify)) config.systemd_notify = v;
  if (const char* v = getenv_fn(kEnvReady)) {
    auto rule = parse_ready_rule(v);
    if (!rule) return fail(std::string("bad ") + kEnvReady + "=" + v);
    config.ready = *rule;
  }
  return config;
}

}  // namespace huptime
