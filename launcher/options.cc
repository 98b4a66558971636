#include "options.h"

#include <climits>

#include "paths.h"

namespace huptime {
namespace {

constexpr const char* kLevelChoices = "error, warn, info, debug or trace";
constexpr const char* kDurationForms =
    "expected e.g. 30, 1.5s, 250ms or 2m, at most 7 days";

enum class OptionId {
  kFork,
  kExec,
  kUnlink,
  kDebug,
  kLogLevel,
  kSignal,
  kStopSignal,
  kStartTimeout,
  kDrainTimeout,
  kMaxDraining,
  kCheck,
  kReady,
  kMaster,
  kRevive,
  kReviveLimit,
  kMulti,
  kIntercept,
  kRestart,
  kStatus,
  kStop,
  kPid,
  kPidfile,
  kTimeout,
  kHelp,
  kVersion
};

// Where an option may appear: when starting COMMAND, as a control command
// itself, only with a control command, or anywhere.
enum class Scope { kRun, kCommand, kControl, kAny };

struct OptionSpec {
  std::string_view name;  // without the leading "--"
  OptionId id;
  bool takes_value;
  Scope scope;
};

constexpr OptionSpec kOptionTable[] = {
    {"fork", OptionId::kFork, false, Scope::kRun},
    {"exec", OptionId::kExec, false, Scope::kRun},
    {"unlink", OptionId::kUnlink, true, Scope::kRun},
    {"debug", OptionId::kDebug, false, Scope::kRun},
    {"log-level", OptionId::kLogLevel, true, Scope::kRun},
    {"signal", OptionId::kSignal, true, Scope::kRun},
    {"stop-signal", OptionId::kStopSignal, true, Scope::kRun},
    {"start-timeout", OptionId::kStartTimeout, true, Scope::kRun},
    {"drain-timeout", OptionId::kDrainTimeout, true, Scope::kRun},
    {"max-draining", OptionId::kMaxDraining, true, Scope::kRun},
    {"check", OptionId::kCheck, true, Scope::kRun},
    {"ready", OptionId::kReady, true, Scope::kRun},
    {"master", OptionId::kMaster, false, Scope::kRun},
    {"revive", OptionId::kRevive, false, Scope::kRun},
    {"revive-limit", OptionId::kReviveLimit, true, Scope::kRun},
    {"multi", OptionId::kMulti, true, Scope::kRun},
    {"intercept", OptionId::kIntercept, true, Scope::kRun},
    {"restart", OptionId::kRestart, false, Scope::kCommand},
    {"status", OptionId::kStatus, false, Scope::kCommand},
    {"stop", OptionId::kStop, false, Scope::kCommand},
    {"pid", OptionId::kPid, true, Scope::kControl},
    {"pidfile", OptionId::kPidfile, true, Scope::kControl},
    {"timeout", OptionId::kTimeout, true, Scope::kControl},
    {"help", OptionId::kHelp, false, Scope::kAny},
    {"version", OptionId::kVersion, false, Scope::kAny},
};

const OptionSpec* find_option(std::string_view name) {
  for (const OptionSpec& spec : kOptionTable)
    if (spec.name == name) return &spec;
  return nullptr;
}

std::string quoted(std::string_view value) {
  return "'" + std::string(value) + "'";
}

// Error messages are one line (options.h), but they quote what the user
// typed, which may hold a newline or a terminal escape: control bytes are
// shown as \xNN (found by tests/fuzz/fuzz_options).
std::string one_line(const std::string& message) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : message) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

// State carried across the arguments while parsing.
struct Parser {
  std::span<const char* const> args;
  std::string_view cwd;
  size_t next = 0;
  bool saw_fork = false;
  bool saw_exec = false;
  Action control = Action::kRun;        // the first control command seen
  Action other_control = Action::kRun;  // a different one seen after it
  std::string_view first_run_option;    // first run-only option seen
  std::string_view first_control_option;
  ParseResult result;

  bool fail(const std::string& message) {
    result.error = one_line(message);
    return false;
  }

  // Fetches the value of a value-taking option, from "=value" or from the
  // next argument. Returns false (with the error set) when there is none.
  bool take_value(std::string_view name,
                  const std::optional<std::string_view>& inline_value,
                  std::string_view* value) {
    if (inline_value) {
      *value = *inline_value;
    } else if (next < args.size()) {
      *value = args[next++];
    } else {
      return fail("option '--" + std::string(name) + "' requires an argument");
    }
    if (value->empty())
      return fail("option '--" + std::string(name) +
                  "' requires a non-empty argument");
    return true;
  }

  bool set_signal(std::string_view name, std::string_view value, int* out) {
    std::optional<int> sig = parse_signal(value);
    if (!sig)
      return fail("invalid signal " + quoted(value) + " for --" +
                  std::string(name));
    *out = *sig;
    return true;
  }

