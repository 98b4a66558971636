#include "accept_monitor.h"

#include <dirent.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "proc_scan.h"

namespace huptime::test {

namespace {

constexpr int kSampleMs = 50;

bool holds(pid_t pid, const std::string& target) {
  std::string dir = fmt::format("/proc/{}/fd", pid);
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  char link[64];
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), link, sizeof link);
    if (n > 0 &&
        target.compare(0, target.size(), link, static_cast<size_t>(n)) == 0) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

// /proc/net/tcp: "sl local_address rem_address st ... uid timeout inode";
// 127.0.0.1:port is 0100007F:PPPP (hex), LISTEN is state 0A.
unsigned long listening_inode(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::string local = fmt::format("0100007F:{:04X}", port);
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, addr, remote, state, queues, timer, retr, uid, timeout;
    unsigned long inode = 0;
    fields >> sl >> addr >> remote >> state >> queues >> timer >> retr >> uid >>
        timeout >> inode;
    if (addr == local && state == "0A") return inode;
  }
  return 0;
}

int count_holders(unsigned long inode, const std::vector<pid_t>& groups,
                  const std::vector<pid_t>& excluded) {
  std::string target = fmt::format("socket:[{}]", inode);
  int count = 0;
  for (const ProcStat& p : list_processes()) {
    if (std::find(groups.begin(), groups.end(), p.pgrp) == groups.end() ||
        std::find(excluded.begin(), excluded.end(), p.pid) != excluded.end())
      continue;
    if (holds(p.pid, target)) ++count;
  }
  return count;
}

AcceptMonitor::AcceptMonitor(int port) : port_(port) {
  thread_ = std::thread(&AcceptMonitor::run, this);
}

AcceptMonitor::~AcceptMonitor() { stop(); }

void AcceptMonitor::watch(pid_t group, pid_t master) {
  std::lock_guard lock(mutex_);
  groups_.push_back(group);
  if (master > 0) excluded_.push_back(master);
  inode_ = listening_inode(port_);
}

void AcceptMonitor::run() {
  Clock::time_point since{};  // start of the current run of >= 2; or none
  bool in_run = false;
  while (!stop_) {
    std::vector<pid_t> groups, excluded;
    unsigned long inode;
    {
      std::lock_guard lock(mutex_);
      groups = groups_;
      excluded = excluded_;
      inode = inode_;
    }
    int holders = inode ? count_holders(inode, groups, excluded) : 0;
    Clock::time_point now = Clock::now();
    max_holders_ = std::max(max_holders_.load(), holders);
    if (holders >= 2 && !in_run) {
      in_run = true;
      since = now;
    } else if (holders < 2) {
      in_run = false;
    }
    if (in_run) longest_ms_ = std::max(longest_ms_, ms_between(since, now));
    poll(nullptr, 0, kSampleMs);
  }
}

double AcceptMonitor::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
  return longest_ms_;
}

}  // namespace huptime::test
