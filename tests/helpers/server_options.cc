#include "server_options.h"

#include <errno.h>
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace huptime::test {
namespace {

[[noreturn]] void usage_error(std::string_view message) {
  fmt::print(stderr, "{}: {}\n", program_invocation_short_name, message);
  fmt::print(
      stderr,
      "usage: {} --listen SPEC [--listen SPEC...] [--unlink-first] "
      "[--cloexec] [--nonblock] [--delay-ms N] [--body-file F] "
      "[--pidfile F] [--startup-file F] [--usr1-file F] [--crash-after N] "
      "[--workers N] "
      "[--keep-stderr] [--close-all-fds] "
      "[--threaded] [--linger-parent-ms N]\n",
      program_invocation_short_name);
  std::exit(2);
}

int parse_count(std::string_view option, std::string_view text, int min) {
  int value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value < min)
    usage_error(fmt::format("{}: bad number '{}'", option, text));
  return value;
}

// Handles an option that takes no value; false when `arg` is not one.
bool parse_flag(std::string_view arg, unsigned extras, ServerOptions* opts) {
  bool daemon = extras & kExtraDaemon;
  if (arg == "--unlink-first")
    opts->unlink_first = true;
  else if (arg == "--cloexec")
    opts->cloexec = true;
  else if (arg == "--nonblock")
    opts->nonblock = true;
  else if (daemon && arg == "--keep-stderr")
    opts->keep_stderr = true;
  else if (daemon && arg == "--close-all-fds")
    opts->close_all_fds = true;
  else if (daemon && arg == "--threaded")
    opts->threaded = true;
  else
    return false;
  return true;
}

// Handles an option that takes a value; false when `arg` is not one.
bool parse_valued(std::string_view arg, std::string_view value, unsigned extras,
                  ServerOptions* opts) {
  if (arg == "--listen") {
    std::string error;
    auto spec = parse_sockspec(value, &error);
    if (!spec) usage_error(fmt::format("--listen {}: {}", value, error));
    opts->listen.push_back(*spec);
  } else if (arg == "--delay-ms") {
    opts->delay_ms = parse_count(arg, value, 0);
  } else if (arg == "--body-file") {
    opts->body_file = std::string(value);
  } else if (arg == "--pidfile") {
    opts->pidfile = std::string(value);
  } else if (arg == "--startup-file") {
    opts->startup_file = std::string(value);
  } else if (arg == "--usr1-file") {
    opts->usr1_file = std::string(value);
  } else if (arg == "--crash-after") {
    opts->crash_after = parse_count(arg, value, 1);
  } else if ((extras & kExtraDaemon) && arg == "--linger-parent-ms") {
    opts->linger_parent_ms = parse_count(arg, value, 0);
  } else if ((extras & kExtraWorkers) && arg == "--workers") {
    opts->workers = parse_count(arg, value, 1);
  } else {
    return false;
  }
  return true;
}

}  // namespace

ServerOptions parse_server_options(int argc, char** argv, unsigned extras) {
  ServerOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (parse_flag(arg, extras, &opts)) continue;
    if (i + 1 < argc && parse_valued(arg, argv[i + 1], extras, &opts)) {
      ++i;
      continue;
    }
    usage_error(fmt::format("unknown option or missing value: '{}'", arg));
  }
  if (opts.listen.empty()) usage_error("at least one --listen is required");
  return opts;
}

}  // namespace huptime::test
