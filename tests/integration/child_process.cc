#include "child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "proc_scan.h"

extern char** environ;

namespace huptime::test {
namespace {

struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

void configure(SpawnSetup& setup, int stderr_fd) {
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, stderr_fd, 2);
  // Only 0..2: whatever the driver itself inherited stays out of the
  // service's fd counts.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP |
                                            POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
}

}  // namespace

bool become_subreaper() {
  return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

void reap_children() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

pid_t spawn_in_new_group(const std::vector<std::string>& argv, int stderr_fd,
                         std::string* error) {
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  SpawnSetup setup;
  configure(setup, stderr_fd);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &setup.actions, &setup.attr, args.data(),
                        environ);
  if (rc != 0) {
    *error = std::string("posix_spawnp ") + argv[0] + ": " + std::strerror(rc);
    return -rc;
  }
  return pid;
}

bool wait_pid_exit(pid_t pid, const Deadline& deadline) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno == ESRCH;
  bool exited = false;
  for (;;) {
    pollfd pfd{pidfd, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.poll_ms());
    if (ready < 0 && errno == EINTR) continue;
    exited = ready > 0;
    break;
  }
  close(pidfd);
  reap_children();
  return exited;
}

std::string how_it_ended(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info,
             WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != pid)
    return "";
  if (info.si_code == CLD_EXITED)
    return "exit status " + std::to_string(info.si_status);
  const char* name = sigabbrev_np(info.si_status);
  return std::string("killed by SIG") + (name ? name : "?");
}

bool pid_alive(pid_t pid) {
  auto stat = read_proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

}  // namespace huptime::test
