// What --status says, checked against /proc, while a generation drains.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "cases.h"
#include "child_process.h"
#include "idle_conn.h"
#include "proc_scan.h"

namespace huptime::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs `--status --pid=PID()` every 50 ms until `ok(status)`; throws with
// the last output otherwise.
Status poll_status(const Harness& h, const std::function<pid_t()>& pid,
                   const std::function<bool(const Status&)>& ok,
                   const std::string& what, Clock::duration within) {
  Deadline deadline(within);
  std::string last;
  for (;;) {
    CommandResult result =
        h.control({"--status", fmt::format("--pid={}", pid())}, seconds(10));
    std::string error;
    auto status = result.exit_code == 0 ? parse_status(result.output, &error)
                                        : std::nullopt;
    if (status && ok(*status)) return *status;
    last = status ? result.output : result.describe() + " " + error;
    check(!deadline.expired(),
          "--status never showed {} within {:.1f} s; "
          "last:\n{}",
          what, std::chrono::duration<double>(within).count(), last);
    poll(nullptr, 0, 50);
  }
}

Status poll_status(const Harness& h, pid_t pid,
                   const std::function<bool(const Status&)>& ok,
                   const std::string& what, Clock::duration within) {
  return poll_status(
      h, [pid] { return pid; }, ok, what, within);
}

