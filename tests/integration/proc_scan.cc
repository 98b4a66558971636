#include "proc_scan.h"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>

namespace huptime::test {
namespace {

// Calls fn(number) for each all-digit entry of a /proc directory.
template <typename Fn>
bool for_each_number(const std::string& path, Fn fn) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return false;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long number = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0') fn(static_cast<int>(number));
  }
  closedir(dir);
  return true;
}

}  // namespace

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(file, text)) return std::nullopt;
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(paren + 1));
  ProcStat stat;
  stat.pid = pid;
  if (!(rest >> stat.state >> stat.ppid >> stat.pgrp >> stat.session))
    return std::nullopt;
  return stat;
}

std::vector<ProcStat> list_processes() {
  std::vector<ProcStat> processes;
  for_each_number("/proc", [&](int pid) {
    auto stat = read_proc_stat(pid);
    if (stat && stat->state != 'Z' && stat->state != 'X')
      processes.push_back(*stat);
  });
  return processes;
}

std::vector<ProcStat> list_zombies() {
  std::vector<ProcStat> zombies;
  for_each_number("/proc", [&](int pid) {
    auto stat = read_proc_stat(pid);
    if (stat && stat->state == 'Z') zombies.push_back(*stat);
  });
  return zombies;
}

int count_fds(pid_t pid) {
  int count = 0;
  bool ok =
      for_each_number(fmt::format("/proc/{}/fd", pid), [&](int) { ++count; });
  return ok ? count : -1;
}

std::optional<ProcMemory> read_proc_memory(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  if (!in) return std::nullopt;
  ProcMemory mem;
  bool seen_threads = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) {
      mem.threads = std::atoi(line.c_str() + 8);
      seen_threads = true;
    } else if (line.rfind("VmRSS:", 0) == 0) {
      mem.rss_kb = std::atol(line.c_str() + 6);
    }
  }
  if (!seen_threads) return std::nullopt;
  return mem;
}

std::vector<std::string> describe_fds(pid_t pid) {
  std::vector<int> fds;
  for_each_number(fmt::format("/proc/{}/fd", pid),
                  [&](int fd) { fds.push_back(fd); });
  std::sort(fds.begin(), fds.end());
  std::vector<std::string> lines;
  for (int fd : fds) {
    char target[PATH_MAX] = {};
    std::string link = fmt::format("/proc/{}/fd/{}", pid, fd);
    ssize_t len = readlink(link.c_str(), target, sizeof target - 1);
    lines.push_back(fmt::format("{} -> {}", fd, len > 0 ? target : "?"));
  }
  return lines;
}

std::string describe_cmdline(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(file),
                std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return "";  // exited while we read (ESRCH): a draining process may
  }
  for (char& c : text)
    if (c == '\0') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace huptime::test
