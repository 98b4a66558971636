#include "reap_old_children.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "fork_guard.h"
#include "log.h"
#include "numbered_entries.h"
#include "old_children.h"
#include "real.h"
#include "signals.h"

namespace huptime {

namespace {

// The parent and start time of `pid`, from /proc/PID/stat (zombies
// included: their stat stays until they are reaped).
std::optional<StatFields> stat_of(pid_t pid) {
  char path[48];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  TransientFds scope;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t got = read(fd, buf, sizeof buf - 1);
  real::close(fd);
  if (got <= 0) return std::nullopt;
  return parse_proc_stat(std::string_view(buf, static_cast<size_t>(got)));
}

// Still a child of this process, and the same process as recorded.
bool still_ours(const OldChild& child, pid_t self) {
  auto stat = stat_of(child.pid);
  return stat && stat->ppid == self && stat->start_time == child.start_time;
}

// Adds `pid` when /proc says it is a child of `self`.
void add_if_child(pid_t pid, pid_t self, std::vector<OldChild>* children) {
  if (pid <= 1 || pid == self || children->size() == kMaxOldChildren) return;
  auto stat = stat_of(pid);
  if (stat && stat->ppid == self) children->push_back({pid, stat->start_time});
}

// From each thread's /proc/self/task/TID/children (the children it
// forked; after an exec the surviving thread has them all). False when
// the kernel has no such file (CONFIG_PROC_CHILDREN): scan /proc then.
bool children_from_tasks(pid_t self, std::vector<OldChild>* children) {
  std::vector<pid_t> listed;
  bool found = false;
  {
    // Not nested with stat_of's scope: a fork waiting for this one would
    // hold that one back.
    TransientFds scope;
    int tasks = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tasks < 0) return false;
    for_each_numbered_entry(tasks, [&](long tid) {
      char path[64];
      snprintf(path, sizeof path, "%ld/children", tid);
      int fd = openat(tasks, path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
      found = true;
      char buf[4096];
      ssize_t got = read(fd, buf, sizeof buf - 1);
      real::close(fd);
      if (got <= 0) return;
      buf[got] = '\0';
      for (char* at = buf; *at;) {
        char* end = nullptr;
        long pid = strtol(at, &end, 10);
        if (end == at) break;
        listed.push_back(static_cast<pid_t>(pid));
        at = end;
      }
    });
    real::close(tasks);
  }
  for (pid_t pid : listed) add_if_child(pid, self, children);
  return found;
}

// This process's children. Reading each task's list costs ~10 us; the
// scan of every /proc/PID/stat that it replaces cost ~0.5 ms on a quiet
// host, more with more processes, inside the new image's start-up.
std::vector<OldChild> children_of(pid_t self) {
  std::vector<OldChild> children;
  if (children_from_tasks(self, &children)) return children;
  DIR* proc = opendir("/proc");
  if (!proc) return children;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(entry->d_name, &end, 10);
    if (*end != '\0') continue;
    add_if_child(static_cast<pid_t>(pid), self, &children);
  }
  closedir(proc);
  return children;
}

// Waits for one old child to exit without reaping it (WNOWAIT), then
// reaps it if it is still the same process. ECHILD: the program reaped it.
bool reap_one(const OldChild& child, pid_t self) {
  siginfo_t info{};
  int rc;
  do {
    rc = waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 || !still_ours(child, self)) return false;
  return waitpid(child.pid, nullptr, WNOHANG) == child.pid;
}

void* reaper_main(void* arg) {
  auto* children = static_cast<std::vector<OldChild>*>(arg);
  pid_t self = getpid();
  int reaped = 0;
  for (const OldChild& child : *children)
    if (reap_one(child, self)) ++reaped;
  HUPTIME_LOG(kDebug, "reaped {} of {} children of the previous image", reaped,
              children->size());
  delete children;
  signals_old_children_gone();
  return nullptr;
}

}  // namespace

bool reap_old_children() {
  pid_t self = getpid();
  auto* children = new std::vector<OldChild>(children_of(self));
  if (children->empty()) {
    delete children;
    return false;
  }
  HUPTIME_LOG(kDebug, "{} children of the previous image to reap",
              children->size());
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  bool started = pthread_create(&thread, &attr, reaper_main, children) == 0;
  if (started) {
    pthread_setname_np(thread, "huptime-reap");
  } else {
    HUPTIME_LOG(kWarn, "cannot start a thread to reap {} old children",
                children->size());
    delete children;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

}  // namespace huptime
