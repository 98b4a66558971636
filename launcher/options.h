// Command-line parsing for the launcher: argv in, a description out.
//
// Pure: no I/O, no environment, no exit(). main.cc turns an error into the
// "huptime: ...\nTry 'huptime --help'." message and exit status 2.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace huptime {

enum class Action { kRun, kHelp, kVersion };

struct Options {
  Action action = Action::kRun;
  Mode mode = Mode::kFork;
  // Files removed before a new copy starts; absolute and normalized.
  std::vector<std::string> unlink;
  // Set by --debug or --log-level; empty means "not given on the command line".
  std::optional<LogLevel> log_level;
  // COMMAND and its ARGS exactly as typed; never empty when action == kRun.
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
// Relative --unlink paths are resolved lexically against `cwd` (absolute).
// --help and --version take effect as soon as they are seen.
ParseResult parse_options(std::span<const char* const> args,
                          std::string_view cwd);

// The log level to hand to the library: the command line's if given, else
// the HUPTIME_LOG the user already had (`env_value`, may be null), else info.
// Returns nullopt with *error set when `env_value` is not a valid level.
std::optional<LogLevel> effective_log_level(
    std::optional<LogLevel> from_options, const char* env_value,
    std::string* error);

}  // namespace huptime
