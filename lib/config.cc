#include "config.h"

#include <charconv>
#include <cstring>
#include <string>
#include <tuple>

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

const char* ready_rule_name(ReadyRule rule) {
  return rule == ReadyRule::kNotify ? "notify" : "listen";
}

std::optional<ReadyRule> parse_ready_rule(std::string_view text) {
  if (text == "listen") return ReadyRule::kListen;
  if (text == "notify") return ReadyRule::kNotify;
  return std::nullopt;
}

namespace {

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

bool catchable(int sig) {
  return sig >= 1 && sig <= SIGRTMAX && sig != SIGKILL && sig != SIGSTOP;
}

}  // namespace

std::optional<int64_t> parse_number(std::string_view text) {
  return parse_int(text);
}

std::optional<int> parse_signal(std::string_view text) {
  if (auto number = parse_int(text)) {
    if (*number < 1 || *number > SIGRTMAX || !catchable(int(*number)))
      return std::nullopt;
    return static_cast<int>(*number);
  }
  std::string upper;
  for (char c : text)
    upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (int sig = 1; sig < SIGRTMIN; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && name == abbrev) {
      if (!catchable(sig)) return std::nullopt;
      return sig;
    }
  }
  // RTMIN, RTMIN+n, RTMAX, RTMAX-n.
  for (auto [base, sign, origin] : {std::tuple{"RTMIN", '+', SIGRTMIN},
                                    std::tuple{"RTMAX", '-', SIGRTMAX}}) {
    std::string_view prefix = base;
    if (!name.starts_with(prefix)) continue;
    std::string_view rest = name.substr(prefix.size());
    if (rest.empty()) return origin;
    if (rest[0] != sign) return std::nullopt;
    auto offset = parse_int(rest.substr(1));
    if (!offset || *offset < 0) return std::nullopt;
    int64_t sig = sign == '+' ? origin + *offset : origin - *offset;
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return static_cast<int>(sig);
  }
  return std::nullopt;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "RTMIN"
                           : "RTMIN+" + std::to_string(sig - SIGRTMIN);
  const char* abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : nullptr;
  return abbrev ? abbrev : std::to_string(sig);
}

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  int64_t scale = 1000;
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60'000;
    text.remove_suffix(1);
  }
  // Whole part and up to three decimals: no floating point, no locale.
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty()) ||
      frac.size() > 3 || whole.size() > 12)
    return std::nullopt;
  auto w = parse_int(whole);
  if (!w || *w < 0 || whole[0] == '+' || whole[0] == '-') return std::nullopt;
  int64_t value = *w * scale;
  if (!frac.empty()) {
    auto f = parse_int(frac);
    if (!f || frac[0] == '+' || frac[0] == '-') return std::nullopt;
    int64_t thousandths = *f;
    for (size_t i = frac.size(); i < 3; ++i) thousandths *= 10;
    value += thousandths * scale / 1000;
  }
  if (value > kMaxTimeoutMs) return std::nullopt;
  return value;
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
  auto number = [&env](const char* name, int64_t value) {
    env.push_back(std::string(name) + "=" + std::to_string(value));
  };
  number(kEnvSignal, config.restart_signal);
  number(kEnvStopSignal, config.stop_signal);
  number(kEnvStartTimeout, config.start_timeout_ms);
  number(kEnvDrainTimeout, config.drain_timeout_ms);
  number(kEnvMaxDraining, config.max_draining);
  if (!config.check.empty())
    env.push_back(std::string(kEnvCheck) + "=" + config.check);
  env.push_back(std::string(kEnvReady) + "=" + ready_rule_name(config.ready));
  if (!config.systemd_notify.empty())
    env.push_back(std::string(kEnvSystemdNotify) + "=" + config.systemd_notify);
  return env;
}

}  // namespace huptime
