// fork_guard.h: a fork never copies an fd that a thread opened inside a
// TransientFds scope, and neither side waits for ever. Real threads and
// real forks: a thread keeps opening and closing a file inside scopes
// while the main thread forks; each child looks for that file in its own
// fd table.
#include "fork_guard.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

using namespace huptime;

namespace {

std::atomic<bool> g_stop{false};

// Opens /dev/zero at fd >= 100 (a number nothing else uses here), holds
// it ~20 us, closes it; scoped or not.
void churn(bool scoped) {
  while (!g_stop.load()) {
    if (scoped) transient_fds_begin();
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    close(fd);
    auto until =
        std::chrono::steady_clock::now() + std::chrono::microseconds(20);
    while (std::chrono::steady_clock::now() < until) {
    }
    close(high);
    if (scoped) transient_fds_end();
  }
}

// Forks `n` times; returns how many children found an fd >= 100 open.
int forks_that_copied(int n) {
  int copied = 0;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      int found = 0;
      for (int fd = 100; fd < 110; ++fd) found |= fcntl(fd, F_GETFD) >= 0;
      _exit(found);
    }
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    copied += WEXITSTATUS(status);
  }
  return copied;
}

int run(bool scoped, int forks) {
  g_stop = false;
  std::thread thread(churn, scoped);
  // Let the thread get going before the first fork.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int copied = forks_that_copied(forks);
  g_stop = true;
  thread.join();
  return copied;
}

}  // namespace

TEST_CASE("a fork waits until no short-lived fd of ours is open",
          "[fork_guard]") {
  static bool registered = [] {
    pthread_atfork(fork_guard_prepare, fork_guard_parent, fork_guard_child);
    return true;
  }();
  (void)registered;
  constexpr int kForks = 300;
  // The same churn without scopes: the test can see a copied fd at all.
  int unscoped = run(false, kForks);
  unsigned expired_before = fork_guard_expired_waits();
  int scoped = run(true, kForks);
  unsigned expired = fork_guard_expired_waits() - expired_before;
  INFO("children that inherited the fd: unscoped "
       << unscoped << ", scoped " << scoped
       << "; bounded waits that ran out: " << expired);
  CHECK(unscoped > 0);
  // A fork copies a scoped fd only when one side gave up waiting: a thread
  // starved of CPU for the whole bound (a loaded machine), not the guard.
  CHECK(static_cast<unsigned>(scoped) <= expired);
}

TEST_CASE("a scope in a forked child does not wait for the parent's forks",
          "[fork_guard]") {
  // The child's counters start from zero whatever the parent's were.
  fork_guard_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    fork_guard_child();
    auto start = std::chrono::steady_clock::now();
    transient_fds_begin();
    transient_fds_end();
    auto took = std::chrono::steady_clock::now() - start;
    _exit(took < std::chrono::milliseconds(50) ? 0 : 1);
  }
  fork_guard_parent();
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
