#include "master_start.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config.h"
#include "resolve.h"
#include "seccomp_filter.h"

namespace huptime {

namespace {

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// What went wrong in the child, sent over the error pipe.
struct ChildError {
  enum Stage : int { kExec, kFilter, kSendFilter } stage;
  int error;
};

[[noreturn]] void child_failed(int error_pipe, ChildError::Stage stage) {
  ChildError failure{stage, errno};
  ssize_t ignored = write(error_pipe, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

// In the child: only system calls and the pid patch, no allocation.
[[noreturn]] void exec_child(const std::string& path, char** argv, char** env,
                             char* handoff_value, const int* keep, int n_keep,
                             const sigset_t& mask, int error_pipe,
                             int notify_channel, pid_t master) {
  if (handoff_value) patch_handoff_pid(handoff_value, getpid());
  for (int i = 0; i < n_keep; ++i) fcntl(keep[i], F_SETFD, 0);
  if (notify_channel >= 0) {
    // Without the master, trapped calls fail: end with it, as a preloaded
    // generation does when its master link hangs up.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master) _exit(127);
    int notify_fd = install_syscall_filter();
    if (notify_fd < 0) child_failed(error_pipe, ChildError::kFilter);
    if (send_fd(notify_channel, notify_fd) != 0)
      child_failed(error_pipe, ChildError::kSendFilter);
    close(notify_fd);
  }
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  execve(path.c_str(), argv, env);
  child_failed(error_pipe, ChildError::kExec);
}

std::string child_error_text(const std::string& path, ChildError failure) {
  switch (failure.stage) {
    case ChildError::kFilter:
      return "cannot install the seccomp filter: " +
             std::string(strerror(failure.error)) +
             (failure.error == EINVAL || failure.error == ENOSYS
                  ? " (this kernel has no seccomp user notification; it "
                    "needs Linux 5.9 or later)"
                  : "");
    case ChildError::kSendFilter:
      return "cannot pass the seccomp filter to the master: " +
             std::string(strerror(failure.error));
    case ChildError::kExec:
      break;
  }
  return path + ": cannot execute: " + strerror(failure.error);
}

Started fork_exec(const std::string& path, char** argv, char** env,
                  char* handoff_value, const std::vector<int>& keep,
                  const sigset_t& mask, int notify_channel) {
  Started out;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + strerror(errno);
    return out;
  }
  pid_t master = getpid();
  pid_t pid = fork();
  if (pid == 0)
    exec_child(path, argv, env, handoff_value, keep.data(),
               static_cast<int>(keep.size()), mask, pipe_fds[1], notify_channel,
               master);
  int fork_errno = errno;
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    out.error = std::string("fork: ") + strerror(fork_errno);
    return out;
  }
  ChildError failure{};
  ssize_t got;
  do {
    got = read(pipe_fds[0], &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close(pipe_fds[0]);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    out.error = child_error_text(path, failure);
    return out;  // the child exits 127; the master reaps it
  }
  out.pid = pid;
  return out;
}

// The preload: the launch environment plus the hand-off (handoff.h).
Started start_preloaded(const StartSpec& spec, const std::string& path) {
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
  return fork_exec(path, argv_ptrs.data(), env_ptrs.data(), handoff_value, keep,
                   mask, -1);
}

// Seccomp: the program's own environment, the filter installed in the
// child (seccomp_filter.h), the service and generation pages kept open.
Started start_intercepted(const StartSpec& spec, const std::string& path) {
  std::vector<int> keep{spec.svc_fd, spec.gen_fd};
  std::vector<std::string> env = spec.env;
  std::vector<std::string> argv = spec.argv;
  std::vector<char*> argv_ptrs = pointers_to(argv);
  std::vector<char*> env_ptrs = pointers_to(env);
  Started out = fork_exec(path, argv_ptrs.data(), env_ptrs.data(), nullptr,
                          keep, spec.mask, spec.notify_channel);
  if (out.pid > 0) {
    // Sent before the exec, which has happened: it is waiting.
    out.notify_fd = receive_fd(spec.notify_from);
    if (out.notify_fd < 0) {
      kill(out.pid, SIGKILL);
      out.pid = -1;
      out.error = "the seccomp notification fd did not arrive";
    }
  }
  return out;
}

}  // namespace

Started start_generation(const StartSpec& spec) {
  const char* search_path = std::getenv("PATH");
  Resolution resolution = resolve_command(
      spec.argv[0], search_path ? search_path : kDefaultSearchPath);
  if (resolution.error != 0) {
    Started out;
    out.error = resolution_message(spec.argv[0], resolution);
    return out;
  }
  return spec.seccomp ? start_intercepted(spec, resolution.path)
                      : start_preloaded(spec, resolution.path);
}

}  // namespace huptime
