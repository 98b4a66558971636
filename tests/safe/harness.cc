#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "child_process.h"
#include "client_request.h"
#include "http.h"
#include "proc_scan.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kStartDeadline = seconds(20);
constexpr auto kProgressDeadline = seconds(20);
constexpr auto kStopDeadline = seconds(10);

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// Binds 127.0.0.1:0, reads the port the kernel chose, closes.
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw CheckFailure(errno_text("choosing a free port"));
  close(fd);
  return ntohs(addr.sin_port);
}

std::string replace_dir(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;)
    text.replace(at, 5, dir);
  return text;
}

std::string failure_samples(const LoadStats& stats) {
  std::string out =
      fmt::format("{} requests failed, {} stale, {} went backwards",
                  stats.failed, stats.stale, stats.backwards);
  for (const std::string& sample : stats.error_samples)
    out += "\n    failure: " + sample;
  for (const std::string& sample : stats.stale_samples)
    out += "\n    stale: " + sample;
  for (const std::string& sample : stats.backwards_samples)
    out += "\n    backwards: " + sample;
  return out;
}

// A failed request, a stale answer, or one that went backwards (README, "No
// going back": once the new version has answered, the old one never
// answers again).
bool violated(const LoadStats& stats) {
  return stats.failed > 0 || stats.stale > 0 || stats.backwards > 0;
}

}  // namespace

std::string describe_exit(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info,
             WEXITED | WNOHANG | WNOWAIT) != 0)
    return "unknown (already reaped)";
  if (info.si_pid == 0) return "still running";
  if (info.si_code == CLD_EXITED)
    return fmt::format("exited {}", info.si_status);
  return fmt::format(
      "killed by signal {} ({})", info.si_status,
      sigabbrev_np(info.si_status) ? sigabbrev_np(info.si_status) : "?");
}

// Lines at warn and error level carry "warning: " or "error: " after the
// prefix.
constexpr std::string_view kLevel = R"((?:[a-z]+: )?)";

std::regex ready_line() {
  return std::regex(
      fmt::format(R"(huptime\[(\d+)\]: {}ready \(generation (\d+))", kLevel));
}

std::regex draining_line(pid_t old_pid) {
  return std::regex(
      fmt::format(R"(huptime\[{}\]: {}new copy pid (\d+) is ready; draining)",
                  old_pid, kLevel));
}

std::regex failed_line() {
  return std::regex(fmt::format(
      R"(huptime\[(\d+)\]: {}new copy pid (\d+) failed(.*))", kLevel));
}

std::regex reexec_line(pid_t pid) {
  return std::regex(
      fmt::format(R"(huptime\[{}\]: {}re-executing)", pid, kLevel));
}

Harness::Harness(SafeOptions opts) : opts_(std::move(opts)) {
  prepare_dir();
  port_ = std::to_string(free_port());
  std::string error;
  auto spec = parse_sockspec("tcp:127.0.0.1:" + port_, &error);
  if (!spec) throw CheckFailure(error);
  target_ = *spec;
}

Harness::~Harness() { cleanup(); }

void Harness::prepare_dir() {
  const char* tmp = getenv("TMPDIR");
  std::string name = opts_.test_case + "-" + opts_.mode;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  std::string pattern = fmt::format("{}/huptime-safe-{}-XXXXXX",
                                    tmp && *tmp ? tmp : "/tmp", name);
  if (!mkdtemp(pattern.data())) throw CheckFailure(errno_text("mkdtemp"));
  dir_ = pattern;
}

std::string Harness::body_text(int version) const {
  return fmt::format("version {} of {}-{}\n", version, opts_.test_case,
                     opts_.mode);
}

void Harness::write_file(const std::string& path,
                         const std::string& text) const {
  std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::trunc);
    file << text;
    if (!file.flush()) throw CheckFailure("writing " + temp + " failed");
  }
  if (rename(temp.c_str(), path.c_str()) != 0)
    throw CheckFailure(errno_text("rename " + temp));
}

void Harness::write_body(int version) const {
  write_file(file("body"), body_text(version));
}

void Harness::write_startup(const std::string& text) const {
  write_file(file("startup"), text + "\n");
}

void Harness::start(const StartSpec& spec) {
  write_body(0);
  write_startup(spec.startup);
  std::vector<std::string> argv{opts_.huptime, "--" + opts_.mode};
  for (const std::string& arg : spec.launcher_args)
    argv.push_back(replace_dir(arg, dir_));
  argv.insert(argv.end(),
              {"--", spec.server.empty() ? opts_.server : spec.server,
               "--listen", target_.text, "--body-file", file("body"),
               "--startup-file", file("startup")});
  for (const std::string& arg : spec.server_args)
    argv.push_back(replace_dir(arg, dir_));
  fmt::print(stderr, "safe_test: starting:");
  for (const std::string& arg : argv) fmt::print(stderr, " {}", arg);
  fmt::print(stderr, "\n");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw CheckFailure(errno_text("pipe2"));
  log_ = std::make_unique<LogWatcher>(pipe_fds[0]);
  std::string error;
  pid_t pid = spawn_in_new_group(argv, pipe_fds[1], &error);
  close(pipe_fds[1]);
  if (pid < 0) throw CheckFailure(error);
  running_ = true;
  set_leader(pid);
  wait_first_answer();
  wait_log(ready_line(), 0, "the first 'ready (generation G' line",
           kStartDeadline);
  take_baseline();
}

