// Command line of reload_test, and the placeholders of the server command.
//
//   reload_test --huptime PATH [--mode fork|exec] [--reloads N] [--clients N]
//               [--name NAME] [--pidfile-from-arg] [--versions]
//               [--strict-monotonic] [--expect-failure TEXT]
//               [--target-kind tcp|tcp6|unix|abstract[,KIND...]]
//               [--path /PATH] [--launcher-arg ARG]... [--protocol http|redis]
//               [--body-template FILE] [--setup-request TEXT]
//               [--side-request TEXT] [--result-json FILE] [--title TEXT]
//               [--skip-if-missing] [--signal SIG] [--program-signal SIG]
//               [--check-resources RSS_KB] [--ready-after REGEX]
//               [--forbid-output REGEX] -- SERVER ARGS...
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
// --protocol redis speaks RESP instead of HTTP (tests/helpers/protocol.h):
// --path is then the redis command each client sends, e.g. "CONFIG GET
// masteruser". --setup-request TEXT is sent once, after the first success
// (redis: "DEBUG POPULATE 100000"); --side-request TEXT just before each
// restart signal (redis: "BGSAVE SCHEDULE", so that a bgsave child is alive
// during the restart); both must succeed.
//
// --body-template FILE: the body file is FILE's text with the placeholders
// below (and {text}, "version N of NAME" without newline) replaced, named
// after FILE without a trailing ".in", in {dir}; {body} names it. A server's
// configuration (nginx.conf) or code (a WSGI app) can so carry the version,
// which then proves that the new copy really read the new file.
//
// --signal SIG is the restart signal the driver sends (HUP, USR1, USR2 or a
// number; default HUP): pair it with --launcher-arg=--signal=SIG.
// --program-signal SIG: before each restart, SIG goes to the leader for the
// program's own reload (nginx: HUP); a body saying so is written first and
// must be served by the same leader before the restart proper.
//
// --result-json FILE writes the result (name, title, mode, reloads,
// requests, failed, latencies, pass/fail/skip) as one JSON object, for
// tests/compat/table.py. --skip-if-missing exits 77 (meson: skipped) when
// the server command's argv[0] is not an executable file or not in PATH.
//
// --expect-failure TEXT inverts the verdict for the driver's own tests: the
// run passes only if the scenario fails with a message containing TEXT.
//
// --forbid-output REGEX fails the run when a line of the service's own
// output matches (nginx: its [alert] and [emerg] lines), checked after each
// reload and at the end.
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
//   {text}     "version N of NAME" (only in --body-template files)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol.h"

namespace huptime::test {

enum class TargetKind { kTcp, kTcp6, kUnix, kAbstract };

struct DriverOptions {
  std::string huptime;        // the launcher
  std::string mode = "fork";  // fork, exec or master
  int copies = 1;             // master mode: --multi copies to expect
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
  Protocol protocol = Protocol::kHttp;
  std::string body_template;  // a file; empty: the plain body text
  std::string setup_request;
  std::string side_request;
  std::string result_json;
  std::string title;
  bool skip_if_missing = false;
  int restart_signal = 1;  // SIGHUP
  int program_signal = 0;  // none
  // --ready-after REGEX: each restart's new generation must print a line
  // matching it ({pid}: the pid that reports ready) before it is ready.
  std::string ready_after;
  std::string forbid_output;  // --forbid-output REGEX; empty: none
};

// Parses the command line; prints usage and exits 2 on error.
DriverOptions parse_driver_options(int argc, char** argv);

struct Placeholders {
  std::string port, dir, body, pidfile, sock, abstract, name, text;
};

// Replaces every {placeholder} in `text`; unknown ones are left as they are.
std::string substitute(std::string_view text, const Placeholders& values);

}  // namespace huptime::test
