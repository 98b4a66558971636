// Command-line parsing for the launcher: argv in, a description out.
//
// Pure: no I/O, no environment, no exit(). main.cc turns an error into the
// "huptime: ...\nTry 'huptime --help'." message and exit status 2.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace huptime {

// kRun starts COMMAND; kRestart, kStatus and kStop are the control
// commands (control.h), which act on a service already running.
enum class Action { kRun, kHelp, kVersion, kRestart, kStatus, kStop };

// True for kRestart, kStatus and kStop.
bool is_control(Action action);

// "--restart", "--status" or "--stop"; "" for the other actions.
std::string_view action_flag(Action action);

// How huptime sees the program's sockets: the preloaded library (dynamic
// programs that call libc), or seccomp user notification from the master
// (static and Go programs, which make raw system calls). kAuto picks
// seccomp for those under --master (launcher/intercept.h).
enum class Intercept { kAuto, kPreload, kSeccomp };

// What the library is told about restarts (lib/config.h LaunchConfig);
// only with Action::kRun.
struct RunSettings {
  int restart_signal = SIGHUP;
  int stop_signal = 0;  // 0: none
  int64_t start_timeout_ms = 60'000;
  int64_t drain_timeout_ms = 30'000;
  int max_draining = 2;
  std::string check;  // empty: none
  ReadyRule ready = ReadyRule::kListen;
  // --master: huptime stays resident as the service's parent (master.h).
  // --revive and --multi imply it.
  bool master = false;
  bool revive = false;
  int revive_limit = 10;                   // revivals in a row; 0: no limit
  int copies = 1;                          // --multi
  Intercept intercept = Intercept::kAuto;  // --intercept=seccomp implies
                                           // --master
};

inline constexpr int kMaxCopies = 64;

// Which service a control command acts on: exactly one of the three is set
// once parsing succeeded (COMMAND is Options::command).
struct ControlTarget {
  pid_t pid = 0;        // --pid; 0 when not given
  std::string pidfile;  // --pidfile, absolute and normalized; or empty
  std::optional<int64_t> timeout_ms;  // --timeout
};

struct Options {
  Action action = Action::kRun;
  Mode mode = Mode::kFork;
  // Files removed before a new copy starts; absolute and normalized.
  std::vector<std::string> unlink;
  // Set by --debug or --log-level; empty means "not given on the command line".
  std::optional<LogLevel> log_level;
  RunSettings run;
  ControlTarget target;
  // COMMAND and its ARGS exactly as typed; never empty when action == kRun.
  // With a control command: the service's command line, or empty when
  // --pid or --pidfile names it.
  std::vector<std::string> command;
};

struct ParseResult {
  Options options;
  // Empty on success; otherwise one line (no "huptime:" prefix, no newline).
  std::string error;
};

// Parses the launcher's own options from `args` (argv without argv[0]).
// Parsing stops at "--" or at the first argument that is not an option (a
// lone "-" counts as a non-option), so COMMAND's own options are never looked
// at. Options that take a value accept "--opt=value" and "--opt value".
// Relative --unlink and --pidfile paths are resolved lexically against `cwd`
// (absolute; when empty, they are kept as given).
// --help and --version take effect as soon as they are seen.
// The usage rules checked here: --fork xor --exec; --stop-signal differs
// from --signal; at most one control command, with exactly one target
// (--pid, --pidfile or COMMAND) and none of the run options; --pid,
// --pidfile and --timeout only with a control command (--timeout not with
// --status).
ParseResult parse_options(std::span<const char* const> args,
                          std::string_view cwd);

// The log level to hand to the library: the command line's if given, else
// the HUPTIME_LOG the user already had (`env_value`, may be null), else info.
// Returns nullopt with *error set when `env_value` is not a valid level.
std::optional<LogLevel> effective_log_level(
    std::optional<LogLevel> from_options, const char* env_value,
    std::string* error);

}  // namespace huptime
