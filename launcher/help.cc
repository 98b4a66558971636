#include "help.h"

#include "build_info.h"

namespace huptime {

// Written for the operator who has a service to keep up: what huptime does,
// how to trigger a restart and learn how it went, what each mode costs, and
// how to wire it into systemd and deploy scripts. Keep lines under 80
// columns.
std::string_view help_text() {
  return R"HELP(Usage: huptime [OPTION]... [--] COMMAND [ARG]...
  or:  huptime --master [--revive] [--multi=N] [--intercept=HOW] [OPTION]...
               [--] COMMAND...
  or:  huptime --restart [--timeout=DUR] TARGET
  or:  huptime --status TARGET
  or:  huptime --stop [--timeout=DUR] TARGET
where TARGET is --pid=PID, --pidfile=FILE or [--] COMMAND [ARG]...

Run COMMAND, an unmodified network service, so that it can be restarted
(onto a new binary or configuration) without refusing or dropping
connections. huptime preloads libhuptime.so into COMMAND and replaces
itself with it (same PID, no wrapper process); the library keeps the
service's listening sockets open across restarts and hands them on.

To restart, send SIGHUP (or the --signal) to the service's PID, or run
huptime --restart, which also waits for the outcome.

Restart modes:
  --fork      (default) a new copy starts beside the old one; the old copy
              stops accepting once the new one is ready, finishes its open
              connections, then exits. The service's PID changes.
  --exec      the PID stays: stop accepting, finish the open connections,
              then re-exec in place. Connections that arrive meanwhile wait
              in the kernel's listen queue.
  --master    huptime stays resident with one PID for the life of the
              service (what a supervisor watches) and runs COMMAND as its
              child, restarting it as in --fork: old and new overlap, and
              the PID never changes. The restart signal and --restart go to
              the master; TERM, INT and QUIT are passed to every process of
              the service, and huptime exits as the service did (same
              status, or killed by the same signal). HUP, USR1, USR2 and
              WINCH (but the restart signal) go to the service's main
              process. Use this mode under systemd, supervisord or
              runit. COMMAND must not daemonize.

Master options (each implies --master):
  --revive           when the service exits or crashes, start it again; its
                     listeners stay open meanwhile, so clients wait instead
                     of being refused. Waits 100 ms before the first revival
                     and doubles the wait each time (at most 30s); a service
                     that stays up 10s starts afresh.
  --revive-limit=N   give up after N revivals in a row (default 10; 0: no
                     limit); huptime then exits as the service did
  --multi=N          run N copies of COMMAND (1 to 64) sharing the same
                     listeners; a restart replaces them one at a time, so
                     at least N-1 always serve
  --intercept=HOW    how huptime sees the program's sockets: preload (the
                     library, for programs that call libc), seccomp (system
                     call interception by the master, for static and Go
                     programs, which preloading cannot reach), or auto
                     (default: seccomp for those, preload otherwise). With
                     seccomp, the old copy gets the --stop-signal (default
                     TERM) once the new one serves, and SIGKILL after
                     --drain-timeout.

Options:
  --unlink=FILE      remove FILE (e.g. a pidfile the service refuses to
                     overwrite) before a new copy starts; repeatable. A
                     relative FILE is taken from the current directory.
  --signal=SIG       the restart signal (default HUP). SIG is a name (HUP,
                     SIGUSR2, usr2, RTMIN+2) or a number; not KILL or STOP.
  --stop-signal=SIG  send SIG to the old copy's main process once it has
                     stopped accepting (default: none), e.g. to make it
                     close idle keep-alive connections. Fork mode only;
                     must differ from --signal.
  --check=CMD        before each restart, run CMD with /bin/sh -c in the
                     service's directory (e.g. a configuration test); if it
                     exits non-zero, the restart is abandoned and the
                     running copy keeps serving.
  --ready=RULE       when a new copy counts as ready; until then the old
                     copy keeps accepting. RULE is one of:
                     listen  (default) it has listen()ed on every listener
                             it was handed and waits for connections on
                             one: in accept, poll/select, or with an epoll
                             registration
                     notify  it has sent READY=1 to $NOTIFY_SOCKET (the
                             sd_notify protocol); the first start too
  --start-timeout=DUR
                     a new copy not ready within DUR is killed and the old
                     one keeps serving (default 60s; must be more than 0)
  --drain-timeout=DUR
                     an old copy that still has connections open after DUR
                     closes them and exits (default 30s; 0: at once)
  --max-draining=N   old copies allowed to drain at once, 1 to 64
                     (default 2); beyond that, the oldest closes its
                     remaining connections and exits
  --debug            same as --log-level=debug
  --log-level=LEVEL  what huptime logs to stderr: error, warn, info
                     (default), debug or trace
  -h, --help         print this help and exit
  --version          print the version and exit
DUR is a number of seconds (30, 1.5) or has a unit: 250ms, 1.5s, 2m; at
most 7 days. An option's value may also be the next argument (--unlink
FILE). Options end at '--' or at the first argument that is not one:
everything from COMMAND on is passed to COMMAND untouched.

