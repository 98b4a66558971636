// A storm of restart signals, checked through the log, --status and /proc.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "cases.h"
#include "child_process.h"

namespace huptime::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The newest generation's pid in the log since `from` (the highest
// generation number of a "ready" line); `current` if none is newer.
pid_t newest_ready(const Harness& h, size_t* from, long* generation,
                   pid_t current) {
  while (auto found = h.find_log(ready_line(), *from)) {
    *from = found->index + 1;
    long gen = std::stol(found->groups[2]);
    if (gen > *generation) {
      *generation = gen;
      current = std::stoi(found->groups[1]);
    }
  }
  return current;
}

// A thread that runs --status as fast as it can on the newest generation
// in the log (followed on its own: a generation lives some 40 ms in the
// storm) and records the most generations it ever saw starting at once.
class StatusSampler {
 public:
  StatusSampler(const Harness& h, pid_t leader)
      : h_(h), leader_(leader), thread_(&StatusSampler::run, this) {}
  ~StatusSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int samples = 0, errors = 0, most_starting = 0;
  std::string worst, first_error;

 private:
  void run() {
    size_t cursor = 0;
    long generation = 0;
    while (!stop_) {
      pid_t pid = leader_ = newest_ready(h_, &cursor, &generation, leader_);
      CommandResult result =
          h_.control({"--status", fmt::format("--pid={}", pid)}, seconds(5));
      std::string error;
      auto status = result.exit_code == 0 ? parse_status(result.output, &error)
                                          : std::nullopt;
      if (!status) {
        // The leader may have just drained away.
        if (errors++ == 0)
          first_error =
              fmt::format("{} {} (pid {} alive afterwards: {})",
                          result.describe(), error, pid, pid_alive(pid));
        continue;
      }
      ++samples;
      int starting = status->count("starting");
      if (starting > most_starting) {
        most_starting = starting;
        worst = result.output;
      }
    }
  }
  const Harness& h_;
  pid_t leader_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// From the whole log: the most generations starting at the same time. A
// generation starts at "new copy started as pid N" (fork) or "huptime[N]:
// re-executing" (exec) and stops starting at "huptime[N]: ready" or "new
// copy pid N failed". Sets *where to the line that made it the most.
// Lines of different processes share one pipe in no causal order: a new
// copy that starts fast logs "ready" before its parent logs that it
// started it (seen in CI), and that copy never was starting. (Exec mode's
// lines come from one process, in order.)
int most_starting_in_log(const Harness& h, std::string* where) {
  const std::vector<std::regex> patterns{
      std::regex(
          R"(huptime\[\d+\]: (?:[a-z]+: )?new copy started as pid (\d+))"),
      std::regex(R"(huptime\[(\d+)\]: (?:[a-z]+: )?re-executing)"),
      ready_line(),
      std::regex(R"(huptime\[\d+\]: (?:[a-z]+: )?new copy pid (\d+) failed)")};
  std::set<pid_t> starting, ended_early;
  int most = 0;
  for (size_t from = 0;;) {
    auto found =
        h.log().wait_for(patterns, from, Deadline(Clock::duration::zero()));
    if (!found) break;
    from = found->index + 1;
    pid_t pid = std::stoi(found->groups[1]);
    if (found->pattern >= 2) {
      if (starting.erase(pid) == 0) ended_early.insert(pid);
    } else if (found->pattern == 1 || ended_early.erase(pid) == 0) {
      // Exec mode: the same process says "re-executing", then "ready".
      ended_early.erase(pid);
      starting.insert(pid);
    }
    if (static_cast<int>(starting.size()) > most) {
      most = static_cast<int>(starting.size());
      *where = fmt::format("{} (starting: {})", found->line,
                           fmt::join(starting, ","));
    }
  }
  return most;
}

// Where the storm stands: the newest generation in the log, followed.
struct Follower {
  const Harness& h;
  size_t cursor = 0;
  long generation = 0;
  std::atomic<pid_t> leader;

