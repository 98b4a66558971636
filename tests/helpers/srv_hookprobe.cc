// srv_hookprobe: not a server. Calls, once each and through the ordinary
// libc symbols, every function libhuptime hooks, so that a test can run it
// with HUPTIME_LOG=trace and check that each hook shows up in the trace.
// Prints nothing and exits 0 when every call behaved as libc documents;
// prints the first misbehaving call and exits 1 otherwise (so the probe can
// also catch a hook that changes a result).
//
//   srv_hookprobe          run the probes
//   srv_hookprobe --list   print the probed function names, one per line
// Meson builds with _FILE_OFFSET_BITS=64, which renames fcntl to fcntl64;
// most programs on 64-bit Debian call plain fcntl. Probe both by name.
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* kTrue = "/bin/true";

void check(bool ok, const char* call) {
  if (ok) return;
  std::fprintf(stderr, "srv_hookprobe: %s failed: %s\n", call,
               std::strerror(errno));
  std::exit(1);
}

// A listening socket on 127.0.0.1:0 (bind, listen) and its address.
int make_listener(sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *addr;
  check(bind(fd, reinterpret_cast<sockaddr*>(addr), len) == 0, "bind");
  check(listen(fd, 8) == 0, "listen");
  check(getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len) == 0,
        "getsockname");
  return fd;
}

// Connects a client so that the next accept on the listener succeeds.
int connect_client(const sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  check(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0,
        "connect");
  return fd;
}

void probe_accepts(int listener, const sockaddr_in& addr) {
  int client = connect_client(addr);
  int conn = accept(listener, nullptr, nullptr);
  check(conn >= 0, "accept");
  check(close(conn) == 0 && close(client) == 0, "close");
  client = connect_client(addr);
  conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  check(conn >= 0, "accept4");
  check(syscall(SYS_close, conn) == 0, "syscall(SYS_close)");
  close(client);
  client = connect_client(addr);
  conn = static_cast<int>(
      syscall(SYS_accept4, listener, nullptr, nullptr, SOCK_CLOEXEC));
  check(conn >= 0, "syscall(SYS_accept4)");
  close(conn);
  close(client);
}

void probe_dups(int fd) {
  int copy = dup(fd);
  check(copy >= 0, "dup");
  check(dup2(fd, copy) == copy, "dup2");
  check(dup3(fd, copy, O_CLOEXEC) == copy, "dup3");
  int low = fcntl(fd, F_DUPFD, 100);
  check(low >= 100, "fcntl(F_DUPFD)");
  int high = fcntl64(fd, F_DUPFD_CLOEXEC, low + 1);
  check(high == low + 1, "fcntl(F_DUPFD_CLOEXEC)");
  check(close_range(static_cast<unsigned>(low), static_cast<unsigned>(high),
                    0) == 0 &&
            fcntl(low, F_GETFD) < 0 && fcntl(high, F_GETFD) < 0,
        "close_range");
  close(copy);
}

void probe_waits(int fd) {
  int old_style = epoll_create(1);
  check(old_style >= 0, "epoll_create");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  check(ep >= 0, "epoll_create1");
  epoll_event event{};
  event.events = EPOLLIN;
  check(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &event) == 0, "epoll_ctl");
  check(epoll_wait(ep, &event, 1, 0) == 0, "epoll_wait");
  close(ep);
  close(old_style);
  pollfd pfd{fd, POLLIN, 0};
  check(poll(&pfd, 1, 0) == 0, "poll");
  timespec zero_ts{};
  check(ppoll(&pfd, 1, &zero_ts, nullptr) == 0, "ppoll");
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd, &set);
  timeval zero_tv{};
  check(select(fd + 1, &set, nullptr, nullptr, &zero_tv) == 0, "select");
  FD_SET(fd, &set);
  check(pselect(fd + 1, &set, nullptr, nullptr, &zero_ts, nullptr) == 0,
        "pselect");
}