COMMAND is searched for in PATH unless it contains a '/'. The preloaded
library reaches only dynamically linked programs that call libc; static
and Go programs need --master, which then intercepts their system calls
with seccomp (--intercept). Without --master, huptime warns that their
sockets cannot be kept.

Control commands, for a service already running under huptime (only
its own user and root may use them):
  --restart       restart it and wait until the attempt has ended (a
                  restart already under way is waited for first). Prints
                  "huptime: restarted: generation G is serving (pid P)"
                  and exits 0 once a new copy is ready and serving; exits
                  1 with the reason if the attempt failed (--check failed,
                  the new copy exited or was not ready in time: the old
                  copy keeps serving), did not end within the timeout, or
                  the service exited.
  --status        print the command line, the restart counts and one line
                  per live generation: GEN PID STATE (starting, ready or
                  draining) AGE CONNS (open connections) PROCS PIDS.
  --stop          send SIGTERM to the top process of each generation and
                  wait until every process of the service has exited;
                  after the timeout, SIGKILL the rest. Exits 1 if a
                  process survives even that.
  --timeout=DUR   how long --restart waits (default: the service's start
                  timeout plus 30s), or --stop before SIGKILL (10s)
The service is named by exactly one of:
  --pid=PID       any process of the service
  --pidfile=FILE  a file holding such a PID
  COMMAND...      its command line, exactly as it was given to huptime

systemd (any mode):
  Type=notify works: huptime tells systemd READY=1 once the service is
  ready, RELOADING=1 and READY=1 around each restart (fork mode: with the
  new MAINPID=), and STOPPING=1; the program does not see NOTIFY_SOCKET
  (with --ready=notify, huptime reads the program's own READY=1).
  Socket activation: started with LISTEN_FDS (a .socket unit), huptime
  answers the service's own bind() with the activated sockets, so it needs
  no socket activation support; LISTEN_* do not reach it.

Environment:
  HUPTIME_LOG      log level when neither --debug nor --log-level is given
  HUPTIME_LIBRARY  use this libhuptime.so instead of the installed one

Exit status:
  when running COMMAND: once it runs, its own; before that:
  1    huptime failed (e.g. libhuptime.so not found)
  2    bad usage (unknown option, missing COMMAND, --fork with --exec)
  with --master: as the service's main process exited, or killed by the
  same signal; 1 when its status is unknown
  126  COMMAND found but cannot be executed
  127  COMMAND not found
  control commands: 0 done, 1 failed (reason on stderr), 2 bad usage

Examples:
  Start a service that writes a pidfile, later restart it:
    huptime --unlink=/run/app.pid /usr/sbin/app --config /etc/app.conf
    kill -HUP "$(cat /run/app.pid)"

  Restart from a deploy script, and know whether it worked:
    huptime --restart --pidfile /run/app.pid && echo deployed

  Test the configuration first; restart on SIGUSR2:
    huptime --check='/usr/sbin/app -t' --signal=USR2 /usr/sbin/app

  In a systemd unit (Type=notify; --master keeps the main PID):
    ExecStart=/usr/bin/huptime --master /usr/sbin/app --foreground
    ExecReload=/usr/bin/huptime --restart --pid $MAINPID

  Under supervisord or runit (reload: supervisorctl signal HUP app, or
  sv hup app):
    command=/usr/bin/huptime --master --revive /usr/sbin/app --foreground

  Restart in place, with debug logging, then look at it:
    huptime --exec --debug ./server --port 8080 &
    huptime --restart ./server --port 8080
    huptime --status --pid $!
)HELP";
}

std::string version_text() {
  return std::string("huptime ") + HUPTIME_VERSION + "\n";
}

}  // namespace huptime
