#include "service.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "child_process.h"
#include "proc_scan.h"

namespace huptime::test {
namespace {

constexpr size_t kMaxGroups = 256;
std::atomic<pid_t> g_groups[kMaxGroups];
std::atomic<size_t> g_group_count{0};

void remember_group(pid_t group) {
  size_t slot = g_group_count.load();
  if (slot >= kMaxGroups) return;
  g_groups[slot] = group;
  g_group_count = slot + 1;
}

// async-signal-safe
void on_emergency(int sig) {
  size_t count = g_group_count.load();
  for (size_t i = 0; i < count; ++i) {
    pid_t group = g_groups[i].load();
    if (group > 1) kill(-group, SIGKILL);
  }
  const char* text = sig == SIGALRM
                         ? "reload_test: overall timeout; service killed\n"
                         : "reload_test: interrupted; service killed\n";
  [[maybe_unused]] ssize_t written = write(2, text, std::strlen(text));
  _exit(1);
}

}  // namespace

bool ServiceProcesses::adopt_leader(pid_t leader) {
  auto stat = read_proc_stat(leader);
  if (!stat || stat->state == 'Z') return false;
  Key key{true, stat->session};
  if (by_ == GroupBy::kProcessGroup || stat->session == getsid(0))
    key = Key{false, stat->pgrp};
  if (key.id <= 1 || (!key.session && key.id == getpgrp())) return false;
  if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) {
    keys_.push_back(key);
    remember_group(key.id);  // a session's leader group has the same id
  }
  return true;
}

bool ServiceProcesses::member(pid_t pgrp, pid_t session) const {
  for (const Key& key : keys_)
    if (key.id == (key.session ? session : pgrp)) return true;
  return false;
}

ServiceSnapshot ServiceProcesses::snapshot() const {
  reap_children();
  ServiceSnapshot snap;
  for (const ProcStat& proc : list_processes()) {
    if (proc.pid == getpid() || !member(proc.pgrp, proc.session)) continue;
    int fds = count_fds(proc.pid);
    auto mem = read_proc_memory(proc.pid);
    if (fds < 0 || !mem) continue;  // exited meanwhile
    snap.pids.push_back(proc.pid);
    snap.fds.push_back(fds);
    snap.fd_total += fds;
    snap.thread_total += mem->threads;
    snap.rss_kb_total += mem->rss_kb;
  }
  return snap;
}

std::vector<ProcStat> ServiceProcesses::zombies() const {
  reap_children();
  std::vector<ProcStat> found;
  for (const ProcStat& proc : list_zombies())
    if (proc.ppid != getpid() && member(proc.pgrp, proc.session))
      found.push_back(proc);
  return found;
}

void ServiceProcesses::signal_all(int sig) const {
  for (pid_t pid : snapshot().pids) kill(pid, sig);
  for (const Key& key : keys_) kill(-key.id, sig);
}

std::string describe_snapshot(const ServiceSnapshot& snapshot) {
  std::string out;
  for (size_t i = 0; i < snapshot.pids.size(); ++i) {
    pid_t pid = snapshot.pids[i];
    out += fmt::format("    pid {} ({} fds): {}\n", pid, snapshot.fds[i],
                       describe_cmdline(pid));
    for (const std::string& fd : describe_fds(pid))
      out += fmt::format("      {}\n", fd);
  }
  return out;
}

void install_emergency_exit(unsigned timeout_seconds) {
  struct sigaction action {};
  action.sa_handler = on_emergency;
  sigfillset(&action.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGALRM})
    sigaction(sig, &action, nullptr);
  alarm(timeout_seconds);
}

}  // namespace huptime::test
