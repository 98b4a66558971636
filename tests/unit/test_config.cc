// lib/config: the launcher → library contract in the environment.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "config.h"

using namespace huptime;

namespace {

using Env = std::map<std::string, std::string>;

// NAME=VALUE strings → map, failing on a duplicate or a missing '='.
Env to_map(const std::vector<std::string>& entries) {
  Env env;
  for (const std::string& entry : entries) {
    size_t eq = entry.find('=');
    INFO(entry);
    REQUIRE(eq != std::string::npos);
    REQUIRE(env.count(entry.substr(0, eq)) == 0);
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

std::optional<LaunchConfig> decode(const Env& env, std::string* error) {
  auto lookup = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  return decode_launch_env(lookup, error);
}

uint64_t bit(int sig) { return uint64_t{1} << (sig - 1); }

LaunchConfig full_config() {
  LaunchConfig config;
  config.mode = Mode::kExec;
  config.argv = {"./server", "--listen", "0.0.0.0:80", "", "a:b,c=d\n"};
  config.cwd = "/srv/app with spaces";
  config.sigmask = bit(SIGUSR1) | bit(64);
  config.sigign = bit(SIGPIPE) | bit(1);
  config.unlink = {"/run/app.pid", "/run/odd,name:1"};
  config.log_level = LogLevel::kTrace;
  config.restart_signal = SIGUSR2;
  config.stop_signal = SIGQUIT;
  config.start_timeout_ms = 1500;
  config.drain_timeout_ms = 0;
  config.max_draining = 5;
  config.check = "nginx -t -c '/etc/my conf'";
  config.ready = ReadyRule::kNotify;
  return config;
}

void check_same(const LaunchConfig& a, const LaunchConfig& b) {
  CHECK(a.mode == b.mode);
  CHECK(a.argv == b.argv);
  CHECK(a.cwd == b.cwd);
  CHECK(a.sigmask == b.sigmask);
  CHECK(a.sigign == b.sigign);
  CHECK(a.unlink == b.unlink);
  CHECK(a.log_level == b.log_level);
  CHECK(a.restart_signal == b.restart_signal);
  CHECK(a.stop_signal == b.stop_signal);
  CHECK(a.start_timeout_ms == b.start_timeout_ms);
  CHECK(a.drain_timeout_ms == b.drain_timeout_ms);
  CHECK(a.max_draining == b.max_draining);
  CHECK(a.check == b.check);
  CHECK(a.ready == b.ready);
}

}  // namespace

TEST_CASE("config: modes", "[config]") {
  CHECK(parse_mode("fork") == Mode::kFork);
  CHECK(parse_mode("exec") == Mode::kExec);
  for (const char* bad :
       {"", "Fork", "EXEC", "fork ", " exec", "forkexec", "f", "exe"})
    CHECK_FALSE(parse_mode(bad).has_value());
  CHECK(std::string(mode_name(Mode::kFork)) == "fork");
  CHECK(std::string(mode_name(Mode::kExec)) == "exec");
  for (Mode m : {Mode::kFork, Mode::kExec})
    CHECK(parse_mode(mode_name(m)) == m);
}

TEST_CASE("config: log levels", "[config]") {
  CHECK(parse_log_level("error") == LogLevel::kError);
  CHECK(parse_log_level("warn") == LogLevel::kWarn);
  CHECK(parse_log_level("info") == LogLevel::kInfo);
  CHECK(parse_log_level("debug") == LogLevel::kDebug);
  CHECK(parse_log_level("trace") == LogLevel::kTrace);
  for (const char* bad :
       {"", "ERROR", "warning", "Info", "debug\n", "0", "tracee"})
    CHECK_FALSE(parse_log_level(bad).has_value());
  for (LogLevel level : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo,
                         LogLevel::kDebug, LogLevel::kTrace})
    CHECK(parse_log_level(log_level_name(level)) == level);
  CHECK(std::string(log_level_name(LogLevel::kWarn)) == "warn");
}

TEST_CASE("config: signal masks, sets and hex", "[config]") {
  for (int sig : {1, 31, 34, 64}) {
    INFO("signal " << sig);
    sigset_t set;
    sigemptyset(&set);
    REQUIRE(sigaddset(&set, sig) == 0);
    CHECK(sigset_to_mask(set) == bit(sig));
    sigset_t back = mask_to_sigset(bit(sig));
    for (int other = 1; other <= 64; ++other)
      CHECK(sigismember(&back, other) == (other == sig ? 1 : 0));
    CHECK(hex_to_mask(mask_to_hex(bit(sig))) == bit(sig));
  }
  uint64_t several = bit(1) | bit(31) | bit(34) | bit(64);
  CHECK(sigset_to_mask(mask_to_sigset(several)) == several);
  sigset_t empty;
  sigemptyset(&empty);
  CHECK(sigset_to_mask(empty) == 0);

  CHECK(mask_to_hex(0) == "0");
  CHECK(mask_to_hex(bit(1)) == "1");
  CHECK(mask_to_hex(bit(64)) == "8000000000000000");
  CHECK(mask_to_hex(~uint64_t{0}) == "ffffffffffffffff");
  for (uint64_t mask : {uint64_t{0}, several, ~uint64_t{0}, uint64_t{0x4000}})
    CHECK(hex_to_mask(mask_to_hex(mask)) == mask);
  CHECK(hex_to_mask("FFFF") == 0xffff);
  CHECK(hex_to_mask("0000000000000001") == 1);
}

TEST_CASE("config: hex_to_mask rejects junk", "[config]") {
  for (const char* bad :
       {"", "g", "0x10", "-1", "+1", " 1", "1 ", "1\n", "12z",
        "ffffffffffffffff0", "10000000000000000", "00000000000000001"}) {
    INFO("text: \"" << bad << "\"");
    CHECK_FALSE(hex_to_mask(bad).has_value());
  }
}

TEST_CASE("config: encode_launch_env → decode_launch_env", "[config]") {
  LaunchConfig config = full_config();
  Env env = to_map(encode_launch_env(config));
  CHECK(env.count("LD_PRELOAD") == 0);
  CHECK(env.count(kEnvFds) == 0);
  CHECK(env.at(kEnvMode) == "exec");
  CHECK(env.at(kEnvLog) == "trace");
  std::string error = "untouched";
  auto decoded = decode(env, &error);
  REQUIRE(decoded.has_value());
  check_same(*decoded, config);
}

TEST_CASE("config: empty values are left out and come back", "[config]") {
  LaunchConfig config;
  config.argv = {"app"};
  Env env = to_map(encode_launch_env(config));
  CHECK(env.count(kEnvCwd) == 0);
  CHECK(env.count(kEnvUnlink) == 0);
  // Always written, even at the default, so a stale value cannot win.
  CHECK(env.at(kEnvLog) == "info");
  std::string error;
  auto decoded = decode(env, &error);
  REQUIRE(decoded.has_value());
  check_same(*decoded, config);

  // Only HUPTIME_ARGV is required.
  decoded = decode({{kEnvArgv, "3:app,"}}, &error);
  REQUIRE(decoded.has_value());
  check_same(*decoded, config);
}

TEST_CASE("config: every log level survives the trip", "[config]") {
  for (LogLevel level : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo,
                         LogLevel::kDebug, LogLevel::kTrace}) {
    LaunchConfig config;
    config.argv = {"app"};
    config.log_level = level;
    std::string error;
    auto decoded = decode(to_map(encode_launch_env(config)), &error);
    REQUIRE(decoded.has_value());
    CHECK(decoded->log_level == level);
  }
}

