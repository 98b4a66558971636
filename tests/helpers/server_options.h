// Command line of the helper servers.
//
// Common to all servers:
//   --listen SPEC        repeatable; see sockspec.h
//   --unlink-first       unlink a unix: path before bind, as most servers do
//   --cloexec            SOCK_CLOEXEC on every socket (accept4 for clients)
//   --nonblock           non-blocking listeners (blocking servers then poll
//                        the listener when accept says EAGAIN)
//   --delay-ms N         sleep N ms before replying (keeps requests in flight)
//   --body-file F        body = contents of F, read once at start-up;
//                        default "hello\n"
//   --pidfile F          write our pid to F (atomically) once listening
//   --startup-file F     how start-up goes, read at start-up (startup.h):
//                        missing, empty or "ok": normally; "exit1",
//                        "crash-after-bind", "hang-before-listen",
//                        "warmup=MS"
//   --usr1-file F        on SIGUSR1, write "pid=PID body=FIRST-LINE" to F
//   --crash-after N      one-connection-at-a-time servers (srv_blocking):
//                        abort() once N connections have been answered and
//                        closed, between two accepts (the --revive tests)
// Only some servers accept these (see ServerExtras):
//   --workers N          srv_prefork: worker processes (default 2)
//   --keep-stderr        srv_daemon: keep fd 2 when detaching
//   --close-all-fds      srv_daemon: close every fd >= 3 before binding
//   --threaded           srv_daemon: a thread per connection
//   --linger-parent-ms N srv_daemon: each parent that leaves sleeps N ms
//                        before exiting (daemons that clean up first), so
//                        the service runs for a while beside its parents
#pragma once

#include <string>
#include <vector>

#include "sockspec.h"

namespace huptime::test {

enum ServerExtras : unsigned {
  kExtraNone = 0,
  kExtraWorkers = 1u << 0,
  kExtraDaemon = 1u << 1,
};

struct ServerOptions {
  std::vector<SockSpec> listen;
  bool unlink_first = false;
  bool cloexec = false;
  bool nonblock = false;
  int delay_ms = 0;
  std::string body_file;
  std::string pidfile;
  std::string startup_file;
  std::string usr1_file;
  int crash_after = 0;  // 0: never
  int workers = 2;
  bool keep_stderr = false;
  bool close_all_fds = false;
  bool threaded = false;
  int linger_parent_ms = 0;
};

// Parses the command line. Prints a message and exits 2 on a usage error,
// including an option outside the common set and `extras`.
ServerOptions parse_server_options(int argc, char** argv, unsigned extras);

}  // namespace huptime::test