void Harness::set_leader(pid_t pid) {
  check(service_.adopt_leader(pid), "leader {} is not running", pid);
  leader_ = pid;
}

// Retries (at most every 50 ms, sooner on new log lines) until a request
// gets version 0.
void Harness::wait_first_answer() {
  Deadline deadline(kStartDeadline);
  std::string request = make_request("/");
  for (;;) {
    size_t seen = log_->size();
    RequestResult result = run_request(target_, request, seconds(2));
    if (result.outcome == Outcome::kOk) {
      check(result.body == body_text(0), "first answer is '{}', not '{}'",
            escape_first_line(result.body), escape_first_line(body_text(0)));
      return;
    }
    check(pid_alive(leader_), "the service (pid {}) exited before serving",
          leader_);
    check(!deadline.expired(), "no answer within {} s of start; last: {} ({})",
          kStartDeadline.count(), outcome_name(result.outcome), result.error);
    log_->wait_new_line(seen, Deadline(milliseconds(50)));
  }
}

// Settled when three samples 50 ms apart agree (srv_prefork forks its
// workers after the first answer may already have come).
void Harness::take_baseline() {
  Deadline deadline(seconds(5));
  ServiceSnapshot last = service_.snapshot();
  for (int same = 0; same < 2 && !deadline.expired();) {
    poll(nullptr, 0, 50);
    ServiceSnapshot next = service_.snapshot();
    same = next.pids == last.pids ? same + 1 : 0;
    last = next;
  }
  check(!last.pids.empty(), "no service process found");
  baseline_ = last;
  fmt::print(stderr, "safe_test: baseline: {} processes, leader {}\n",
             last.pids.size(), leader_);
}

void Harness::expect_back_to_baseline(const std::string& when,
                                      Clock::duration within, bool same_pids) {
  Deadline deadline(within);
  ServiceSnapshot now;
  for (;;) {
    now = service_.snapshot();
    if (same_pids ? now.pids == baseline_.pids
                  : now.pids.size() == baseline_.pids.size())
      return;
    if (deadline.expired()) break;
    poll(nullptr, 0, 20);
  }
  throw CheckFailure(
      fmt::format("{}: the service has {} processes, the baseline {} ({}):\n{}",
                  when, now.pids.size(), baseline_.pids.size(),
                  fmt::join(baseline_.pids, ","), describe_snapshot(now)));
}

bool Harness::wait_all_gone(Clock::duration within) {
  Deadline deadline(within);
  while (!service_.snapshot().pids.empty()) {
    if (deadline.expired()) return false;
    poll(nullptr, 0, 20);
  }
  return true;
}

std::optional<LogMatch> Harness::find_log(const std::regex& pattern,
                                          size_t from) const {
  return log_->wait_for({pattern}, from, Deadline(Clock::duration::zero()));
}

LogMatch Harness::wait_log(const std::regex& pattern, size_t from,
                           const std::string& what,
                           Clock::duration within) const {
  auto found = log_->wait_for({pattern}, from, Deadline(within));
  check(found.has_value(), "{}: not logged within {:.1f} s", what,
        std::chrono::duration<double>(within).count());
  return *found;
}

CommandResult Harness::control(const std::vector<std::string>& args,
                               Clock::duration within) const {
  std::vector<std::string> argv{opts_.huptime};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_command(argv, Deadline(within));
  return result;
}

CommandResult Harness::restart(Clock::duration timeout) {
  long seconds_arg = std::chrono::ceil<std::chrono::seconds>(timeout).count();
  CommandResult result =
      control({"--restart", fmt::format("--timeout={}s", seconds_arg),
               fmt::format("--pid={}", leader_)},
              timeout + seconds(10));
  int number = ++restarts_;
  fmt::print(stderr, "safe_test: restart {}: {}\n", number, result.describe());
  note(fmt::format("restart{}=exit{}/{:.2f}s", number, result.exit_code,
                   result.seconds()));
  return result;
}

RestartOk Harness::expect_restart_ok(const CommandResult& result) {
  check(result.exit_code == 0, "restart should succeed: {}", result.describe());
  auto ok = parse_restart_ok(result.output);
  check(ok.has_value(),
        "restart succeeded without 'huptime: restarted: generation G is "
        "serving (pid P)': {}",
        result.describe());
  if (fork_mode()) {
    check(ok->pid != leader_,
          "fork mode: the new generation has the old pid "
          "{}",
          leader_);
    set_leader(ok->pid);
  } else {
    check(ok->pid == leader_, "exec mode: serving pid {} is not the leader {}",
          ok->pid, leader_);
  }
  return *ok;
}

