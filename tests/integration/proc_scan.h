// What /proc says about the service under test: which processes belong to
// it and how many fds each has open.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace huptime::test {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';  // R, S, D, Z...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
};

// Parses /proc/PID/stat (the command name may hold spaces and parentheses).
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Every live (non-zombie) process on the machine.
std::vector<ProcStat> list_processes();

// Every zombie on the machine (exited, not yet reaped by its parent).
std::vector<ProcStat> list_zombies();

// The number of entries in /proc/PID/fd; -1 if unreadable (gone).
int count_fds(pid_t pid);

// Threads and resident memory of PID, from /proc/PID/status; nullopt if
// gone.
struct ProcMemory {
  int threads = 0;
  long rss_kb = 0;
};
std::optional<ProcMemory> read_proc_memory(pid_t pid);

// "FD -> TARGET" for each fd of PID, for failure reports.
std::vector<std::string> describe_fds(pid_t pid);

// The command line of PID, space-separated, for failure reports.
std::string describe_cmdline(pid_t pid);

}  // namespace huptime::test
