// reload_test: runs one reload scenario against a server started under
// huptime (see scenario.h for the steps, driver_options.h for the command
// line). Prints the result line on stdout and exits 0 on pass, 1 on
// failure, 2 on a usage error (--expect-failure inverts pass and failure).
#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "child_process.h"
#include "driver_options.h"
#include "scenario.h"
#include "service.h"

using namespace huptime::test;

namespace {

// Far beyond a passing run; a bound for a driver run by hand.
constexpr unsigned kOverallTimeoutSeconds = 900;

// --expect-failure: the driver's own tests run it against a faulty stand-in
// for huptime and pass only when it fails for the expected reason.
int judge_expected_failure(const DriverOptions& opts,
                           const std::string& failure) {
  if (!failure.empty() &&
      failure.find(opts.expect_failure) != std::string::npos) {
    fmt::print("reload_test: {}: PASS (failed as expected: {})\n", opts.name,
               failure.substr(0, failure.find('\n')));
    return 0;
  }
  fmt::print(
      "reload_test: {}: FAIL: expected a failure containing '{}', got "
      "{}\n",
      opts.name, opts.expect_failure,
      failure.empty() ? "a pass" : "'" + failure + "'");
  return 1;
}

// --skip-if-missing: is the server command there (as execvp would find
// it)?
bool command_found(const std::string& command) {
  if (command.find('/') != std::string::npos)
    return access(command.c_str(), X_OK) == 0;
  const char* path = getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
    if (access(((dir.empty() ? "." : dir) + "/" + command).c_str(), X_OK) == 0)
      return true;
  }
  return false;
}

void write_result_json(const DriverOptions& opts, const std::string& json) {
  if (opts.result_json.empty()) return;
  std::ofstream file(opts.result_json, std::ios::trunc);
  file << json << "\n";
  if (!file.flush())
    fmt::print(stderr, "reload_test: cannot write {}\n", opts.result_json);
}

}  // namespace

int main(int argc, char** argv) {
  DriverOptions opts = parse_driver_options(argc, argv);
  if (opts.skip_if_missing && !command_found(opts.server_argv.front())) {
    fmt::print("reload_test: {}: SKIP: {} not found\n", opts.name,
               opts.server_argv.front());
    write_result_json(
        opts,
        fmt::format(
            "{{\"name\": \"{}\", \"mode\": \"{}\", \"result\": \"skip\"}}",
            opts.name, opts.mode));
    return 77;
  }
  install_emergency_exit(kOverallTimeoutSeconds);
  if (!become_subreaper()) {
    fmt::print(stderr, "reload_test: prctl(PR_SET_CHILD_SUBREAPER) failed\n");
    return 1;
  }
  std::string failure;
  std::string result;
  {
    Scenario scenario(opts);
    try {
      scenario.run();
    } catch (const TestFailure& error) {
      failure = error.what();
    }
    result = scenario.result_line();
    write_result_json(opts, scenario.result_json(failure));
  }
  fmt::print("{}\n", result);
  if (!opts.expect_failure.empty())
    return judge_expected_failure(opts, failure);
  if (failure.empty()) {
    fmt::print("reload_test: {}: PASS\n", opts.name);
    return 0;
  }
  fmt::print("reload_test: {}: FAIL: {}\n", opts.name, failure);
  return 1;
}
