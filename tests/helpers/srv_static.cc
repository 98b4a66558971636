// srv_static: a statically linked server that stops gracefully on SIGTERM,
// for seccomp interception (`huptime --master`, which cannot preload a
// static program). A thread per connection; the main thread polls the
// listeners and a self-pipe.
//
// On SIGTERM it stops accepting the way real servers do: with
// --term-shutdown it first calls shutdown(SHUT_RDWR) on each listener (what
// some servers do to wake their accept threads), then closes them, and
// with --term-unlink removes its UNIX socket paths (as Go does on Close);
// then it finishes the connections it has and exits 0.
// --io-uring: tries io_uring_setup() first and reports on stderr what it
// got, falling back to plain system calls.
// Everything else: the common helper options (server_options.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

namespace {

int g_wake[2] = {-1, -1};
std::atomic<int> g_active{0};

void on_term(int) {
  char byte = 'T';
  ssize_t ignored = write(g_wake[1], &byte, 1);
  (void)ignored;
}

struct Extras {
  bool term_shutdown = false;
  bool term_unlink = false;
  bool io_uring = false;
};

// Takes our own options out of argv; the rest goes to prepare_server.
Extras take_extras(int* argc, char** argv) {
  Extras extras;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--term-shutdown")
      extras.term_shutdown = true;
    else if (arg == "--term-unlink")
      extras.term_unlink = true;
    else if (arg == "--io-uring")
      extras.io_uring = true;
    else
      argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
  return extras;
}

void try_io_uring() {
  unsigned char params[120] = {};  // struct io_uring_params
  long fd = syscall(SYS_io_uring_setup, 4, params);
  if (fd >= 0) {
    fprintf(stderr, "srv_static: io_uring available\n");
    close(static_cast<int>(fd));
  } else {
    fprintf(stderr, "srv_static: io_uring_setup: %s; using plain calls\n",
            strerror(errno));
  }
}

void stop_listening(const Server& server, const Extras& extras) {
  for (size_t i = 0; i < server.listeners.size(); ++i) {
    int fd = server.listeners[i];
    if (extras.term_shutdown) shutdown(fd, SHUT_RDWR);
    close(fd);
    const SockSpec& spec = server.options.listen[i];
    if (extras.term_unlink && !spec.unix_path.empty())
      unlink(spec.unix_path.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Extras extras = take_extras(&argc, argv);
  Server server = prepare_server(argc, argv, kExtraNone);
  if (extras.io_uring) try_io_uring();
  if (pipe2(g_wake, O_CLOEXEC) != 0) fatal_errno("pipe2");
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  server.options.nonblock = true;  // poll, then accept: never block on one
  open_listeners(server);
  write_pidfile(server);
  std::vector<pollfd> fds;
  fds.push_back({g_wake[0], POLLIN, 0});
  for (int fd : server.listeners) fds.push_back({fd, POLLIN, 0});
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fatal_errno("poll");
    }
    if (fds[0].revents) break;
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      int conn = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;  // another generation took it, or transient
      g_active++;
      std::thread([&server, conn] {
        serve_connection(server, conn);
        g_active--;
      }).detach();
    }
  }
  stop_listening(server, extras);
  while (g_active.load() > 0) usleep(5'000);
  return 0;
}