  // A duration; zero only when `zero_ok` (--drain-timeout=0: close the
  // remaining connections at once).
  bool set_duration(std::string_view name, std::string_view value, bool zero_ok,
                    int64_t* out) {
    std::optional<int64_t> ms = parse_duration_ms(value);
    if (!ms)
      return fail("invalid duration " + quoted(value) + " for --" +
                  std::string(name) + " (" + kDurationForms + ")");
    if (*ms == 0 && !zero_ok)
      return fail("--" + std::string(name) + " must be more than 0");
    *out = *ms;
    return true;
  }

  bool set_max_draining(std::string_view value) {
    std::optional<int64_t> n = parse_number(value);
    if (!n || *n < 1 || *n > kMaxDrainingLimit || value[0] == '+')
      return fail("invalid value " + quoted(value) +
                  " for --max-draining (expected 1 to " +
                  std::to_string(kMaxDrainingLimit) + ")");
    result.options.run.max_draining = static_cast<int>(*n);
    return true;
  }

  // A count for --revive-limit (0 allowed: revive without limit) or
  // --multi.
  bool set_count(std::string_view name, std::string_view value, int min,
                 int max, int* out) {
    std::optional<int64_t> n = parse_number(value);
    if (!n || *n < min || *n > max || value[0] == '+')
      return fail("invalid value " + quoted(value) + " for --" +
                  std::string(name) + " (expected " + std::to_string(min) +
                  " to " + std::to_string(max) + ")");
    *out = static_cast<int>(*n);
    return true;
  }

  bool set_ready(std::string_view value) {
    std::optional<ReadyRule> rule = parse_ready_rule(value);
    if (!rule)
      return fail("invalid value " + quoted(value) +
                  " for --ready (expected listen or notify)");
    result.options.run.ready = *rule;
    return true;
  }

  bool set_intercept(std::string_view value) {
    RunSettings& run = result.options.run;
    if (value == "auto") {
      run.intercept = Intercept::kAuto;
    } else if (value == "preload") {
      run.intercept = Intercept::kPreload;
    } else if (value == "seccomp") {
      run.intercept = Intercept::kSeccomp;
      run.master = true;
    } else {
      return fail("invalid value " + quoted(value) +
                  " for --intercept (expected auto, preload or seccomp)");
    }
    return true;
  }

  bool set_pid(std::string_view value) {
    std::optional<int64_t> n = parse_number(value);
    if (!n || *n < 1 || *n > INT_MAX || value[0] == '+')
      return fail("invalid pid " + quoted(value) + " for --pid");
    result.options.target.pid = static_cast<pid_t>(*n);
    return true;
  }

  void set_control(Action action) {
    if (control == Action::kRun)
      control = action;
    else if (action != control && other_control == Action::kRun)
      other_control = action;
  }

  // The options that only configure the library (all of kRun scope).
  bool apply_run_setting(OptionId id, std::string_view value) {
    RunSettings& run = result.options.run;
    switch (id) {
      case OptionId::kSignal:
        return set_signal("signal", value, &run.restart_signal);
      case OptionId::kStopSignal:
        return set_signal("stop-signal", value, &run.stop_signal);
      case OptionId::kStartTimeout:
        return set_duration("start-timeout", value, false,
                            &run.start_timeout_ms);
      case OptionId::kDrainTimeout:
        return set_duration("drain-timeout", value, true,
                            &run.drain_timeout_ms);
      case OptionId::kMaxDraining:
        return set_max_draining(value);
      case OptionId::kCheck:
        run.check = std::string(value);
        return true;
      case OptionId::kReady:
        return set_ready(value);
      case OptionId::kMaster:
        run.master = true;
        return true;
      case OptionId::kRevive:
        run.master = run.revive = true;
        return true;
      case OptionId::kReviveLimit:
        run.master = run.revive = true;
        return set_count("revive-limit", value, 0, 1'000'000,
                         &run.revive_limit);
      case OptionId::kMulti:
        run.master = true;
        return set_count("multi", value, 1, kMaxCopies, &run.copies);
      case OptionId::kIntercept:
        return set_intercept(value);
      default:
        return true;
    }
  }

  // Applies one option. Returns false on error or when parsing should stop
  // early (--help, --version).
  bool apply(const OptionSpec& spec, std::string_view value) {
    Options& options = result.options;
    if (spec.scope == Scope::kRun && first_run_option.empty())
      first_run_option = spec.name;
    if (spec.scope == Scope::kControl && first_control_option.empty())
      first_control_option = spec.name;
    switch (spec.id) {
      case OptionId::kFork:
        saw_fork = true;
        options.mode = Mode::kFork;
        return true;
      case OptionId::kExec:
        saw_exec = true;
        options.mode = Mode::kExec;
        return true;
      case OptionId::kUnlink:
        options.unlink.push_back(absolute_path(cwd, value));
        return true;
      case OptionId::kDebug:
        options.log_level = LogLevel::kDebug;
        return true;
      case OptionId::kLogLevel:
        options.log_level = parse_log_level(value);
        if (!options.log_level)
          return fail("invalid log level " + quoted(value) + " (expected " +
                      kLevelChoices + ")");
        return true;
      case OptionId::kRestart:
        set_control(Action::kRestart);
        return true;
      case OptionId::kStatus:
        set_control(Action::kStatus);
        return true;
      case OptionId::kStop:
        set_control(Action::kStop);
        return true;
      case OptionId::kPid:
        return set_pid(value);
      case OptionId::kPidfile:
        options.target.pidfile =
            cwd.empty() ? std::string(value) : absolute_path(cwd, value);
        return true;
      case OptionId::kTimeout:
        options.target.timeout_ms.emplace();
        return set_duration("timeout", value, false,
                            &*options.target.timeout_ms);
      case OptionId::kHelp:
        options.action = Action::kHelp;
        return false;
      case OptionId::kVersion:
        options.action = Action::kVersion;
        return false;
      default:
        return apply_run_setting(spec.id, value);
    }
  }