  explicit Follower(const Harness& harness)
      : h(harness), leader(harness.leader()) {}
  pid_t update() {
    leader = newest_ready(h, &cursor, &generation, leader);
    return leader;
  }
};

// Sends `count` restart signals to the newest generation, one every
// `every`, writing version N before signal N. Returns the seconds it took.
double send_storm(Harness& h, Follower& follow, int count,
                  Clock::duration every) {
  Clock::time_point begin = Clock::now();
  for (int version = 1; version <= count; ++version) {
    h.write_body(version);
    // Fork mode: the newest generation may have been replaced and have
    // exited between reading the log and kill(); look again.
    pid_t leader = follow.update();
    for (int tries = 0; kill(leader, SIGHUP) != 0 && tries < 3; ++tries) {
      poll(nullptr, 0, 2);
      leader = follow.update();
    }
    // /proc/PID/stat can be unreadable for a moment while the process
    // execs; a process killed by the signal stays a zombie (our child).
    bool alive = h.fork_mode() || pid_alive(leader);
    for (int i = 0; !alive && i < 20; ++i) {
      poll(nullptr, 0, 5);
      alive = pid_alive(leader);
    }
    check(alive, "exec mode: the service died during the storm (signal {}): {}",
          version, describe_exit(leader));
    Deadline next = Deadline::at(begin + version * every);
    poll(nullptr, 0, next.poll_ms());
  }
  return ms_between(begin, Clock::now()) / 1000.0;
}

// The storm has settled when --status shows no generation starting, every
// restart begun has ended, none is owed and the newest generation is
// ready; it becomes the leader. (Without "owed", a sample taken between
// one restart's end and the start of the one owed to it looked settled,
// and the leader it named was gone a moment later: seen once in 15 runs.)
// --status asks the newest generation in the log or, if that one is gone,
// any process of the service.
Status wait_settled(Harness& h, Follower& follow) {
  auto any_pid = [&] {
    pid_t pid = follow.update();
    if (pid_alive(pid)) return pid;
    ServiceSnapshot now = h.snapshot();
    return now.pids.empty() ? pid : now.pids.front();
  };
  Status settled = poll_status(
      h, any_pid,
      [&](const Status& s) {
        return s.count("starting") == 0 && s.begun == s.ended &&
               s.last.find("owed") == std::string::npos && s.newest() &&
               s.newest()->state == "ready";
      },
      "the storm settled", seconds(30));
  follow.leader = settled.newest()->pid;
  return settled;
}

// What the two samplers saw, merged into the first; checked.
void check_samples(StatusSampler& one, StatusSampler& two) {
  one.stop();
  two.stop();
  one.samples += two.samples;
  one.errors += two.errors;
  if (two.most_starting > one.most_starting) {
    one.most_starting = two.most_starting;
    one.worst = two.worst;
  }
  if (one.errors > 0)
    fmt::print(stderr,
               "safe_test: {} failed --status (generations drain "
               "away fast); first: {}\n",
               one.errors, one.first_error);
  check(one.samples >= 5,
        "only {} --status samples during the storm ({} failed; first: {})",
        one.samples, one.errors, one.first_error);
  check(one.most_starting <= 1,
        "--status showed {} generations starting at once:\n{}",
        one.most_starting, one.worst);
}

}  // namespace

// 50 restart signals within a second, each after writing a new version:
// never two generations starting at once (log and --status), no request
// fails, and the service ends on version 50 with one generation and as
// many processes as at the start.
void case_storm(Harness& h) {
  constexpr int kSignals = 50;
  constexpr auto kEvery = milliseconds(19);  // 50 signals in 0.95 s
  h.start({{}, "", {}});
  h.start_load();
  Follower follow(h);
  StatusSampler sampler(h, h.leader()), sampler2(h, h.leader());
  double storm_s = send_storm(h, follow, kSignals, kEvery);
  check(storm_s < 1.5, "the storm took {:.2f} s", storm_s);
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), kSignals,
                   "after the storm, version 50");
  Status settled = wait_settled(h, follow);
  check_samples(sampler, sampler2);
  h.note(fmt::format(
      "storm_s={:.2f} status_samples={} begun={} ended={} failed={} "
      "last_gen={}",
      storm_s, sampler.samples, settled.begun, settled.ended, settled.failed,
      settled.newest()->generation));
  h.check_log_consistency();
  std::string where;
  int most_in_log = most_starting_in_log(h, &where);
  check(most_in_log <= 1, "the log shows {} generations starting at once: {}",
        most_in_log, where);
  for (int version = 0; version < kSignals; ++version)
    h.mark_stale(version, Clock::now());
  if (h.fork_mode()) h.set_leader(follow.leader);
  h.expect_back_to_baseline("after the storm settled", seconds(10),
                            !h.fork_mode());
  poll_status(
      h, follow.leader.load(),
      [&](const Status& s) { return s.rows.size() == 1; },
      "a single generation after the storm", seconds(5));
  h.wait_successes(4 * static_cast<uint64_t>(h.options().clients), -1,
                   "once settled");
  h.finish_load();
  h.stop_service();
}

}  // namespace huptime::test
