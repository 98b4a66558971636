#include "help.h"

#include "build_info.h"

namespace huptime {

// Written for the operator who has a service to keep up: what huptime does,
// how to trigger a restart, what each mode costs, and how to wire it into
// systemd. Keep lines under 80 columns.
std::string_view help_text() {
  return R"HELP(Usage: huptime [OPTION]... [--] COMMAND [ARG]...

Run COMMAND, an unmodified network service, so that it can be restarted
(onto a new binary or configuration) without refusing or dropping
connections. huptime preloads libhuptime.so into COMMAND and replaces
itself with it (same PID, no wrapper process); the library keeps the
service's listening sockets open across restarts and hands them on.

To restart, send SIGHUP to the service's PID.

Restart modes:
  --fork      (default) a new copy starts beside the old one; the old copy
              stops accepting once the new one is ready, finishes its open
              connections, then exits. The service's PID changes.
  --exec      the PID stays: stop accepting, finish the open connections,
              then re-exec in place. Connections that arrive meanwhile wait
              in the kernel's listen queue.

Options:
  --unlink=FILE      remove FILE (e.g. a pidfile the service refuses to
                     overwrite) before a new copy starts; repeatable. A
                     relative FILE is taken from the current directory.
  --debug            same as --log-level=debug
  --log-level=LEVEL  what huptime logs to stderr: error, warn, info
                     (default), debug or trace
  -h, --help         print this help and exit
  --version          print the version and exit
An option's value may also be the next argument (--unlink FILE). Options
end at '--' or at the first argument that is not one: everything from
COMMAND on is passed to COMMAND untouched.

COMMAND is searched for in PATH unless it contains a '/'. It must be
dynamically linked: huptime warns that a static executable's sockets
cannot be kept.

Environment:
  HUPTIME_LOG      log level when neither --debug nor --log-level is given
  HUPTIME_LIBRARY  use this libhuptime.so instead of the installed one

Exit status:
  once COMMAND runs, its own; before that:
  1    huptime failed (e.g. libhuptime.so not found)
  2    bad usage (unknown option, missing COMMAND, --fork with --exec)
  126  COMMAND found but cannot be executed
  127  COMMAND not found

Examples:
  Start a service that writes a pidfile, later restart it:
    huptime --unlink=/run/app.pid /usr/sbin/app --config /etc/app.conf
    kill -HUP "$(cat /run/app.pid)"

  In a systemd unit (--exec keeps the main PID that systemd tracks):
    ExecStart=/usr/bin/huptime --exec /usr/sbin/app --foreground
    ExecReload=/bin/kill -HUP $MAINPID

  Restart in place, with debug logging:
    huptime --exec --debug ./server --port 8080 &
    kill -HUP $!
)HELP";
}

std::string version_text() {
  return std::string("huptime ") + HUPTIME_VERSION + "\n";
}

}  // namespace huptime
