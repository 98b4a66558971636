#include "scenario.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "child_process.h"
#include "client_request.h"
#include "http.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kStartDeadline = seconds(20);
constexpr auto kProgressDeadline = seconds(30);
constexpr auto kIdleDeadline = seconds(10);
constexpr auto kStopDeadline = seconds(10);
constexpr uint64_t kFinalSuccesses = 200;

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// Binds 127.0.0.1:0 (or [::1]:0), reads the port the kernel chose, closes.
uint16_t free_port(bool ipv6) {
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage addr{};
  socklen_t len = ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw TestFailure(errno_text("choosing a free port"));
  close(fd);
  return ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
              : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::string sanitized(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 32))
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

std::string failure_samples(const LoadStats& stats) {
  std::string out = fmt::format(
      "{} requests failed, {} stale, {} went "
      "backwards",
      stats.failed, stats.stale, stats.backwards);
  for (const std::string& sample : stats.error_samples)
    out += "\n    failure: " + sample;
  for (const std::string& sample : stats.stale_samples)
    out += "\n    stale: " + sample;
  for (const std::string& sample : stats.backwards_samples)
    out += "\n    backwards: " + sample;
  return out;
}

}  // namespace

// The --ready-after regex with {pid} replaced.
std::string ready_after_pattern(const std::string& regex,
                                const std::string& pid) {
  std::string out = regex;
  for (size_t at; (at = out.find("{pid}")) != std::string::npos;)
    out.replace(at, 5, pid);
  return out;
}

Scenario::Scenario(DriverOptions opts)
    : opts_(std::move(opts)),
      service_(opts_.pidfile_from_arg ? GroupBy::kSession
                                      : GroupBy::kProcessGroup) {}

Scenario::~Scenario() { cleanup(); }

// A failure while requests were also failing reports both: the requests
// often say what went wrong (connections refused, reset...).
void Scenario::run() {
  try {
    run_steps();
  } catch (const TestFailure& failure) {
    LoadStats stats = load_ ? load_->snapshot() : LoadStats();
    std::string what = failure.what();
    if (stats.failed == 0 || what.find("requests failed") != std::string::npos)
      throw;
    throw TestFailure(what + "\n  meanwhile: " + failure_samples(stats));
  }
}

void Scenario::run_steps() {
  prepare_dir();
  choose_port_and_targets();
  write_body(0);
  start_service();
  wait_first_success();
  send_extra_request(opts_.setup_request, "the setup request");
  wait_initial_ready();
  take_baseline();
  start_load();
  wait_successes(0, 2 * static_cast<uint64_t>(opts_.clients), -1,
                 "before the first reload");
  for (int number = 1; number <= opts_.reloads; ++number) reload(number);
  finish_load();
  check_forbidden_output("at the end");
  check_back_to_baseline();
  stop_service();
}

