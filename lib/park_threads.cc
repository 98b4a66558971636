#include "park_threads.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "clock.h"
#include "fork_guard.h"
#include "futex.h"
#include "numbered_entries.h"
#include "raw_syscall.h"

namespace huptime {

namespace {

// Futex words.
constinit std::atomic<uint32_t> g_hold{0};    // 1 while threads must wait
constinit std::atomic<uint32_t> g_parked{0};  // threads waiting now
// Requests sent and not yet seen by their thread. A request seen after the
// release is discarded, not taken for the program's own raise().
constinit std::atomic<int32_t> g_unseen{0};

// huptime's own threads (the restart thread, the reaper) are named
// "huptime*" and block the signal: asking them would only cost the wait.
bool is_ours(long tid) {
  char path[64];
  auto end =
      fmt::format_to_n(path, sizeof path - 1, "/proc/self/task/{}/comm", tid);
  *end.out = '\0';
  int fd = static_cast<int>(raw_syscall6(SYS_openat, AT_FDCWD,
                                         reinterpret_cast<long>(path),
                                         O_RDONLY | O_CLOEXEC));
  if (fd < 0) return false;
  char comm[16] = {};
  long got =
      raw_syscall6(SYS_read, fd, reinterpret_cast<long>(comm), sizeof comm - 1);
  raw_syscall6(SYS_close, fd);
  return got >= 7 && memcmp(comm, "huptime", 7) == 0;
}

// Sends `sig` to every other thread of the process; returns how many.
int ask_others(int sig) {
  long pid = raw_syscall6(SYS_getpid);
  long self = raw_syscall6(SYS_gettid);
  TransientFds scope;
  int dir = static_cast<int>(raw_syscall6(
      SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/task"),
      O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return 0;
  int asked = 0;
  for_each_numbered_entry(dir, [&](long tid) {
    if (tid == self || is_ours(tid)) return;
    g_unseen.fetch_add(1);
    if (raw_syscall6(SYS_tgkill, pid, tid, sig) == 0)
      ++asked;
    else
      g_unseen.fetch_sub(1);  // it has just exited
  });
  raw_syscall6(SYS_close, dir);
  return asked;
}

}  // namespace

ParkResult park_other_threads(int sig, int timeout_ms) {
  g_hold.store(1);
  ParkResult result;
  result.asked = ask_others(sig);
  int64_t deadline = monotonic_ms() + timeout_ms;
  for (;;) {
    uint32_t parked = g_parked.load();
    result.parked = static_cast<int>(parked);
    if (result.parked >= result.asked) break;
    int64_t left = deadline - monotonic_ms();
    if (left <= 0) break;
    timespec wait = {left / 1000, (left % 1000) * 1'000'000};
    futex_wait(g_parked, parked, &wait);
  }
  return result;
}

void release_parked_threads() {
  g_hold.store(0);
  futex_wake_all(g_hold);
}

bool park_if_requested(const siginfo_t* info) {
  if (!info || info->si_code != SI_TKILL ||
      info->si_pid != static_cast<pid_t>(raw_syscall6(SYS_getpid)))
    return false;
  // A raise() of the program's own while no request is out: not ours.
  int32_t unseen = g_unseen.load();
  do {
    if (unseen <= 0) return false;
  } while (!g_unseen.compare_exchange_weak(unseen, unseen - 1));
  if (g_hold.load() == 0) return true;  // came after a failed exec
  // Nothing else runs on this thread until the handler returns; sigreturn
  // restores the program's mask.
  uint64_t all = ~uint64_t{0};
  raw_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all), 0,
               sizeof all);
  g_parked.fetch_add(1);
  futex_wake_all(g_parked);
  while (g_hold.load() == 1) futex_wait(g_hold, 1, nullptr);
  g_parked.fetch_sub(1);
  return true;
}

}  // namespace huptime
