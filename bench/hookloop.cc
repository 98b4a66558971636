// hookloop: the loops whose cost the benchmark counts in instructions under
// valgrind --tool=callgrind (bench/benchlib/hooks.py), and the small server
// whose start-up it times (bench/benchlib/startup.py).
//
//   hookloop accept N   N+1 times: a client connects over a UNIX socket
//                       (hookloop_client_connect), the server accept4()s
//                       the connection from its listener (a tracked
//                       connection under the preload) and closes it
//                       (hookloop_server_side), and the client closes its
//                       end (an untracked fd)
//   hookloop close N    N times close() of an fd number that is not open
//   hookloop threads T N
//                       T threads at once, each with a listener of its own:
//                       N closes of an untracked fd per thread, then N
//                       accept+close loops per thread; prints the wall time
//                       per operation over all threads ("close_ns
//                       accept_ns"). A lock shared by all threads on these
//                       paths would show as time per operation growing
//                       with T under the preload but not without it.
//   hookloop serve      a small server's start-up: socket, bind to
//                       127.0.0.1:0, listen, an epoll registration and one
//                       epoll_wait with no wait; then exit 0
//   hookloop --idle-thread MODE...
//                       starts one thread that only waits, first: glibc
//                       takes its multi-threaded paths (cancellation
//                       points) once a process has two threads, as it does
//                       under the preload, whose restart thread is one
//   hookloop --print-env LIB PROGRAM [ARG...]
//                       prints the variables --preload would set for
//                       PROGRAM (LD_PRELOAD=LIB first), one per line
//   hookloop --preload LIB MODE...
//                       re-executes itself with LD_PRELOAD=LIB and the
//                       variables the launcher sets (fork mode): valgrind
//                       (a shell script) must not run under the preload,
//                       so it follows this exec with --trace-children=yes
//
// The loop counts are arguments so that the caller can subtract a run with
// N=0 (start-up and exit) from a run with N>0 and divide.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "config.h"

// The two halves of a connection, each a function of its own so that
// callgrind can count one alone (--toggle-collect=NAME, bench/benchlib/
// hooks.py): the server's accept4 + close of the connection (what the
// hooks do per connection), and the client's connect (a cancellation point
// no hook touches: what any other system call of the program pays).
extern "C" [[gnu::noinline]] int hookloop_server_side(int listener) {
  int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return -1;
  return close(conn);
}

extern "C" [[gnu::noinline]] int hookloop_client_connect(int fd,
                                                         const sockaddr* sa,
                                                         socklen_t len) {
  return connect(fd, sa, len);
}

namespace {

[[noreturn]] void die(const char* what) {
  perror(what);
  exit(1);
}

int accept_loop(long n, int tag = 0) {
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // An abstract name unique to this process: nothing in the file system.
  int len = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1,
                     "huptime-hookloop-%d-%d", getpid(), tag);
  auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (bind(listener, sa, alen) != 0 || listen(listener, 16) != 0)
    die("hookloop: listen");
  // One more connection than asked, the first one uncounted: under the
  // preload the first accept also finds the generation ready (once per
  // process), which the N=0 run must include so that the difference is
  // the steady cost of one connection.
  for (long i = 0; i <= n; ++i) {
    int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || hookloop_client_connect(client, sa, alen) != 0)
      die("hookloop: connect");
    if (hookloop_server_side(listener) != 0) die("hookloop: accept4");
    close(client);
  }
  close(listener);
  return 0;
}

int close_loop(long n, int fd = 900) {
  for (long i = 0; i < n; ++i) close(fd);
  return 0;
}

// Wall time per operation, all threads together, in ns.
template <typename Fn>
double on_threads(int count, long n, Fn fn) {
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < count; ++t) pool.emplace_back(fn, n, t);
  for (std::thread& thread : pool) thread.join();
  std::chrono::duration<double, std::nano> took =
      std::chrono::steady_clock::now() - start;
  return took.count() / (static_cast<double>(n) * count);
}

int threads(int count, long n) {
  if (count < 1 || count > 64 || n < 1) return 2;
  double c =
      on_threads(count, n, [](long k, int t) { close_loop(k, 900 + t); });
  double a =
      on_threads(count, n / 20 + 1, [](long k, int t) { accept_loop(k, t); });
  printf("%.1f %.1f\n", c, a);
  return 0;
}

void start_idle_thread() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread([] {
    for (;;) pause();
  }).detach();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

int serve() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
      listen(fd, 128) != 0)
    die("hookloop: serve");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    die("hookloop: epoll");
  epoll_wait(ep, &ev, 1, 0);
  return 0;
}

// The variables the launcher sets for argv (fork mode), LD_PRELOAD first.
std::vector<std::string> preload_entries(const char* library, char** argv) {
  huptime::LaunchConfig config;
  for (char** a = argv; *a != nullptr; ++a) config.argv.emplace_back(*a);
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) config.cwd = cwd;
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  config.sigmask = huptime::sigset_to_mask(mask);
  std::vector<std::string> entries{std::string("LD_PRELOAD=") + library};
  for (std::string& entry : huptime::encode_launch_env(config))
    entries.push_back(std::move(entry));
  return entries;
}

// Execs argv[0..] (this program without --preload LIB) under the preload.
int exec_preloaded(const char* library, char** argv) {
  for (const std::string& entry : preload_entries(library, argv)) {
    size_t eq = entry.find('=');
    setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
  execv(argv[0], argv);  // run by absolute path (valgrind: not /proc/self/exe)
  die("hookloop: exec");
}

// Prints them, one per line, for a tracer that must not itself run under
// the preload (bench/benchlib/startup_trace.py).
int print_preload_env(const char* library, char** argv) {
  for (const std::string& entry : preload_entries(library, argv))
    std::printf("%s\n", entry.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "--preload") == 0) {
    // argv becomes {argv[0], MODE...}: the same program without the option.
    const char* library = argv[2];
    argv[2] = argv[0];
    return exec_preloaded(library, argv + 2);
  }
  if (argc >= 4 && strcmp(argv[1], "--print-env") == 0)
    return print_preload_env(argv[2], argv + 3);
  if (argc >= 3 && strcmp(argv[1], "--idle-thread") == 0) {
    start_idle_thread();
    ++argv;
    --argc;
  }
  if (argc == 4 && strcmp(argv[1], "threads") == 0)
    return threads(atoi(argv[2]), atol(argv[3]));
  if (argc == 3 && strcmp(argv[1], "accept") == 0)
    return accept_loop(atol(argv[2]));
  if (argc == 3 && strcmp(argv[1], "close") == 0)
    return close_loop(atol(argv[2]));
  if (argc == 2 && strcmp(argv[1], "serve") == 0) return serve();
  fprintf(stderr,
          "usage: hookloop [--preload LIB] [--idle-thread] (accept N | "
          "close N | threads T N | serve)\n");
  return 2;
}
