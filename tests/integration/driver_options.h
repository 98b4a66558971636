// Command line of reload_test, and the placeholders of the server command.
//
//   reload_test --huptime PATH [--mode fork|exec] [--reloads N] [--clients N]
//               [--name NAME] [--pidfile-from-arg] [--versions]
//               [--strict-monotonic] [--expect-failure TEXT]
//               [--target-kind tcp|tcp6|unix|abstract[,KIND...]]
//               [--path /PATH] [--launcher-arg ARG]...
//               [--check-resources RSS_KB] -- SERVER ARGS...
//
// Valued options may also be written --option=VALUE.
//
// --versions writes "version N of NAME" to {body} before reload N and checks
// that every version is served after its reload and that no older version
// is served to a request started after the library said the old generation
// stopped accepting ("stale": fork mode, the old leader's "draining" line;
// exec mode, the new "ready" line). The stricter client-side check (no older
// version once a newer one has answered, see load_stats.h) is always
// reported and fails the test only with --strict-monotonic: while the old
// copy has not yet seen the new one's readiness, both legitimately accept.
//
// --expect-failure TEXT inverts the verdict for the driver's own tests: the
// run passes only if the scenario fails with a message containing TEXT.
//
// --check-resources RSS_KB (soak tests) also requires the service's threads
// back to the baseline count and its total RSS within RSS_KB of the
// baseline's; both are always reported in the result line.
//
// Placeholders in SERVER ARGS and --launcher-arg values:
//   {port}     a TCP port the kernel chose (bound on loopback, then closed)
//   {dir}      the scenario's own temporary directory (mkdtemp)
//   {body}     {dir}/index.html, the body file (written before start)
//   {pidfile}  {dir}/server.pid
//   {sock}     {dir}/s.sock
//   {abstract} a unique abstract socket name (without the leading NUL)
//   {name}     --name
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace huptime::test {

enum class TargetKind { kTcp, kTcp6, kUnix, kAbstract };

struct DriverOptions {
  std::string huptime;  // the launcher
  std::string mode = "fork";
  int reloads = 20;
  int clients = 8;
  std::string name = "reload";
  bool pidfile_from_arg = false;
  bool versions = false;
  bool strict_monotonic = false;
  std::string expect_failure;  // self-tests: pass iff failing with this text
  std::vector<TargetKind> targets{TargetKind::kTcp};
  std::string path = "/";
  std::vector<std::string> launcher_args;
  int rss_tolerance_kb = -1;  // --check-resources; -1: not checked
  std::vector<std::string> server_argv;
};

// Parses the command line; prints usage and exits 2 on error.
DriverOptions parse_driver_options(int argc, char** argv);

struct Placeholders {
  std::string port, dir, body, pidfile, sock, abstract, name;
};

// Replaces every {placeholder} in `text`; unknown ones are left as they are.
std::string substitute(std::string_view text, const Placeholders& values);

}  // namespace huptime::test
