// reload_test: runs one reload scenario against a server started under
// huptime (see scenario.h for the steps, driver_options.h for the command
// line). Prints the result line on stdout and exits 0 on pass, 1 on
// failure, 2 on a usage error (--expect-failure inverts pass and failure).
#include <fmt/format.h>

#include <cstdio>

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

}  // namespace

int main(int argc, char** argv) {
  DriverOptions opts = parse_driver_options(argc, argv);
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