namespace {

constexpr auto kRestartTimeout = seconds(30);

// Every row's PIDS are live processes of the service, PROCS counts them,
// no process is listed twice and every process of the service (its
// process groups in /proc) is listed. A process other than the row's main
// one is the main one's child, unless the main one is no longer part of the
// row (it exited, or re-executed into a newer generation): then its parent
// is the main pid or, orphaned, this driver (the subreaper).
void verify_against_proc(const Harness& h, const Status& status) {
  ServiceSnapshot service = h.snapshot();
  std::set<pid_t> in_proc(service.pids.begin(), service.pids.end());
  std::set<pid_t> listed_all;
  for (const StatusRow& row : status.rows) {
    std::set<pid_t> listed(row.pids.begin(), row.pids.end());
    check(row.procs == static_cast<long>(row.pids.size()) &&
              listed.size() == row.pids.size(),
          "generation {}: PROCS {} but PIDS {}", row.generation, row.procs,
          fmt::join(row.pids, ","));
    bool main_here = listed.count(row.pid) == 1;
    for (pid_t pid : row.pids) {
      check(in_proc.count(pid) == 1,
            "generation {}: pid {} is not a live process of the service "
            "(service in /proc: {})",
            row.generation, pid, fmt::join(in_proc, ","));
      check(listed_all.insert(pid).second, "pid {} is listed twice", pid);
      if (pid == row.pid) continue;
      auto stat = read_proc_stat(pid);
      pid_t ppid = stat ? stat->ppid : -1;
      // A draining main process may exit between --status and this read:
      // its children are then ours (the test is their subreaper).
      bool main_gone = !main_here || !pid_alive(row.pid);
      check(ppid == row.pid || (main_gone && ppid == getpid()),
            "generation {}: pid {} has parent {}, not the generation's "
            "main pid {}",
            row.generation, pid, ppid, row.pid);
    }
  }
  check(listed_all == in_proc,
        "--status lists pids {} but the service's processes in /proc are {}",
        fmt::join(listed_all, ","), fmt::join(in_proc, ","));
}

// --status for our own pid (not a service) and for a pid that has exited.
void status_of_non_services(Harness& h) {
  CommandResult mine =
      h.control({"--status", fmt::format("--pid={}", getpid())}, seconds(10));
  check(mine.exit_code == 1,
        "--status of a process that is not a huptime "
        "service: {}",
        mine.describe());
  pid_t child = fork();
  if (child == 0) _exit(0);
  check(child > 0, "fork failed");
  waitpid(child, nullptr, 0);
  CommandResult dead =
      h.control({"--status", fmt::format("--pid={}", child)}, seconds(10));
  check(dead.exit_code == 1, "--status of a dead pid: {}", dead.describe());
}

bool one_ready(const Status& s, pid_t pid, long procs, long conns) {
  return s.rows.size() == 1 && s.rows[0].state == "ready" &&
         s.rows[0].pid == pid && s.rows[0].procs == procs &&
         s.rows[0].conns == conns;
}

// The pids of `from` that are still alive, less `except`.
std::set<pid_t> alive_of(const std::vector<pid_t>& from, pid_t except) {
  std::set<pid_t> out;
  for (pid_t pid : from)
    if (pid != except && pid_alive(pid)) out.insert(pid);
  return out;
}

// While generation 1 (srv_prefork: a master, 2 workers) drains two idle
// connections that its workers hold, and generation 2 serves.
void status_while_draining(Harness& h, long gen0, long procs) {
  pid_t old = h.leader();
  std::vector<pid_t> gen1 = h.baseline().pids;
  auto idle = std::vector<std::unique_ptr<IdleConnection>>();
  for (int i = 0; i < 2; ++i)
    idle.push_back(std::make_unique<IdleConnection>(h.target(), ""));
  poll_status(
      h, old, [&](const Status& s) { return one_ready(s, old, procs, 2); },
      "2 connections", seconds(5));
  h.write_body(1);
  RestartOk ok = h.expect_restart_ok(h.restart(kRestartTimeout));
  Status both = poll_status(
      h, ok.pid,
      [&](const Status& s) {
        const StatusRow* d = s.find("draining");
        const StatusRow* r = s.find("ready");
        return s.rows.size() == 2 && d && r && d->conns == 2 && r->conns == 0 &&
               r->procs == procs;
      },
      "one draining generation with 2 connections and one ready of 3 "
      "processes",
      seconds(5));
  const StatusRow* draining = both.find("draining");
  const StatusRow* ready = both.find("ready");
  check(draining->pid == old && draining->generation == gen0,
        "draining row is generation {} pid {}, expected {} pid {}",
        draining->generation, draining->pid, gen0, old);
  check(ready->pid == ok.pid && ready->generation == ok.generation &&
            ok.generation > gen0,
        "ready row is generation {} pid {}; --restart said {} pid {}",
        ready->generation, ready->pid, ok.generation, ok.pid);
  check(both.begun == 1 && both.ended == 1 && both.failed == 0 &&
            both.last.starts_with("ok"),
        "restarts: {} begun, {} ended, {} failed, last '{}'; expected 1, 1, "
        "0, ok",
        both.begun, both.ended, both.failed, both.last);
  verify_against_proc(h, both);
  // Exec mode: the main pid re-executed into generation 2.
  std::set<pid_t> expected = alive_of(gen1, h.fork_mode() ? 0 : old);
  std::set<pid_t> listed(draining->pids.begin(), draining->pids.end());
  check(listed == expected,
        "draining generation lists pids {}; generation {}'s processes still "
        "in /proc are {}",
        fmt::join(listed, ","), gen0, fmt::join(expected, ","));
  h.note(fmt::format("draining_pids={} ready_pids={}",
                     fmt::join(draining->pids, ","),
                     fmt::join(ready->pids, ",")));
  for (auto& conn : idle) conn->close_now();
  for (pid_t pid : expected)
    expect_exit(pid, Deadline(seconds(5)), "a drained process");
  Status after = poll_status(
      h, ok.pid,
      [&](const Status& s) { return one_ready(s, ok.pid, procs, 0); },
      "one generation", seconds(5));
  verify_against_proc(h, after);
}

}  // namespace

void case_status(Harness& h) {
  constexpr long kWorkers = 2;
  h.start({{"--drain-timeout=60s"},
           h.options().prefork,
           {"--workers", std::to_string(kWorkers)}});
  Status first = poll_status(
      h, h.leader(),
      [&](const Status& s) {
        return one_ready(s, h.leader(), kWorkers + 1, 0);
      },
      "one ready generation of 3 processes", seconds(5));
  check(first.begun == 0 && first.ended == 0 && first.failed == 0,
        "restarts before any: {} begun, {} ended, {} failed", first.begun,
        first.ended, first.failed);
  verify_against_proc(h, first);
  long gen0 = first.rows[0].generation;
  status_while_draining(h, gen0, kWorkers + 1);
  status_of_non_services(h);
  h.stop_service();
}

}  // namespace huptime::test
