#include "driver_options.h"

#include <fmt/format.h>

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <utility>

namespace huptime::test {
namespace {

[[noreturn]] void usage_error(std::string_view message) {
  fmt::print(stderr, "reload_test: {}\n", message);
  fmt::print(stderr,
             "usage: reload_test --huptime PATH [--mode fork|exec|master] "
             "[--copies N] "
             "[--reloads N] [--clients N] [--name NAME] [--pidfile-from-arg] "
             "[--versions] [--strict-monotonic] [--target-kind "
             "tcp|tcp6|unix|abstract[,...]] "
             "[--path /PATH] [--launcher-arg ARG]... [--expect-failure TEXT] "
             "[--protocol http|redis] [--body-template FILE] "
             "[--setup-request TEXT] [--side-request TEXT] "
             "[--result-json FILE] [--title TEXT] [--skip-if-missing] "
             "[--signal SIG] [--program-signal SIG] "
             "[--check-resources RSS_KB] [--ready-after REGEX] "
             "[--forbid-output REGEX] -- SERVER ARGS...\n");
  std::exit(2);
}

int parse_int(std::string_view option, std::string_view text, int min) {
  int value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value < min)
    usage_error(fmt::format("{}: bad number '{}'", option, text));
  return value;
}

int parse_signal(std::string_view option, std::string_view text) {
  if (text == "HUP") return SIGHUP;
  if (text == "USR1") return SIGUSR1;
  if (text == "USR2") return SIGUSR2;
  return parse_int(option, text, 1);
}

// A regular expression that std::regex accepts, as given.
std::string checked_regex(std::string_view option, std::string_view text) {
  try {
    std::regex check{std::string(text)};
  } catch (const std::regex_error& error) {
    usage_error(fmt::format("{}: bad regular expression '{}': {}", option, text,
                            error.what()));
  }
  return std::string(text);
}

std::vector<TargetKind> parse_targets(std::string_view text) {
  std::vector<TargetKind> kinds;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view kind = text.substr(0, comma);
    text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    if (kind == "tcp")
      kinds.push_back(TargetKind::kTcp);
    else if (kind == "tcp6")
      kinds.push_back(TargetKind::kTcp6);
    else if (kind == "unix")
      kinds.push_back(TargetKind::kUnix);
    else if (kind == "abstract")
      kinds.push_back(TargetKind::kAbstract);
    else
      usage_error(fmt::format("--target-kind: unknown kind '{}'", kind));
  }
  if (kinds.empty()) usage_error("--target-kind: empty");
  return kinds;
}

void apply_option(std::string_view arg, std::string_view value,
                  DriverOptions* opts) {
  if (arg == "--huptime")
    opts->huptime = std::string(value);
  else if (arg == "--mode")
    opts->mode = std::string(value);
  else if (arg == "--copies")
    opts->copies = parse_int(arg, value, 1);
  else if (arg == "--reloads")
    opts->reloads = parse_int(arg, value, 0);
  else if (arg == "--clients")
    opts->clients = parse_int(arg, value, 1);
  else if (arg == "--name")
    opts->name = std::string(value);
  else if (arg == "--target-kind")
    opts->targets = parse_targets(value);
  else if (arg == "--path")
    opts->path = std::string(value);
  else if (arg == "--launcher-arg")
    opts->launcher_args.emplace_back(value);
  else if (arg == "--expect-failure")
    opts->expect_failure = std::string(value);
  else if (arg == "--protocol") {
    if (!parse_protocol(value, &opts->protocol))
      usage_error(fmt::format("--protocol: unknown protocol '{}'", value));
  } else if (arg == "--body-template")
    opts->body_template = std::string(value);
  else if (arg == "--setup-request")
    opts->setup_request = std::string(value);
  else if (arg == "--side-request")
    opts->side_request = std::string(value);
  else if (arg == "--result-json")
    opts->result_json = std::string(value);
  else if (arg == "--title")
    opts->title = std::string(value);
  else if (arg == "--signal")
    opts->restart_signal = parse_signal(arg, value);
  else if (arg == "--program-signal")
    opts->program_signal = parse_signal(arg, value);
  else if (arg == "--ready-after")
    opts->ready_after = std::string(value);
  else if (arg == "--forbid-output")
    opts->forbid_output = checked_regex(arg, value);
  else if (arg == "--check-resources")
    opts->rss_tolerance_kb = parse_int(arg, value, 0);
  else
    usage_error(fmt::format("unknown option '{}'", arg));
}

}  // namespace

DriverOptions parse_driver_options(int argc, char** argv) {
  DriverOptions opts;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    std::string_view arg = argv[i];
    size_t equals = arg.find('=');
    if (arg == "--pidfile-from-arg")
      opts.pidfile_from_arg = true;
    else if (arg == "--versions")
      opts.versions = true;
    else if (arg == "--strict-monotonic")
      opts.strict_monotonic = true;
    else if (arg == "--skip-if-missing")
      opts.skip_if_missing = true;
    else if (equals != std::string_view::npos)  // --option=value
      apply_option(arg.substr(0, equals), arg.substr(equals + 1), &opts);
    else if (i + 1 < argc)
      apply_option(arg, argv[++i], &opts);
    else
      usage_error(fmt::format("{} needs a value", arg));
  }
  for (++i; i < argc; ++i) opts.server_argv.emplace_back(argv[i]);
  if (opts.huptime.empty()) usage_error("--huptime is required");
  if (opts.mode != "fork" && opts.mode != "exec" && opts.mode != "master")
    usage_error("--mode must be fork, exec or master");
  if (opts.copies > 1)
    opts.launcher_args.push_back("--multi=" + std::to_string(opts.copies));
  if (opts.server_argv.empty()) usage_error("no server command after --");
  if (opts.reloads > 1000) usage_error("--reloads: at most 1000");
  if (opts.clients > 256) usage_error("--clients: at most 256");
  return opts;
}

std::string substitute(std::string_view text, const Placeholders& values) {
  const std::pair<std::string_view, const std::string*> table[] = {
      {"{port}", &values.port}, {"{dir}", &values.dir},
      {"{body}", &values.body}, {"{pidfile}", &values.pidfile},
      {"{sock}", &values.sock}, {"{abstract}", &values.abstract},
      {"{name}", &values.name}, {"{text}", &values.text}};
  std::string out;
  while (!text.empty()) {
    bool replaced = false;
    for (const auto& [key, value] : table) {
      if (!text.starts_with(key)) continue;
      out += *value;
      text.remove_prefix(key.size());
      replaced = true;
      break;
    }
    if (replaced) continue;
    out += text.front();
    text.remove_prefix(1);
  }
  return out;
}

}  // namespace huptime::test
