// Process-wide state of the library. Everything here is constinit or set
// once during init (init.cc) and read-only afterwards, except the atomics.
#pragma once

#include <sys/types.h>

#include <pthread.h>

#include <atomic>
#include <string>
#include <vector>

#include "config.h"
#include "fd_table.h"
#include "listener_table.h"

namespace huptime {

struct Runtime {
  // Set once by init, before `ready` is published.
  bool active = false;  // started by the launcher: restarts possible
  LaunchConfig* config = nullptr;
  const char* preload_lib = nullptr;  // absolute path of this library
  std::vector<std::string>* base_env = nullptr;  // environment at start
  // "HUPTIME_MODE=..." etc., prebuilt so exec hooks need not allocate.
  const char** launch_vars = nullptr;
  size_t n_launch_vars = 0;

  std::atomic<bool> ready{false};  // init finished
  // ready, active and not tracing hook calls: the one test of the hot
  // hooks (accept, accept4, close) before their fast paths.
  std::atomic<bool> hooks_fast{false};
  std::atomic<pid_t> pid{0};  // this process (updated after fork)
  pid_t image_pid = 0;        // the process this image started in
  std::atomic<uint32_t> generation{1};
  // Listeners the program made or claimed in this process: once there is
  // one, programs it runs are helpers, not the service (exec_hook.cc).
  std::atomic<bool> has_program_listeners{false};
};

extern constinit Runtime g_rt;
extern constinit FdTable g_fds;
extern constinit ListenerTable g_listeners;
// Connections (fds of kind kConn) open in this process, and accepts under
// way: a draining process exits only when both are zero.
extern constinit std::atomic<long> g_conns;
extern constinit std::atomic<long> g_accepts_in_flight;
// Inherited listeners still waiting for a bind() in this process.
extern constinit std::atomic<int> g_offered_count;

// Set for good by the first pthread_cancel() of the program (hooks.cc).
extern constinit std::atomic<bool> g_cancel_requested;

// What a cancellation point does first: act on a cancellation pending for
// this thread. For the hooks' fast paths that make the system call
// themselves (fd_ops.cc, listeners.cc). A request can be pending only after
// a pthread_cancel(): until the program made one, one load instead of a
// call into libc. (glibc cancelling its own helper threads, which call no
// program code that could be in these hooks, does not pass through
// pthread_cancel.)
inline void act_on_pending_cancel() {
  if (__builtin_expect(g_cancel_requested.load(std::memory_order_acquire), 0))
    pthread_testcancel();
}

}  // namespace huptime