TEST_CASE("config: a malformed variable is named in the error", "[config]") {
  struct Case {
    const char* name;
    const char* value;
  };
  const Case kBad[] = {
      {kEnvMode, "spawn"},  {kEnvMode, ""},
      {kEnvArgv, ""},       {kEnvArgv, "3:ab,"},
      {kEnvArgv, "app"},    {kEnvCwd, "relative/dir"},
      {kEnvCwd, ""},        {kEnvSigMask, "xyz"},
      {kEnvSigMask, ""},    {kEnvSigMask, "10000000000000000"},
      {kEnvSigIgn, "-1"},   {kEnvSigIgn, "0x1"},
      {kEnvUnlink, "5:a,"}, {kEnvUnlink, "/run/app.pid"},
      {kEnvLog, "verbose"}, {kEnvLog, ""},
  };
  Env good = to_map(encode_launch_env(full_config()));
  for (const Case& c : kBad) {
    Env env = good;
    env[c.name] = c.value;
    std::string error;
    INFO(c.name << "=\"" << c.value << "\"");
    CHECK_FALSE(decode(env, &error).has_value());
    CHECK_THAT(error, Catch::Contains(c.name));
  }
}

TEST_CASE("config: HUPTIME_ARGV must be present", "[config]") {
  Env env = to_map(encode_launch_env(full_config()));
  env.erase(kEnvArgv);
  std::string error;
  CHECK_FALSE(decode(env, &error).has_value());
  CHECK_THAT(error, Catch::Contains(kEnvArgv));
  CHECK_FALSE(decode({}, &error).has_value());
  CHECK_THAT(error, Catch::Contains(kEnvArgv));
  // A null error pointer is allowed.
  CHECK_FALSE(decode({}, nullptr).has_value());
}

