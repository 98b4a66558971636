// The launcher's command line (launcher/options.h): argv is outside input
// (scripts, unit files, other people's typos). The input cut at NUL bytes
// is the argument list. Errors are one line; what parses obeys the usage
// rules the header promises.
#include <span>

#include "fuzz_support.h"
#include "options.h"

using huptime::Action;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = huptime::fuzz::split_nul(data, size);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());

  huptime::ParseResult r =
      huptime::parse_options(std::span<const char* const>(argv), "/srv/app");
  if (!r.error.empty()) {
    FUZZ_CHECK(r.error.find('\n') == std::string::npos);
    return 0;
  }
  const huptime::Options& o = r.options;
  if (o.action == Action::kRun) FUZZ_CHECK(!o.command.empty());
  if (o.action == Action::kHelp || o.action == Action::kVersion) return 0;
  for (const std::string& path : o.unlink)
    FUZZ_CHECK(!path.empty() && path[0] == '/');
  const huptime::RunSettings& run = o.run;
  FUZZ_CHECK(run.start_timeout_ms >= 0 &&
             run.start_timeout_ms <= huptime::kMaxTimeoutMs);
  FUZZ_CHECK(run.drain_timeout_ms >= 0 &&
             run.drain_timeout_ms <= huptime::kMaxTimeoutMs);
  FUZZ_CHECK(run.max_draining >= 1 &&
             run.max_draining <= huptime::kMaxDrainingLimit);
  FUZZ_CHECK(run.restart_signal != run.stop_signal);
  if (huptime::is_control(o.action)) {
    int targets =
        (o.target.pid > 0) + !o.target.pidfile.empty() + !o.command.empty();
    FUZZ_CHECK(targets == 1);
    if (!o.target.pidfile.empty()) FUZZ_CHECK(o.target.pidfile[0] == '/');
    if (o.target.timeout_ms) FUZZ_CHECK(*o.target.timeout_ms >= 0);
  } else {
    FUZZ_CHECK(o.target.pid == 0 && o.target.pidfile.empty() &&
               !o.target.timeout_ms);
  }
  return 0;
}
