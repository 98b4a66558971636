#include "driver_options.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace huptime::test {
namespace {

[[noreturn]] void usage_error(std::string_view message) {
  fmt::print(stderr, "reload_test: {}\n", message);
  fmt::print(stderr,
             "usage: reload_test --huptime PATH [--mode fork|exec] "
             "[--reloads N] [--clients N] [--name NAME] [--pidfile-from-arg] "
             "[--versions] [--strict-monotonic] [--target-kind "
             "tcp|tcp6|unix|abstract[,...]] "
             "[--path /PATH] [--launcher-arg ARG]... [--expect-failure TEXT] "
             "[--check-resources RSS_KB] -- SERVER ARGS...\n");
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
    else if (equals != std::string_view::npos)  // --option=value
      apply_option(arg.substr(0, equals), arg.substr(equals + 1), &opts);
    else if (i + 1 < argc)
      apply_option(arg, argv[++i], &opts);
    else
      usage_error(fmt::format("{} needs a value", arg));
  }
  for (++i; i < argc; ++i) opts.server_argv.emplace_back(argv[i]);
  if (opts.huptime.empty()) usage_error("--huptime is required");
  if (opts.mode != "fork" && opts.mode != "exec")
    usage_error("--mode must be fork or exec");
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
      {"{name}", &values.name}};
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
