// tracer: closed-loop HTTP load like the load client (tests/helpers/load.h),
// but keeping every request: when it started and ended, how it ended and
// which body it got. The restart benchmark (bench/benchlib/restart.py)
// needs the individual requests to tell those inside a restart window from
// the others and to find the longest stretch without an answer, which the
// load client's histogram cannot give.
//
//   tracer --target SPEC --clients N --duration SECONDS --out FILE
//          [--path /PATH] [--timeout-ms N]
//
// FILE gets one line per request, "START_NS END_NS OUTCOME BODY", with
// times on CLOCK_MONOTONIC (python's time.monotonic_ns() reads the same
// clock), OUTCOME a name from client_request.h and BODY the index of the
// distinct body (-1 for a failure), then one line "# body INDEX TEXT" per
// distinct body (its first line, escaped). Runs for the duration, or until
// SIGINT/SIGTERM; every request is bounded by its timeout. Exit status 0,
// or 2 on a usage error: judging is the caller's business.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_request.h"
#include "http.h"
#include "load_stats.h"
#include "sockspec.h"

using namespace huptime::test;

namespace {

struct Options {
  SockSpec target;
  int clients = 8;
  double duration_s = 5;
  std::string out;
  std::string path = "/";
  int timeout_ms = 10'000;
};

struct Record {
  int64_t start_ns;
  int64_t end_ns;
  Outcome outcome;
  int body;
};

[[noreturn]] void usage(const std::string& message) {
  fmt::print(stderr,
             "tracer: {}\nusage: tracer --target SPEC --clients N --duration "
             "SECONDS --out FILE [--path /PATH] [--timeout-ms N]\n",
             message);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) usage(arg + " needs a value");
    std::string value = argv[++i];
    if (arg == "--target") {
      std::string error;
      auto spec = parse_sockspec(value, &error);
      if (!spec) usage("--target: " + error);
      o.target = client_view(*spec);
      have_target = true;
    } else if (arg == "--clients") {
      o.clients = std::atoi(value.c_str());
    } else if (arg == "--duration") {
      o.duration_s = std::atof(value.c_str());
    } else if (arg == "--out") {
      o.out = value;
    } else if (arg == "--path") {
      o.path = value;
    } else if (arg == "--timeout-ms") {
      o.timeout_ms = std::atoi(value.c_str());
    } else {
      usage("unknown option " + arg);
    }
  }
  if (!have_target || o.out.empty()) usage("--target and --out are required");
  if (o.clients < 1 || o.duration_s <= 0 || o.duration_s > 600 ||
      o.timeout_ms < 1)
    usage("--clients >= 1, 0 < --duration <= 600, --timeout-ms >= 1");
  return o;
}

int64_t ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

// The distinct bodies, shared by the client threads (taken only on a
// success, which is cheap next to a connection).
class Bodies {
 public:
  int index_of(const std::string& body) {
    std::string key = escape_first_line(body);
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] == key) return static_cast<int>(i);
    keys_.push_back(key);
    return static_cast<int>(keys_.size() - 1);
  }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  std::mutex mutex_;
  std::vector<std::string> keys_;
};

void client(const Options& o, const std::string& request,
            const std::atomic<bool>& stop, Clock::time_point end,
            Bodies* bodies, std::vector<Record>* out) {
  out->reserve(200'000);
  auto timeout = std::chrono::milliseconds(o.timeout_ms);
  while (!stop.load(std::memory_order_relaxed) && Clock::now() < end) {
    RequestResult r = run_request(o.target, request, timeout);
    int body = r.outcome == Outcome::kOk ? bodies->index_of(r.body) : -1;
    out->push_back({ns(r.start), ns(r.end), r.outcome, body});
  }
}

// Blocks SIGINT and SIGTERM (in every thread started later) and returns a
// signalfd for them.
int stop_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

void write_trace(const Options& o, const std::vector<std::vector<Record>>& all,
                 const Bodies& bodies) {
  FILE* f = std::fopen(o.out.c_str(), "w");
  if (f == nullptr) {
    fmt::print(stderr, "tracer: {}: {}\n", o.out, std::strerror(errno));
    std::exit(1);
  }
  for (const auto& records : all)
    for (const Record& r : records)
      fmt::print(f, "{} {} {} {}\n", r.start_ns, r.end_ns,
                 outcome_name(r.outcome), r.body);
  for (size_t i = 0; i < bodies.keys().size(); ++i)
    fmt::print(f, "# body {} {}\n", i, bodies.keys()[i]);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  int signal_fd = stop_signal_fd();
  std::string request = make_request(o.path);
  std::atomic<bool> stop{false};
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o.duration_s));
  Bodies bodies;
  std::vector<std::vector<Record>> records(o.clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back(client, std::cref(o), std::cref(request),
                         std::cref(stop), end, &bodies, &records[i]);
  pollfd pfd{signal_fd, POLLIN, 0};
  Deadline deadline = Deadline::at(end);
  while (!deadline.expired())
    if (poll(&pfd, 1, deadline.poll_ms(std::chrono::milliseconds(100))) > 0)
      break;
  stop = true;
  for (std::thread& t : threads) t.join();
  write_trace(o, records, bodies);
  return 0;
}
