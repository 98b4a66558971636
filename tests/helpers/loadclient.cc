// loadclient: closed-loop HTTP load against one or more targets.
//
//   loadclient --target SPEC [--target SPEC...] --clients N
//              [--duration SECONDS | --requests N] [--delay-between-ms N]
//              [--path PATH] [--timeout-ms N] [--expect-monotonic]
//
// Without --duration or --requests it runs until SIGINT or SIGTERM, and at
// most 600 s. Prints the summary line and one line per distinct body on
// stdout (see load_stats.h), failure and version samples on stderr. Exits 0
// when every request succeeded (and, with --expect-monotonic, no version
// went backwards); 1 when a request failed, a version went backwards or no
// request was made; 2 on a usage error.
#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "load.h"

using namespace huptime::test;

namespace {

[[noreturn]] void usage_error(std::string_view message) {
  fmt::print(stderr, "loadclient: {}\n", message);
  fmt::print(stderr,
             "usage: loadclient --target SPEC [--target SPEC...] --clients N "
             "[--duration SECONDS | --requests N] [--delay-between-ms N] "
             "[--path PATH] [--timeout-ms N] [--expect-monotonic]\n");
  std::exit(2);
}

template <typename Number>
Number parse_number(std::string_view option, std::string_view text) {
  Number value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value < 0)
    usage_error(fmt::format("{}: bad number '{}'", option, text));
  return value;
}

void apply_option(std::string_view arg, std::string_view value,
                  LoadConfig* config) {
  if (arg == "--target") {
    std::string error;
    auto spec = parse_sockspec(value, &error);
    if (!spec) usage_error(fmt::format("--target {}: {}", value, error));
    config->targets.push_back(*spec);
  } else if (arg == "--clients") {
    config->clients = parse_number<int>(arg, value);
  } else if (arg == "--duration") {
    double seconds = parse_number<double>(arg, value);
    if (seconds > 600) usage_error("--duration: at most 600 seconds");
    config->duration = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(seconds));
  } else if (arg == "--requests") {
    config->max_requests = parse_number<uint64_t>(arg, value);
  } else if (arg == "--delay-between-ms") {
    config->delay_between =
        std::chrono::milliseconds(parse_number<int>(arg, value));
  } else if (arg == "--path") {
    config->path = std::string(value);
  } else if (arg == "--timeout-ms") {
    config->request_timeout =
        std::chrono::milliseconds(parse_number<int>(arg, value));
  } else {
    usage_error(fmt::format("unknown option '{}'", arg));
  }
}

LoadConfig parse_args(int argc, char** argv) {
  LoadConfig config;
  config.clients = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--expect-monotonic") {
      config.expect_monotonic = true;
      continue;
    }
    if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", arg));
    apply_option(arg, argv[++i], &config);
  }
  if (config.targets.empty()) usage_error("--target is required");
  if (config.clients <= 0) usage_error("--clients N (N >= 1) is required");
  if (config.request_timeout.count() <= 0)
    usage_error("--timeout-ms must be > 0");
  return config;
}

// A signalfd for SIGINT and SIGTERM, which are blocked from here on (and so
// in every client thread).
int stop_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int fd = signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) {
    fmt::print(stderr, "loadclient: signalfd: {}\n", std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// Waits until the run finishes on its own or a stop signal arrives; never
// longer than the run's own bound plus one request timeout.
void wait_for_end(const LoadRun& run, const LoadConfig& config, int signal_fd) {
  Deadline deadline(std::min(config.duration, kMaxDuration) +
                    config.request_timeout + std::chrono::seconds(1));
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {run.done_fd(), POLLIN, 0}};
  while (!deadline.expired()) {
    int ready = poll(fds, 2, deadline.poll_ms());
    if (ready > 0 || (ready < 0 && errno != EINTR)) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  LoadConfig config = parse_args(argc, argv);
  int signal_fd = stop_signal_fd();
  LoadRun run(config);
  run.start();
  wait_for_end(run, config, signal_fd);
  run.stop();
  LoadStats stats = run.snapshot();
  fmt::print("{}", format_summary(stats));
  std::fflush(stdout);
  for (const std::string& sample : stats.error_samples)
    fmt::print(stderr, "loadclient: failure: {}\n", sample);
  for (const std::string& sample : stats.backwards_samples)
    fmt::print(stderr, "loadclient: backwards: {}\n", sample);
  if (stats.requests == 0) fmt::print(stderr, "loadclient: no request made\n");
  bool passed = stats.failed == 0 && stats.requests > 0 && stats.backwards == 0;
  return passed ? 0 : 1;
}