std::string Harness::expect_restart_failed(const CommandResult& result,
                                           const std::string& reason) {
  check(result.exit_code == 1, "restart should fail with exit 1: {}",
        result.describe());
  static const std::regex failed(R"(huptime: restart failed: (.*))");
  std::smatch match;
  check(std::regex_search(result.output, match, failed),
        "no 'huptime: restart failed: REASON' line: {}", result.describe());
  std::string why = match[1];
  check(std::regex_search(why, std::regex(reason, std::regex::icase)),
        "the reason '{}' does not match /{}/", why, reason);
  return why;
}

Status Harness::status(pid_t pid) const {
  CommandResult result =
      control({"--status", fmt::format("--pid={}", pid > 0 ? pid : leader_)},
              seconds(10));
  check(result.exit_code == 0, "--status failed: {}", result.describe());
  std::string error;
  auto parsed = parse_status(result.output, &error);
  check(parsed.has_value(), "--status output: {}: '{}'", error, result.output);
  return *parsed;
}

void Harness::start_load() {
  LoadConfig config;
  config.targets = {target_};
  config.clients = opts_.clients;
  config.expect_monotonic = true;
  load_ = std::make_unique<LoadRun>(config);
  load_->start();
  wait_successes(2 * static_cast<uint64_t>(opts_.clients), 0,
                 "at the start of the load");
}

void Harness::wait_successes(uint64_t more, int version,
                             const std::string& when) {
  uint64_t ok_before = load_->snapshot().ok;
  std::string body = version >= 0 ? body_text(version) : "";
  auto bad = [](const LoadStats& s) { return violated(s); };
  auto done = [&](const LoadStats& s) {
    return s.ok >= ok_before + more &&
           (body.empty() || s.body_index(body) >= 0);
  };
  load_->wait_until([&](const LoadStats& s) { return bad(s) || done(s); },
                    Deadline(kProgressDeadline));
  LoadStats stats = load_->snapshot();
  check(!bad(stats), "{}: {}", when, failure_samples(stats));
  check(done(stats), "{}: {} of {} more successful requests{} within {} s",
        when, stats.ok - ok_before, more,
        body.empty() ? ""
                     : fmt::format(" and body '{}'", escape_first_line(body)),
        kProgressDeadline.count());
}

void Harness::mark_stale(int version, Clock::time_point since) {
  load_->mark_stale(body_text(version), since);
}

uint64_t Harness::version_count(const LoadStats& stats, int version) const {
  int index = stats.body_index(body_text(version));
  return index < 0 ? 0 : stats.bodies[static_cast<size_t>(index)].count;
}

LoadStats Harness::finish_load() {
  wait_successes(2 * static_cast<uint64_t>(opts_.clients), -1,
                 "at the end of the load");
  load_->stop();
  final_stats_ = load_->snapshot();
  fmt::print(stderr, "safe_test: load: {}", format_summary(*final_stats_));
  check(final_stats_->requests > 0, "no request was made");
  check(!violated(*final_stats_), "{}", failure_samples(*final_stats_));
  return *final_stats_;
}

// A generation that said "ready" must never be reported as having failed
// before it was ready: its parent would then serve again (and roll it back)
// after it had answered.
void Harness::check_log_consistency() const {
  const std::vector<std::regex> patterns{ready_line(), failed_line()};
  std::map<pid_t, std::string> ready;
  for (size_t from = 0;;) {
    auto found =
        log_->wait_for(patterns, from, Deadline(Clock::duration::zero()));
    if (!found) return;
    from = found->index + 1;
    if (found->pattern == 0) {
      ready[std::stoi(found->groups[1])] = found->line;
      continue;
    }
    auto it = ready.find(std::stoi(found->groups[2]));
    check(it == ready.end() ||
              found->line.find("before it was ready") == std::string::npos,
          "a ready generation was rolled back:\n    {}\n    {}", it->second,
          found->line);
  }
}

void Harness::stop_service() {
  check_log_consistency();
  service_.signal_all(SIGTERM);
  bool gone = wait_all_gone(kStopDeadline);
  ServiceSnapshot left = service_.snapshot();
  check(gone, "{} processes still running {} s after SIGTERM:\n{}",
        left.pids.size(), kStopDeadline.count(), describe_snapshot(left));
  running_ = false;
}

void Harness::note(const std::string& fact) {
  std::lock_guard lock(notes_mutex_);
  notes_.push_back(fact);
}

std::string Harness::result_line() const {
  std::lock_guard lock(notes_mutex_);
  LoadStats stats = final_stats_ ? *final_stats_
                    : load_      ? load_->snapshot()
                                 : LoadStats();
  return fmt::format(
      "safe_test: {} mode={} requests={} failed={} stale={} backwards={} "
      "p99_ms={:.1f} max_ms={:.1f} {}",
      opts_.test_case, opts_.mode, stats.requests, stats.failed, stats.stale,
      stats.backwards, stats.latency.percentile_ms(99), stats.latency.max_ms(),
      fmt::join(notes_, " "));
}

// Best effort, never throws.
void Harness::cleanup() {
  if (load_) load_->stop();
  if (running_) {
    service_.signal_all(SIGKILL);
    wait_all_gone(seconds(5));
    running_ = false;
  }
  if (log_) log_->stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    dir_.clear();
  }
}

}  // namespace huptime::test
