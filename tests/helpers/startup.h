// Start-up behaviours that the safe-reload tests ask of a helper server, to
// play a new version that fails, crashes, hangs or warms up slowly, and a
// SIGUSR1 recorder that shows which process got the stop signal.
//
// --startup-file F is read once, at start-up; its first line says:
//   (missing file), "" or "ok"  start normally
//   "exit1"                     exit(1) before binding anything
//   "crash-after-bind"          bind every listener, then die of SIGSEGV
//                               (no core file) before listen()
//   "hang-before-listen"        bind every listener, then pause() forever
//   "warmup=MS"                 bind every listener, sleep MS, then listen
//   "notify=MS"                 start normally; MS after listen(), send
//                               READY=1 to $NOTIFY_SOCKET (sd_notify), from a
//                               thread: the server accepts meanwhile
//   "notify-never"              start normally, never send READY=1
//   "ignore-term"               start normally with SIGTERM ignored
// Anything else ends the server with status 2: a typo in a test must not
// pass for "ok".
#pragma once

#include <string>

namespace huptime::test {

enum class StartupKind {
  kNormal,
  kExit1,
  kCrashAfterBind,
  kHang,
  kWarmup,
  kNotify,
  kNotifyNever
};

struct Startup {
  StartupKind kind = StartupKind::kNormal;
  int warmup_ms = 0;  // also the notify delay
};

// Reads and parses `path` (empty: kNormal). exit1 takes effect here.
Startup read_startup(const std::string& path);

// Between bind() and listen(): crashes, hangs or sleeps as `startup` says;
// returns at once for kNormal.
void after_bind(const Startup& startup);

// After listen(): starts the READY=1 sender for kNotify when $NOTIFY_SOCKET
// is set (a first start under huptime has none).
void after_listen(const Startup& startup);

// With a non-empty `path`, installs a SIGUSR1 handler that writes
// "pid=PID body=BODY_LINE\n" to `path` (through PATH.tmp and rename(2), so
// that a reader sees all of it or nothing). `body` is the served body; its
// first line names the version.
void install_usr1_recorder(const std::string& path, const std::string& body);

}  // namespace huptime::test