TEST_CASE("config: signal names", "[config]") {
  CHECK(parse_signal("HUP") == SIGHUP);
  CHECK(parse_signal("SIGHUP") == SIGHUP);
  CHECK(parse_signal("hup") == SIGHUP);
  CHECK(parse_signal("sigusr2") == SIGUSR2);
  CHECK(parse_signal("1") == 1);
  CHECK(parse_signal("QUIT") == SIGQUIT);
  CHECK(parse_signal("RTMIN") == SIGRTMIN);
  CHECK(parse_signal("RTMIN+2") == SIGRTMIN + 2);
  CHECK(parse_signal("SIGRTMAX-1") == SIGRTMAX - 1);
  for (const char* bad :
       {"", "KILL", "SIGKILL", "9", "STOP", "19", "0", "-1", "65", "FOO", "SIG",
        "HUP ", "RTMIN+99", "RTMAX+1", "RTMIN-1", "1x"})
    CHECK_FALSE(parse_signal(bad).has_value());
  CHECK(signal_name(SIGHUP) == "HUP");
  CHECK(signal_name(SIGUSR2) == "USR2");
  CHECK(signal_name(SIGRTMIN) == "RTMIN");
  CHECK(signal_name(SIGRTMIN + 3) == "RTMIN+3");
  for (int sig : {SIGHUP, SIGTERM, SIGQUIT, SIGRTMIN + 1})
    CHECK(parse_signal(signal_name(sig)) == sig);
}

TEST_CASE("config: durations", "[config]") {
  CHECK(parse_duration_ms("30") == 30'000);
  CHECK(parse_duration_ms("30s") == 30'000);
  CHECK(parse_duration_ms("1.5s") == 1'500);
  CHECK(parse_duration_ms("0.25") == 250);
  CHECK(parse_duration_ms("250ms") == 250);
  CHECK(parse_duration_ms("2m") == 120'000);
  CHECK(parse_duration_ms("0") == 0);
  CHECK(parse_duration_ms("604800") == kMaxTimeoutMs);
  for (const char* bad :
       {"", "s", "ms", "-1", "+1", "1.", ".5", "1.2345", "1h", "1 s", "abc",
        "604801", "99999999999999", "1.-5", "1e3"})
    CHECK_FALSE(parse_duration_ms(bad).has_value());
}

TEST_CASE("config: bad safe-reload variables are rejected", "[config]") {
  Env env = to_map(encode_launch_env(full_config()));
  for (auto [name, value] : {std::pair{kEnvSignal, "9"},
                             {kEnvSignal, "HUP"},
                             {kEnvSignal, "0"},
                             {kEnvStopSignal, "-1"},
                             {kEnvStartTimeout, "-5"},
                             {kEnvDrainTimeout, "x"},
                             {kEnvMaxDraining, "0"},
                             {kEnvMaxDraining, "65"},
                             {kEnvReady, "systemd"}}) {
    Env bad = env;
    bad[name] = value;
    std::string error;
    INFO(name << "=" << value);
    CHECK_FALSE(decode(bad, &error).has_value());
    CHECK(error.find(name) != std::string::npos);
  }
}
