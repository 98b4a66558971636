// srv_daemon: a classic SysV daemon. fork, the parent exits 0; setsid; fork
// again, the intermediate exits (each after --linger-parent-ms); chdir("/");
// fds 0..2 to /dev/null (fd 2 kept with --keep-stderr); with --close-all-fds,
// every fd >= 3 closed by walking /proc/self/fd, as programs that "close all
// fds" do. Only then it binds, writes --pidfile and serves (blocking, or a
// thread per connection with
// --threaded).
//
// Paths (--pidfile, unix: sockets) must be absolute: the daemon lives in /.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "blocking_serve.h"
#include "server.h"

using namespace huptime::test;

namespace {

void fork_and_leave_parent(int linger_ms) {
  pid_t pid = fork();
  if (pid < 0) fatal_errno("fork");
  if (pid == 0) return;
  if (linger_ms > 0) usleep(static_cast<useconds_t>(linger_ms) * 1000);
  _exit(0);
}

// Closes 0..2 (not 2 with --keep-stderr) and reopens them on /dev/null:
// open(2) and dup(2) return the lowest free numbers.
void redirect_std_fds(bool keep_stderr) {
  int last = keep_stderr ? 1 : 2;
  for (int fd = 0; fd <= last; ++fd) close(fd);
  if (open("/dev/null", O_RDWR) != 0) fatal_errno("open /dev/null as fd 0");
  for (int fd = 1; fd <= last; ++fd)
    if (dup(0) != fd) fatal_errno("dup /dev/null");
}

// Closes every fd >= 3, listed from /proc/self/fd before closing any.
void close_all_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) fatal_errno("opendir /proc/self/fd");
  std::vector<int> fds;
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd >= 3 && fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  for (int fd : fds) close(fd);
}

void daemonize(const ServerOptions& opts) {
  fork_and_leave_parent(opts.linger_parent_ms);
  if (setsid() < 0) fatal_errno("setsid");
  fork_and_leave_parent(opts.linger_parent_ms);
  if (chdir("/") != 0) fatal_errno("chdir /");
  redirect_std_fds(opts.keep_stderr);
  if (opts.close_all_fds) close_all_fds();
}

}  // namespace

int main(int argc, char** argv) {
  Server server = prepare_server(argc, argv, kExtraDaemon);
  daemonize(server.options);
  open_listeners(server);
  write_pidfile(server);
  if (server.options.threaded) run_threaded(server);
  run_accept_loop(server, single_listener(server));
}