void Scenario::prepare_dir() {
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      fmt::format("{}/huptime-{}-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                  sanitized(opts_.name));
  if (!mkdtemp(pattern.data())) throw TestFailure(errno_text("mkdtemp"));
  ph_.dir = pattern;
  ph_.body = ph_.dir + "/" + body_file_name();
  ph_.pidfile = ph_.dir + "/server.pid";
  ph_.sock = ph_.dir + "/s.sock";
  ph_.abstract =
      "huptime-test-" + std::filesystem::path(ph_.dir).filename().string();
  ph_.name = opts_.name;
}

void Scenario::choose_port_and_targets() {
  bool only_tcp6 = std::find(opts_.targets.begin(), opts_.targets.end(),
                             TargetKind::kTcp) == opts_.targets.end() &&
                   std::find(opts_.targets.begin(), opts_.targets.end(),
                             TargetKind::kTcp6) != opts_.targets.end();
  ph_.port = std::to_string(free_port(only_tcp6));
  for (TargetKind kind : opts_.targets) {
    std::string text;
    switch (kind) {
      case TargetKind::kTcp:
        text = "tcp:127.0.0.1:" + ph_.port;
        break;
      case TargetKind::kTcp6:
        text = "tcp6:[::1]:" + ph_.port;
        break;
      case TargetKind::kUnix:
        text = "unix:" + ph_.sock;
        break;
      case TargetKind::kAbstract:
        text = "abstract:" + ph_.abstract;
        break;
    }
    std::string error;
    auto spec = parse_sockspec(text, &error);
    if (!spec) throw TestFailure(fmt::format("target {}: {}", text, error));
    targets_.push_back(*spec);
  }
}

void Scenario::start_service() {
  std::vector<std::string> argv{opts_.huptime, "--" + opts_.mode};
  for (const std::string& arg : opts_.launcher_args)
    argv.push_back(substitute(arg, ph_));
  argv.push_back("--");
  for (const std::string& arg : opts_.server_argv)
    argv.push_back(substitute(arg, ph_));
  fmt::print(stderr, "reload_test: starting:");
  for (const std::string& arg : argv) fmt::print(stderr, " {}", arg);
  fmt::print(stderr, "\n");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw TestFailure(errno_text("pipe2"));
  std::optional<std::regex> keep;
  if (!opts_.ready_after.empty())
    keep = std::regex(ready_after_pattern(opts_.ready_after, R"(\d+)"));
  std::optional<std::regex> forbidden;
  if (!opts_.forbid_output.empty()) forbidden = std::regex(opts_.forbid_output);
  log_ = std::make_unique<LogWatcher>(pipe_fds[0], std::move(keep),
                                      std::move(forbidden));
  std::string error;
  pid_t pid = spawn_in_new_group(argv, pipe_fds[1], &error);
  close(pipe_fds[1]);
  if (pid < 0) throw TestFailure(error);
  stopped_ = false;
  leader_ = pid;
  service_.adopt_leader(pid);
}

// Retries (at most every 50 ms, sooner on new log lines) until one request
// to each target succeeds.
void Scenario::wait_first_success() {
  Deadline deadline(kStartDeadline);
  std::string request = make_protocol_request(opts_.protocol, opts_.path);
  for (const SockSpec& target : targets_) {
    for (;;) {
      size_t seen = log_->size();
      RequestResult result = run_request(
          client_view(target), request,
          std::min<Clock::duration>(deadline.remaining(), seconds(2)),
          opts_.protocol);
      if (result.outcome == Outcome::kOk) break;
      if (!opts_.pidfile_from_arg && !pid_alive(leader_))
        throw TestFailure(
            fmt::format("the service (pid {}) exited before "
                        "serving {}",
                        leader_, target.text));
      if (deadline.expired())
        throw TestFailure(fmt::format(
            "no successful request to {} within {} s of start; last: {} ({})",
            target.text, kStartDeadline.count(), outcome_name(result.outcome),
            result.error));
      log_->wait_new_line(seen, Deadline(milliseconds(50)));
    }
  }
  if (opts_.pidfile_from_arg) {
    leader_ = leader_from_pidfile(-1, "the first generation");
    service_.adopt_leader(leader_);
  }
}

void Scenario::take_baseline() {
  // Settled when the samples, 50 ms apart, agree for 1 s (a prefork master
  // may still be forking workers just after the first success: gunicorn's
  // second worker, forked but not yet booted, was once counted with 4 fds
  // and 1 thread fewer than it has once it serves, on a machine at load
  // 10, and the run then failed its final check).
  Deadline deadline(seconds(10));
  ServiceSnapshot last = service_.snapshot();
  for (int same = 0; same < 20 && !deadline.expired();) {
    poll(nullptr, 0, 50);
    ServiceSnapshot next = service_.snapshot();
    bool equal = next.pids == last.pids && next.fd_total == last.fd_total &&
                 next.thread_total == last.thread_total;
    same = equal ? same + 1 : 0;
    last = next;
  }
  if (last.pids.empty()) throw TestFailure("no service process found");
  baseline_ = last;
  fmt::print(stderr,
             "reload_test: baseline: {} processes, {} fds, {} threads, {} kB "
             "RSS\n{}",
             last.pids.size(), last.fd_total, last.thread_total,
             last.rss_kb_total, describe_snapshot(last));
}

void Scenario::start_load() {
  LoadConfig config;
  config.targets = targets_;
  config.clients = opts_.clients;
  config.path = opts_.path;
  config.protocol = opts_.protocol;
  config.expect_monotonic = opts_.versions;
  load_ = std::make_unique<LoadRun>(config);
  load_->start();
}

// Waits for `more` successes beyond `ok_before` (and, when version >= 0,
// for that version's body); fails at once on a failed request or a version
// that went backwards.
void Scenario::wait_successes(uint64_t ok_before, uint64_t more, int version,
                              const std::string& when) {
  wait_successes(ok_before, more, version >= 0 ? body_text(version) : "", when);
}

// The same with the body text itself (empty: any body).
void Scenario::wait_successes(uint64_t ok_before, uint64_t more,
                              const std::string& body,
                              const std::string& when) {
  auto done = [&](const LoadStats& s) {
    return s.ok >= ok_before + more &&
           (body.empty() || s.body_index(body) >= 0);
  };
  load_->wait_until([&](const LoadStats& s) { return violated(s) || done(s); },
                    Deadline(kProgressDeadline));
  LoadStats stats = load_->snapshot();
  if (violated(stats))
    throw TestFailure(fmt::format("{}: {}", when, failure_samples(stats)));
  if (!done(stats))
    throw TestFailure(fmt::format(
        "{}: {} of {} more successful requests{} within {} s", when,
        stats.ok - ok_before, more,
        body.empty() ? ""
                     : fmt::format(" and body '{}'", escape_first_line(body)),
        kProgressDeadline.count()));
}

bool Scenario::violated(const LoadStats& stats) const {
  return stats.failed > 0 || stats.stale > 0 ||
         (opts_.strict_monotonic && stats.backwards > 0);
}

// From now on, a request that gets `version` (an older one) is stale.
void Scenario::mark_stale(int version) {
  if (opts_.versions) load_->mark_stale(body_text(version), Clock::now());
}

void Scenario::finish_load() {
  wait_successes(load_->snapshot().ok, kFinalSuccesses, -1,
                 "after the last reload");
  load_->stop();
  stats_ = load_->snapshot();
  fmt::print(stderr, "reload_test: load: {}", format_summary(*stats_));
  if (opts_.versions)
    fmt::print(stderr, "reload_test: versions: {} stale, {} backwards{}\n",
               stats_->stale, stats_->backwards,
               opts_.strict_monotonic ? "" : " (backwards: not fatal)");
  if (stats_->requests == 0) throw TestFailure("no request was made");
  if (violated(*stats_)) throw TestFailure(failure_samples(*stats_));
}

// Polls /proc every 50 ms, up to 10 s, until the service is back to its
// baseline number of processes and open fds (and, with --check-resources,
// threads and RSS).
void Scenario::check_back_to_baseline() {
  Deadline deadline(kIdleDeadline);
  for (;;) {
    final_ = service_.snapshot();
    bool resources_ok =
        opts_.rss_tolerance_kb < 0 ||
        (final_->thread_total == baseline_->thread_total &&
         std::labs(final_->rss_kb_total - baseline_->rss_kb_total) <=
             opts_.rss_tolerance_kb);
    if (final_->pids.size() == baseline_->pids.size() &&
        final_->fd_total == baseline_->fd_total && resources_ok) {
      check_no_zombies("after the load stopped");
      return;
    }
    if (deadline.expired()) break;
    poll(nullptr, 0, 50);
  }
  throw TestFailure(fmt::format(
      "not back to the baseline {} s after the load stopped: {} processes "
      "with {} fds, {} threads, {} kB RSS; baseline {} processes with {} "
      "fds, {} threads, {} kB RSS (RSS tolerance {} kB)\n  now:\n{}",
      kIdleDeadline.count(), final_->pids.size(), final_->fd_total,
      final_->thread_total, final_->rss_kb_total, baseline_->pids.size(),
      baseline_->fd_total, baseline_->thread_total, baseline_->rss_kb_total,
      opts_.rss_tolerance_kb, describe_snapshot(*final_)));
}

// Polls /proc every 50 ms, up to 10 s, until no process of the service is
// a zombie (its parent has not reaped it). Old workers exit as they finish
// draining, and their parent reaps them at once: one that stays a zombie
// is a process the service lost track of.
void Scenario::check_no_zombies(const std::string& when) {
  Deadline deadline(kIdleDeadline);
  std::vector<ProcStat> zombies = service_.zombies();
  while (!zombies.empty() && !deadline.expired()) {
    poll(nullptr, 0, 50);
    zombies = service_.zombies();
  }
  if (zombies.empty()) return;
  std::string list;
  for (const ProcStat& z : zombies)
    list += fmt::format("\n    zombie pid {}, parent {} ({})", z.pid, z.ppid,
                        describe_cmdline(z.ppid));
  throw TestFailure(
      fmt::format("{}: {} zombie{} of the service still there "
                  "{} s later:{}",
                  when, zombies.size(), zombies.size() == 1 ? "" : "s",
                  kIdleDeadline.count(), list));
}

void Scenario::stop_service() {
  service_.signal_all(SIGTERM);
  Deadline deadline(kStopDeadline);
  while (!service_.snapshot().pids.empty() && !deadline.expired())
    poll(nullptr, 0, 50);
  ServiceSnapshot left = service_.snapshot();
  if (left.pids.empty()) {
    stopped_ = true;
    return;
  }
  throw TestFailure(fmt::format(
      "{} processes still running {} s after "
      "SIGTERM:\n{}",
      left.pids.size(), kStopDeadline.count(), describe_snapshot(left)));
}

// Best effort, never throws: stop the load, SIGKILL what is left of the
// service, stop the log reader, remove the directory.
void Scenario::cleanup() {
  if (load_) load_->stop();
  if (!stopped_) {
    // A daemon that re-executed and daemonized again after the last reload
    // the test followed lives in a session not adopted yet: the pid file
    // names it (without this, a failed nginx-daemon-exec left nginx running).
    if (opts_.pidfile_from_arg) adopt_pidfile_leader();
    service_.signal_all(SIGKILL);
    Deadline deadline(seconds(5));
    while (!service_.snapshot().pids.empty() && !deadline.expired())
      poll(nullptr, 0, 50);
    stopped_ = true;
  }
  if (log_) log_->stop();
  if (!ph_.dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(ph_.dir, ignored);
    ph_.dir.clear();
  }
}

std::string Scenario::result_line() const {
  LoadStats stats = stats_ ? *stats_ : load_ ? load_->snapshot() : LoadStats();
  return fmt::format(
      "reload_test: {} mode={} reloads={} requests={} failed={} p99_ms={:.3f} "
      "max_ms={:.3f} fds_before={} fds_after={} procs_before={} procs_after={} "
      "threads_before={} threads_after={} rss_kb_before={} rss_kb_after={}",
      opts_.name, opts_.mode, reloads_done_, stats.requests, stats.failed,
      stats.latency.percentile_ms(99), stats.latency.max_ms(),
      baseline_ ? baseline_->fd_total : -1, final_ ? final_->fd_total : -1,
      baseline_ ? static_cast<long>(baseline_->pids.size()) : -1,
      final_ ? static_cast<long>(final_->pids.size()) : -1,
      baseline_ ? baseline_->thread_total : -1,
      final_ ? final_->thread_total : -1,
      baseline_ ? baseline_->rss_kb_total : -1,
      final_ ? final_->rss_kb_total : -1);
}

}  // namespace huptime::test
