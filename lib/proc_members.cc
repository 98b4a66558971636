#include "proc_members.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "fork_guard.h"
#include "real.h"

namespace huptime {

namespace {

bool holds(pid_t pid, dev_t dev, ino_t ino) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* dir = opendir(path);
  if (!dir) return false;
  bool found = false;
  int dfd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    struct stat st;
    if (fstatat(dfd, entry->d_name, &st, 0) == 0 && st.st_dev == dev &&
        st.st_ino == ino) {
      found = true;
      break;
    }
  }
  closedir(dir);
  return found;
}

}  // namespace

int signal_holders(dev_t dev, ino_t ino, int sig) {
  TransientFds scope;
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  pid_t self = getpid();
  int count = 0;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    if (!holds(static_cast<pid_t>(pid), dev, ino)) continue;
    if (kill(static_cast<pid_t>(pid), sig) == 0) ++count;
  }
  closedir(proc);
  return count;
}

bool kill_all_holders(dev_t dev, ino_t ino, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    if (signal_holders(dev, ino, SIGKILL) == 0) return true;
    real::poll(nullptr, 0, 10);
  }
  return false;
}

}  // namespace huptime
