// What the service answers (the body file, plain or from a template), the
// extra requests of --setup-request and --side-request, and the result as
// JSON for --result-json.
#include <fmt/format.h>
#include <signal.h>
#include <stdio.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "child_process.h"
#include "client_request.h"
#include "scenario.h"

namespace huptime::test {
namespace {

using std::chrono::seconds;

constexpr auto kExtraRequestTimeout = seconds(10);

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  if (!file) throw TestFailure("cannot read " + path);
  return text.str();
}

// A JSON string literal: quotes, backslashes and control bytes escaped.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += fmt::format("\\{}", c);
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace

// index.html, or the template's name without ".in" (nginx.conf.in ->
// nginx.conf).
std::string Scenario::body_file_name() const {
  if (opts_.body_template.empty()) return "index.html";
  std::string name = std::filesystem::path(opts_.body_template).filename();
  if (name.ends_with(".in")) name.resize(name.size() - 3);
  return name;
}

std::string Scenario::body_text(int version) const {
  return fmt::format("version {} of {}\n", version, opts_.name);
}

// Written to a temporary file and renamed, so that a server starting at
// that moment reads either version whole.
void Scenario::write_body(int version) { write_body_text(body_text(version)); }

void Scenario::write_body_text(const std::string& text) {
  std::string content = text;
  if (!opts_.body_template.empty()) {
    ph_.text = content.substr(0, content.size() - 1);
    content = substitute(read_file(opts_.body_template), ph_);
  }
  std::string temp = ph_.body + ".tmp";
  {
    std::ofstream file(temp, std::ios::trunc);
    file << content;
    if (!file.flush()) throw TestFailure("writing " + temp + " failed");
  }
  if (rename(temp.c_str(), ph_.body.c_str()) != 0)
    throw TestFailure(fmt::format("rename {}: {}", temp, std::strerror(errno)));
}

// One request on a connection of its own to the first target; it must
// succeed. Nothing to do for an empty request.
void Scenario::send_extra_request(const std::string& request,
                                  const std::string& what) {
  if (request.empty()) return;
  RequestResult result =
      run_request(client_view(targets_.front()),
                  make_protocol_request(opts_.protocol, request),
                  kExtraRequestTimeout, opts_.protocol);
  if (result.outcome != Outcome::kOk)
    throw TestFailure(fmt::format("{} '{}' failed: {} ({})", what, request,
                                  outcome_name(result.outcome), result.error));
  fmt::print(stderr, "reload_test: {} '{}': {}", what, request, result.body);
}

// --program-signal: before restart N, the program's own reload (nginx's
// SIGHUP) must still work under huptime --signal=OTHER: a body that says
// so is written, the signal sent to the leader, and that body must be
// served (by the same leader: huptime did not restart it) before the
// restart proper.
void Scenario::program_reload(int number) {
  if (opts_.program_signal == 0) return;
  std::string body = fmt::format("version {} of {}, reloaded by the program\n",
                                 number, opts_.name);
  write_body_text(body);
  fmt::print(stderr,
             "reload_test: reload {}: signal {} to {} (the program's)\n",
             number, opts_.program_signal, leader_);
  if (kill(leader_, opts_.program_signal) != 0)
    throw TestFailure(fmt::format("reload {}: kill({}, {}): {}", number,
                                  leader_, opts_.program_signal,
                                  std::strerror(errno)));
  wait_successes(load_->snapshot().ok, 2 * static_cast<uint64_t>(opts_.clients),
                 body,
                 fmt::format("reload {}: the program's own reload", number));
  if (!pid_alive(leader_))
    throw TestFailure(
        fmt::format("reload {}: leader {} gone after the "
                    "program's own reload",
                    number, leader_));
}

std::string Scenario::result_json(const std::string& failure) const {
  LoadStats stats = stats_ ? *stats_ : load_ ? load_->snapshot() : LoadStats();
  std::string first_line = failure.substr(0, failure.find('\n'));
  return fmt::format(
      "{{\"name\": {}, \"title\": {}, \"mode\": {}, \"result\": {}, "
      "\"reloads\": {}, \"requests\": {}, \"failed\": {}, \"p99_ms\": {:.3f}, "
      "\"max_ms\": {:.3f}, \"failure\": {}}}",
      json_string(opts_.name), json_string(opts_.title),
      json_string(opts_.mode), json_string(failure.empty() ? "pass" : "fail"),
      reloads_done_, stats.requests, stats.failed,
      stats.latency.percentile_ms(99), stats.latency.max_ms(),
      json_string(first_line));
}

}  // namespace huptime::test