void probe_signals_and_ioctl(int fd) {
  struct sigaction action {
  }, old_action{};
  action.sa_handler = SIG_IGN;
  check(sigaction(SIGUSR2, &action, &old_action) == 0, "sigaction");
  check(sigaction(SIGUSR2, &old_action, nullptr) == 0, "sigaction");
  sighandler_t old_handler = signal(SIGUSR2, SIG_IGN);
  check(old_handler != SIG_ERR, "signal");
  check(signal(SIGUSR2, old_handler) == SIG_IGN, "signal");
  int on = 1;
  check(ioctl(fd, FIONBIO, &on) == 0, "ioctl(FIONBIO)");
  linger off{};
  check(setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off) == 0,
        "setsockopt(SO_LINGER)");
}

void probe_cancel() {
  pthread_t thread;
  check(pthread_create(
            &thread, nullptr,
            [](void*) -> void* {
              for (;;) pause();
            },
            nullptr) == 0,
        "pthread_create");
  check(pthread_cancel(thread) == 0, "pthread_cancel");
  void* result = nullptr;
  check(pthread_join(thread, &result) == 0 && result == PTHREAD_CANCELED,
        "pthread_join");
}

void probe_unlinks() {
  char dir[] = "/tmp/huptime-hookprobe-XXXXXX";
  check(mkdtemp(dir) != nullptr, "mkdtemp");
  std::string one = std::string(dir) + "/one", two = std::string(dir) + "/two";
  for (const std::string& path : {one, two})
    check(close(open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0,
          "create");
  check(unlink(one.c_str()) == 0, "unlink");
  check(unlinkat(AT_FDCWD, two.c_str(), 0) == 0, "unlinkat");
  check(unlinkat(AT_FDCWD, dir, AT_REMOVEDIR) == 0, "unlinkat(AT_REMOVEDIR)");
}

// Forks a child that runs `body` (which must not return when it execs) and
// checks that the child exited 0.
template <typename Body>
void in_child(const char* what, Body body) {
  pid_t pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    body();
    _exit(127);  // exec failed
  }
  int status = 0;
  check(waitpid(pid, &status, 0) == pid, "waitpid");
  errno = 0;
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

void probe_fork_and_execs() {
  char* const argv[] = {const_cast<char*>("true"), nullptr};
  in_child("fork", [] { _exit(0); });
  in_child("execve", [&] { execve(kTrue, argv, environ); });
  in_child("execv", [&] { execv(kTrue, argv); });
  in_child("execvp", [&] { execvp("true", argv); });
  in_child("execl", [] { execl(kTrue, "true", nullptr); });
  in_child("execlp", [] { execlp("true", "true", nullptr); });
  in_child("execle", [] { execle(kTrue, "true", nullptr, environ); });
  in_child("execvpe", [&] { execvpe("true", argv, environ); });
}

constexpr const char* kProbed[] = {
    "bind",           "listen",      "accept",     "accept4",
    "close",          "close_range", "dup",        "dup2",
    "dup3",           "fcntl",       "fcntl64",    "fork",
    "execve",         "execv",       "execvp",     "execl",
    "execlp",         "execle",      "execvpe",    "epoll_create",
    "epoll_create1",  "epoll_ctl",   "epoll_wait", "poll",
    "ppoll",          "select",      "pselect",    "syscall",
    "sigaction",      "signal",      "ioctl",      "setsockopt",
    "pthread_cancel", "unlink",      "unlinkat"};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--list") {
    for (const char* name : kProbed) std::printf("%s\n", name);
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: srv_hookprobe [--list]\n");
    return 2;
  }
  sockaddr_in addr;
  int listener = make_listener(&addr);
  probe_accepts(listener, addr);
  probe_dups(listener);
  probe_waits(listener);
  probe_signals_and_ioctl(listener);
  probe_unlinks();
  probe_cancel();
  probe_fork_and_execs();
  check(close(listener) == 0, "close");
  return 0;
}
