// The set of processes that make up the service under test.
//
// A process belongs to the service when its process group (or, for
// daemons, which setsid(), its session) is that of a leader the driver has
// seen: the first process, and the leader of every generation since. The
// driver's own process group and session are never adopted: a leader still
// in the driver's session (a daemon before its setsid) is adopted by its
// process group instead. Zombies
// are not counted (the driver reaps its own; see child_process.h).
//
// The groups are also recorded where a signal handler can reach them, so
// that the driver, killed by meson's timeout (SIGTERM) or its own alarm,
// takes the service down with it (kill(-group, SIGKILL)).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "proc_scan.h"

namespace huptime::test {

enum class GroupBy { kProcessGroup, kSession };

struct ServiceSnapshot {
  std::vector<pid_t> pids;
  std::vector<int> fds;  // per pid, same order
  int fd_total = 0;
  int thread_total = 0;
  long rss_kb_total = 0;
};

class ServiceProcesses {
 public:
  explicit ServiceProcesses(GroupBy by) : by_(by) {}

  // Adds the group (or session) of `leader`. False if it is not running.
  bool adopt_leader(pid_t leader);

  // The live members now, with their open fd counts (reaps first).
  ServiceSnapshot snapshot() const;

  // The members that exited and that their parent has not reaped, other
  // than the driver's own children (reaped first). A pre-fork server's
  // old workers must not stay so after a restart.
  std::vector<ProcStat> zombies() const;

  // Sends `sig` to every member and to every adopted process group.
  void signal_all(int sig) const;

 private:
  struct Key {
    bool session;  // else process group
    pid_t id;
    bool operator==(const Key&) const = default;
  };
  bool member(pid_t pgrp, pid_t session) const;

  GroupBy by_;
  std::vector<Key> keys_;
};

// For failure reports: one block per process, its command line and fds.
std::string describe_snapshot(const ServiceSnapshot& snapshot);

// SIGTERM, SIGINT, SIGHUP and SIGALRM end the driver after SIGKILLing every
// adopted process group. alarm(timeout_seconds) bounds the whole run.
void install_emergency_exit(unsigned timeout_seconds);

}  // namespace huptime::test