  // Handles the argument at args[next - 1], known to start with "-".
  bool parse_one(std::string_view arg) {
    if (arg == "-h") return apply(*find_option("help"), {});
    if (!arg.starts_with("--"))
      return fail("unrecognized option '" + std::string(arg) + "'");
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = find_option(name);
    if (!spec) return fail("unrecognized option '--" + std::string(name) + "'");
    std::string_view value;
    if (spec->takes_value) {
      if (!take_value(name, inline_value, &value)) return false;
    } else if (inline_value) {
      return fail("option '--" + std::string(name) +
                  "' doesn't allow an argument");
    }
    return apply(*spec, value);
  }

  // The rules for starting COMMAND.
  void check_run() {
    const RunSettings& run = result.options.run;
    if (!first_control_option.empty()) {
      fail("option '--" + std::string(first_control_option) +
           "' requires --restart, --status or --stop");
    } else if (saw_fork && saw_exec) {
      fail("--fork and --exec cannot be used together");
    } else if (run.master && saw_exec) {
      fail(
          "--master (and --revive, --multi, --intercept=seccomp) cannot be "
          "used with --exec: the master keeps one PID and runs generations "
          "side by side");
    } else if (run.stop_signal != 0 && saw_exec) {
      fail(
          "--stop-signal needs --fork: in exec mode the old and the new "
          "version are one process, which the signal would stop");
    } else if (run.stop_signal != 0 && run.stop_signal == run.restart_signal) {
      fail("--stop-signal must differ from --signal (both are " +
           signal_name(run.restart_signal) + ")");
    } else if (result.options.command.empty()) {
      fail("missing COMMAND");
    }
  }

  // The rules for --restart, --status and --stop: one command, one target.
  void check_control() {
    Options& options = result.options;
    std::string flag(action_flag(control));
    if (other_control != Action::kRun) {
      fail(flag + " and " + std::string(action_flag(other_control)) +
           " cannot be used together");
      return;
    }
    if (!first_run_option.empty()) {
      fail("option '--" + std::string(first_run_option) +
           "' cannot be used with " + flag);
      return;
    }
    if (control == Action::kStatus && options.target.timeout_ms) {
      fail("option '--timeout' cannot be used with --status");
      return;
    }
    std::vector<std::string_view> given;
    if (options.target.pid != 0) given.push_back("--pid");
    if (!options.target.pidfile.empty()) given.push_back("--pidfile");
    if (!options.command.empty()) given.push_back("COMMAND");
    if (given.empty())
      fail(flag +
           " requires the service: --pid=PID, --pidfile=FILE or "
           "COMMAND");
    else if (given.size() > 1)
      fail(std::string(given[0]) + " and " + std::string(given[1]) +
           " cannot be used together");
    else
      options.action = control;
  }

  // Walks the options, then collects COMMAND and ARGS.
  void run() {
    while (next < args.size()) {
      std::string_view arg = args[next];
      if (arg == "--") {
        ++next;
        break;
      }
      if (arg.size() < 2 || arg.front() != '-') break;
      ++next;
      if (!parse_one(arg)) return;
    }
    for (size_t i = next; i < args.size(); ++i)
      result.options.command.emplace_back(args[i]);
    if (control == Action::kRun)
      check_run();
    else
      check_control();
  }
};

}  // namespace

bool is_control(Action action) {
  return action == Action::kRestart || action == Action::kStatus ||
         action == Action::kStop;
}

std::string_view action_flag(Action action) {
  switch (action) {
    case Action::kRestart:
      return "--restart";
    case Action::kStatus:
      return "--status";
    case Action::kStop:
      return "--stop";
    default:
      return "";
  }
}

ParseResult parse_options(std::span<const char* const> args,
                          std::string_view cwd) {
  Parser parser;
  parser.args = args;
  parser.cwd = cwd;
  parser.run();
  return std::move(parser.result);
}

std::optional<LogLevel> effective_log_level(
    std::optional<LogLevel> from_options, const char* env_value,
    std::string* error) {
  if (from_options) return from_options;
  if (!env_value) return LogLevel::kInfo;
  std::optional<LogLevel> level = parse_log_level(env_value);
  if (!level && error)
    *error = one_line(std::string("invalid ") + kEnvLog + "='" + env_value +
                      "' in the environment (expected " + kLevelChoices + ")");
  return level;
}

}  // namespace huptime
