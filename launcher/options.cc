#include "options.h"

#include "paths.h"

namespace huptime {
namespace {

constexpr const char* kLevelChoices = "error, warn, info, debug or trace";

enum class OptionId {
  kFork,
  kExec,
  kUnlink,
  kDebug,
  kLogLevel,
  kHelp,
  kVersion
};

struct OptionSpec {
  std::string_view name;  // without the leading "--"
  OptionId id;
  bool takes_value;
};

constexpr OptionSpec kOptionTable[] = {
    {"fork", OptionId::kFork, false},
    {"exec", OptionId::kExec, false},
    {"unlink", OptionId::kUnlink, true},
    {"debug", OptionId::kDebug, false},
    {"log-level", OptionId::kLogLevel, true},
    {"help", OptionId::kHelp, false},
    {"version", OptionId::kVersion, false},
};

const OptionSpec* find_option(std::string_view name) {
  for (const OptionSpec& spec : kOptionTable)
    if (spec.name == name) return &spec;
  return nullptr;
}

// State carried across the arguments while parsing.
struct Parser {
  std::span<const char* const> args;
  std::string_view cwd;
  size_t next = 0;
  bool saw_fork = false;
  bool saw_exec = false;
  ParseResult result;

  bool fail(std::string message) {
    result.error = std::move(message);
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

  // Applies one option. Returns false on error or when parsing should stop
  // early (--help, --version).
  bool apply(const OptionSpec& spec, std::string_view value) {
    Options& options = result.options;
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
          return fail("invalid log level '" + std::string(value) +
                      "' (expected " + kLevelChoices + ")");
        return true;
      case OptionId::kHelp:
        options.action = Action::kHelp;
        return false;
      case OptionId::kVersion:
        options.action = Action::kVersion;
        return false;
    }
    return true;
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
    if (saw_fork && saw_exec) {
      fail("--fork and --exec cannot be used together");
      return;
    }
    for (size_t i = next; i < args.size(); ++i)
      result.options.command.emplace_back(args[i]);
    if (result.options.command.empty()) fail("missing COMMAND");
  }
};

}  // namespace

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
    *error = std::string("invalid ") + kEnvLog + "='" + env_value +
             "' in the environment (expected " + kLevelChoices + ")";
  return level;
}

}  // namespace huptime
