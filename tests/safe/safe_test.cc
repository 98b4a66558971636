// safe_test: one safe-reload case (issue 3) against a helper server under
// huptime. See cases.h for the cases, harness.h for the service set-up.
//
//   safe_test --huptime PATH --server SRV_THREADED --prefork SRV_PREFORK
//             --case NAME [--mode fork|exec] [--clients N]
//
// Prints a result line and PASS or FAIL on stdout; exits 0 on pass, 1 on
// failure, 2 on a usage error or a case that does not apply to the mode.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cases.h"
#include "child_process.h"
#include "harness.h"
#include "service.h"

using namespace huptime::test;

namespace {

// Well above a passing run (under 30 s; the chaos cases' hundreds of
// kills: under 120 s); meson's timeout is above this.
constexpr unsigned kOverallTimeoutSeconds = 80;
constexpr unsigned kChaosTimeoutSeconds = 280;

struct CaseEntry {
  std::string_view name;
  bool fork, exec;
  void (*run)(Harness&);
  bool master = false;  // also runs with --mode master
};

// exit1, crash and hang are fork mode only: exec mode cannot roll back
// once it has re-executed.
constexpr CaseEntry kCases[] = {
    {"exit1", true, false, case_exit1},
    {"crash", true, false, case_crash},
    {"hang", true, false, case_hang},
    {"check", true, true, case_check},
    {"warmup", true, true, case_warmup},
    {"keepalive", true, true, case_keepalive},
    {"storm", true, true, case_storm},
    {"status", true, true, case_status},
    {"stop", true, true, case_stop},
    {"stop-signal", true, false, case_stop_signal},
    {"max-draining", true, false, case_max_draining},
    {"stop-kill", true, true, case_stop_kill},
    {"not-executable", true, true, case_not_executable},
    {"signal", true, true, case_signal},
    {"notify", true, true, case_notify},
    {"notify-never", true, false, case_notify_never},
    {"chaos", true, false, case_chaos},
    {"chaos-supervised", false, true, case_chaos_supervised, true},
};

[[noreturn]] void usage_error(std::string_view message) {
  fmt::print(stderr, "safe_test: {}\n", message);
  fmt::print(stderr,
             "usage: safe_test --huptime PATH --server PATH --prefork PATH "
             "--case NAME [--mode fork|exec|master] [--clients N]\ncases:");
  for (const CaseEntry& entry : kCases) fmt::print(stderr, " {}", entry.name);
  fmt::print(stderr, "\n");
  std::exit(2);
}

SafeOptions parse_options(int argc, char** argv) {
  SafeOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    size_t equals = arg.find('=');
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error(fmt::format("{} needs a value", arg));
    }
    if (arg == "--huptime")
      opts.huptime = value;
    else if (arg == "--server")
      opts.server = value;
    else if (arg == "--prefork")
      opts.prefork = value;
    else if (arg == "--case")
      opts.test_case = value;
    else if (arg == "--mode")
      opts.mode = value;
    else if (arg == "--clients") {
      auto [end, ec] = std::from_chars(
          value.data(), value.data() + value.size(), opts.clients);
      if (ec != std::errc() || end != value.data() + value.size() ||
          opts.clients < 1 || opts.clients > 64)
        usage_error("--clients: 1..64");
    } else {
      usage_error(fmt::format("unknown option '{}'", arg));
    }
  }
  if (opts.huptime.empty() || opts.server.empty() || opts.prefork.empty())
    usage_error("--huptime, --server and --prefork are required");
  if (opts.mode != "fork" && opts.mode != "exec" && opts.mode != "master")
    usage_error("--mode must be fork, exec or master");
  return opts;
}

const CaseEntry& find_case(const SafeOptions& opts) {
  for (const CaseEntry& entry : kCases) {
    if (entry.name != opts.test_case) continue;
    bool applies = opts.mode == "fork"   ? entry.fork
                   : opts.mode == "exec" ? entry.exec
                                         : entry.master;
    if (!applies)
      usage_error(fmt::format("case {} does not apply to {} mode", entry.name,
                              opts.mode));
    return entry;
  }
  usage_error(fmt::format("unknown case '{}'", opts.test_case));
}

}  // namespace

int main(int argc, char** argv) {
  SafeOptions opts = parse_options(argc, argv);
  const CaseEntry& entry = find_case(opts);
  install_emergency_exit(entry.name.starts_with("chaos")
                             ? kChaosTimeoutSeconds
                             : kOverallTimeoutSeconds);
  if (!become_subreaper()) {
    fmt::print(stderr, "safe_test: prctl(PR_SET_CHILD_SUBREAPER) failed\n");
    return 1;
  }
  std::string failure, result;
  try {
    Harness harness(opts);
    try {
      entry.run(harness);
    } catch (const std::exception& error) {
      failure = error.what();
    }
    result = harness.result_line();
  } catch (const std::exception& error) {
    failure = error.what();
  }
  fmt::print("{}\n", result);
  std::string name = fmt::format("{}-{}", opts.test_case, opts.mode);
  if (failure.empty()) {
    fmt::print("safe_test: {}: PASS\n", name);
    return 0;
  }
  fmt::print("safe_test: {}: FAIL: {}\n", name, failure);
  return 1;
}
