#include "master_start.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config.h"
#include "resolve.h"

namespace huptime {

namespace {

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// In the child: only system calls and the pid patch, no allocation.
[[noreturn]] void exec_child(const std::string& path, char** argv, char** env,
                             char* handoff_value, const int* keep, int n_keep,
                             const sigset_t& mask, int error_pipe) {
  patch_handoff_pid(handoff_value, getpid());
  for (int i = 0; i < n_keep; ++i) fcntl(keep[i], F_SETFD, 0);
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  execve(path.c_str(), argv, env);
  int error = errno;
  ssize_t ignored = write(error_pipe, &error, sizeof error);
  (void)ignored;
  _exit(127);
}

}  // namespace

Started start_generation(const StartSpec& spec) {
  Started out;
  const char* search_path = std::getenv("PATH");
  Resolution resolution = resolve_command(
      spec.argv[0], search_path ? search_path : kDefaultSearchPath);
  if (resolution.error != 0) {
    out.error = resolution_message(spec.argv[0], resolution);
    return out;
  }
  Handoff handoff;
  handoff.pid = 1;  // patched in the child
  handoff.generation = spec.generation;
  handoff.svc_fd = spec.svc_fd;
  handoff.master_fd = spec.master_fd;
  std::vector<int> keep{spec.svc_fd, spec.master_fd};
  for (const FdInode& item : spec.listeners) {
    if (handoff.n_listen == Handoff::kMaxFds) break;
    handoff.listen[handoff.n_listen++] = item;
    keep.push_back(item.fd);
  }
  char encoded[8192];
  size_t n = encode_handoff(handoff, encoded, sizeof encoded);
  std::vector<std::string> env = spec.env;
  env.push_back(std::string(kEnvFds) + "=" + std::string(encoded, n));
  std::vector<std::string> argv = spec.argv;
  std::vector<char*> argv_ptrs = pointers_to(argv);
  std::vector<char*> env_ptrs = pointers_to(env);
  char* handoff_value = env_ptrs[env.size() - 1] + strlen(kEnvFds) + 1;
  // Inherited listeners: the restart signal stays blocked until the new
  // image's library takes it over (lib/signals.h), as after a restart.
  sigset_t mask = spec.mask;
  if (handoff.n_listen > 0) sigaddset(&mask, spec.restart_signal);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + strerror(errno);
    return out;
  }
  pid_t pid = fork();
  if (pid == 0)
    exec_child(resolution.path, argv_ptrs.data(), env_ptrs.data(),
               handoff_value, keep.data(), static_cast<int>(keep.size()), mask,
               pipe_fds[1]);
  int fork_errno = errno;
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    out.error = std::string("fork: ") + strerror(fork_errno);
    return out;
  }
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(pipe_fds[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(pipe_fds[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    out.error = resolution.path + ": cannot execute: " + strerror(exec_errno);
    return out;  // the child exits 127; the master reaps it
  }
  out.pid = pid;
  return out;
}

}  // namespace huptime
