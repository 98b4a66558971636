// What the launcher tells the library, through the environment.
//
// The launcher sets these variables once; the library reads them at start-up
// in every process it is loaded into, removes them (and itself from
// LD_PRELOAD) from the environment the program sees, and puts them back only
// into the environment of the next generation of the service. Programs the
// service runs therefore never see them.
//
//   LD_PRELOAD        /abs/path/libhuptime.so[:entries the user had]
//   HUPTIME_MODE      "fork" | "exec"
//   HUPTIME_ARGV      encode_list(argv as the user typed it, argv[0]
//   unresolved) HUPTIME_CWD       the logical working directory at launch ($PWD
//   when it
//                     names the same directory as getcwd(), else getcwd())
//   HUPTIME_SIGMASK   blocked signals at launch, hex bit mask (bit n-1 = signal
//   n) HUPTIME_SIGIGN    ignored signals at launch, same encoding
//   HUPTIME_UNLINK    encode_list(absolute paths) removed before a new copy
//   starts HUPTIME_LOG       error | warn | info | debug | trace (default info)
//   HUPTIME_SIGNAL    the restart signal, a number (default SIGHUP)
//   HUPTIME_STOP_SIGNAL  signal sent to the old generation's main process
//                     when it stops accepting; 0 or unset: none
//   HUPTIME_START_TIMEOUT  ms a new generation has to become ready (60000)
//   HUPTIME_DRAIN_TIMEOUT  ms an old generation may drain (30000)
//   HUPTIME_MAX_DRAINING   generations allowed to drain at once (2)
//   HUPTIME_CHECK     shell command run before each restart; unset: none
//   HUPTIME_READY     "listen" (default) | "notify": what makes a new
//                     generation ready (README: readiness)
//   HUPTIME_SYSTEMD_NOTIFY  systemd's NOTIFY_SOCKET, kept for huptime
//                     (systemd_notify.h); the program does not see it
//   HUPTIME_FDS       hand-off state between generations (lib/handoff.h);
//                     set by the launcher only for socket activation
//                     (LISTEN_FDS) and by `huptime --master`
#pragma once

#include <signal.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace huptime {

inline constexpr const char* kEnvMode = "HUPTIME_MODE";
inline constexpr const char* kEnvArgv = "HUPTIME_ARGV";
inline constexpr const char* kEnvCwd = "HUPTIME_CWD";
inline constexpr const char* kEnvSigMask = "HUPTIME_SIGMASK";
inline constexpr const char* kEnvSigIgn = "HUPTIME_SIGIGN";
inline constexpr const char* kEnvUnlink = "HUPTIME_UNLINK";
inline constexpr const char* kEnvLog = "HUPTIME_LOG";
inline constexpr const char* kEnvFds = "HUPTIME_FDS";
inline constexpr const char* kEnvSignal = "HUPTIME_SIGNAL";
inline constexpr const char* kEnvStopSignal = "HUPTIME_STOP_SIGNAL";
inline constexpr const char* kEnvStartTimeout = "HUPTIME_START_TIMEOUT";
inline constexpr const char* kEnvDrainTimeout = "HUPTIME_DRAIN_TIMEOUT";
inline constexpr const char* kEnvMaxDraining = "HUPTIME_MAX_DRAINING";
inline constexpr const char* kEnvCheck = "HUPTIME_CHECK";
inline constexpr const char* kEnvReady = "HUPTIME_READY";
inline constexpr const char* kEnvSystemdNotify = "HUPTIME_SYSTEMD_NOTIFY";
inline constexpr const char* kEnvPrefix = "HUPTIME_";

enum class Mode { kFork, kExec };

enum class LogLevel { kError = 0, kWarn, kInfo, kDebug, kTrace };

// What makes a new generation ready (README: readiness).
enum class ReadyRule { kListen, kNotify };

// Limits of the timeouts and counts, checked by the launcher and on decode.
inline constexpr int64_t kMaxTimeoutMs = int64_t{7} * 24 * 3600 * 1000;
inline constexpr int kMaxDrainingLimit = 64;

std::optional<Mode> parse_mode(std::string_view text);
const char* mode_name(Mode mode);
const char* log_level_name(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);
const char* ready_rule_name(ReadyRule rule);
std::optional<ReadyRule> parse_ready_rule(std::string_view text);

// A decimal integer, the whole text; nullopt otherwise.
std::optional<int64_t> parse_number(std::string_view text);
// "HUP", "SIGHUP", "hup", "1", "RTMIN+2" → signal number; nullopt for
// anything else, and for KILL and STOP (they cannot be caught).
std::optional<int> parse_signal(std::string_view text);
// "HUP" for SIGHUP, "RTMIN+2", or the number as text.
std::string signal_name(int sig);
// "30" (seconds), "1.5s", "250ms", "2m" → milliseconds, 0..kMaxTimeoutMs.
std::optional<int64_t> parse_duration_ms(std::string_view text);

// Signal sets as 64-bit masks, bit (n-1) for signal n (1..64).
uint64_t sigset_to_mask(const sigset_t& set);
sigset_t mask_to_sigset(uint64_t mask);
std::string mask_to_hex(uint64_t mask);
std::optional<uint64_t> hex_to_mask(std::string_view text);

// The launch description: everything needed to start the service again
// exactly as the user started it.
struct LaunchConfig {
  Mode mode = Mode::kFork;
  std::vector<std::string> argv;
  std::string cwd;
  uint64_t sigmask = 0;
  uint64_t sigign = 0;
  std::vector<std::string> unlink;
  LogLevel log_level = LogLevel::kInfo;
  int restart_signal = SIGHUP;
  int stop_signal = 0;  // 0: send none
  int64_t start_timeout_ms = 60'000;
  int64_t drain_timeout_ms = 30'000;
  int max_draining = 2;
  std::string check;  // shell command; empty: none
  ReadyRule ready = ReadyRule::kListen;
  std::string systemd_notify;  // systemd's NOTIFY_SOCKET; empty: none
};

// Encode as NAME=VALUE strings (without LD_PRELOAD and HUPTIME_FDS).
std::vector<std::string> encode_launch_env(const LaunchConfig& config);

// Decode from a getenv-like lookup. Returns nullopt with *error set when a
// variable is present but malformed, or when HUPTIME_ARGV is missing.
template <typename Getenv>
std::optional<LaunchConfig> decode_launch_env(Getenv getenv_fn,
                                              std::string* error);

}  // namespace huptime

#include "config_decode.inl"
