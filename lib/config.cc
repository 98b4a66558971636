#include "config.h"

#include <charconv>

namespace huptime {

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "fork") return Mode::kFork;
  if (text == "exec") return Mode::kExec;
  return std::nullopt;
}

const char* mode_name(Mode mode) {
  return mode == Mode::kExec ? "exec" : "fork";
}

const char* log_level_name(LogLevel level) {
  static const char* const kNames[] = {"error", "warn", "info", "debug",
                                       "trace"};
  return kNames[static_cast<int>(level)];
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "error") return LogLevel::kError;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "info") return LogLevel::kInfo;
  if (text == "debug") return LogLevel::kDebug;
  if (text == "trace") return LogLevel::kTrace;
  return std::nullopt;
}

uint64_t sigset_to_mask(const sigset_t& set) {
  uint64_t mask = 0;
  for (int sig = 1; sig <= 64; ++sig)
    if (sigismember(&set, sig) == 1) mask |= uint64_t{1} << (sig - 1);
  return mask;
}

sigset_t mask_to_sigset(uint64_t mask) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= 64; ++sig)
    if (mask & (uint64_t{1} << (sig - 1))) sigaddset(&set, sig);
  return set;
}

std::string mask_to_hex(uint64_t mask) {
  char buf[17];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, mask, 16);
  (void)ec;
  return std::string(buf, end);
}

std::optional<uint64_t> hex_to_mask(std::string_view text) {
  uint64_t mask = 0;
  if (text.empty() || text.size() > 16) return std::nullopt;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), mask, 16);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return mask;
}

std::vector<std::string> encode_launch_env(const LaunchConfig& config) {
  std::vector<std::string> env;
  env.push_back(std::string(kEnvMode) + "=" + mode_name(config.mode));
  env.push_back(std::string(kEnvArgv) + "=" + encode_list(config.argv));
  if (!config.cwd.empty())
    env.push_back(std::string(kEnvCwd) + "=" + config.cwd);
  env.push_back(std::string(kEnvSigMask) + "=" + mask_to_hex(config.sigmask));
  env.push_back(std::string(kEnvSigIgn) + "=" + mask_to_hex(config.sigign));
  if (!config.unlink.empty())
    env.push_back(std::string(kEnvUnlink) + "=" + encode_list(config.unlink));
  // Always written, so a stale HUPTIME_LOG can never override the level.
  env.push_back(std::string(kEnvLog) + "=" + log_level_name(config.log_level));
  return env;
}

}  // namespace huptime
