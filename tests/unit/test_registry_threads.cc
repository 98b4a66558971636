// The fd registry (lib/fd_table.h words, lib/listener_table.h records)
// under what a busy threaded server does to it: many threads accept and
// close connections, dup and dup2 a listener and close the copies, while
// another forks (holding the listener lock, as the fork hook does) and a
// scanner walks the table (as the restart thread does). The threads follow
// the hooks' protocol (lib/tracking.cc): a word is set after the real
// accept/dup returns and cleared before the real close, so that a number
// the kernel hands out again is never claimed twice. Built under TSan by
// tests/sanitize/run-sanitized, where a data race fails the test.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "fd_table.h"
#include "listener_table.h"

using namespace huptime;

namespace {

struct Registry {
  FdTable fds;
  ListenerTable listeners;
  std::atomic<int> conns{0};
};

// The hooks' bookkeeping, as lib/tracking.cc does it.
void track_conn(Registry& r, int fd) {
  uint32_t prev = r.fds.exchange(fd, make_entry(FdKind::kConn, 0, false));
  if (entry_kind(prev) != FdKind::kConn) r.conns.fetch_add(1);
}

void track_dup(Registry& r, int fd1, int fd2) {
  uint32_t word = r.fds.get(fd1);
  if (entry_kind(word) != FdKind::kListener) return;
  {
    ListenerLock lock(r.listeners);
    r.listeners.add_ref_unlocked(entry_slot(word));
  }
  r.fds.exchange(fd2, word);
}

void untrack(Registry& r, int fd) {
  uint32_t prev = r.fds.exchange(fd, 0);
  if (entry_kind(prev) == FdKind::kConn) {
    r.conns.fetch_sub(1);
  } else if (entry_kind(prev) == FdKind::kListener) {
    ListenerLock lock(r.listeners);
    r.listeners.drop_ref_unlocked(entry_slot(prev));
  }
}

void tracked_close(Registry& r, int fd) {
  untrack(r, fd);
  close(fd);
}

int listen_loopback() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 512) == 0);
  return fd;
}

int connect_to(int listener) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// In a fork child: every listener word names a record in use with at least
// one reference. Only reads memory; the child calls nothing else but _exit.
bool consistent_after_fork(Registry& r) {
  r.listeners.reinit_after_fork();
  bool ok = true;
  r.fds.for_each([&](int, uint32_t word) {
    if (entry_kind(word) != FdKind::kListener) return;
    Listener& l = r.listeners.at_unlocked(entry_slot(word));
    if (!l.in_use || l.refs < 1) ok = false;
  });
  return ok;
}

}  // namespace

TEST_CASE("registry: concurrent accept, close, dup, dup2 and fork",
          "[registry][threads]") {
  auto r = std::make_unique<Registry>();
  int listener = listen_loopback();
  uint32_t slot;
  {
    ListenerLock lock(r->listeners);
    slot = r->listeners.allocate_unlocked();
    REQUIRE(slot != 0);
    r->listeners.add_ref_unlocked(slot);
  }
  r->fds.exchange(listener, make_entry(FdKind::kListener, slot, false));

  constexpr int kRounds = 400;
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, dups{0}, forks{0}, bad_children{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {  // accept + close, the fd numbers reused
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        int client = connect_to(listener);
        if (client < 0) continue;
        int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn >= 0) {
          track_conn(*r, conn);
          accepted.fetch_add(1);
          tracked_close(*r, conn);
        }
        close(client);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {  // dup, then dup2 the copy over another fd
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        int copy = dup(listener);
        if (copy < 0) continue;
        track_dup(*r, listener, copy);
        int target = open("/dev/null", O_RDONLY | O_CLOEXEC);
        untrack(*r, target);  // dup2 replaces target: forget it first
        if (dup2(copy, target) == target) track_dup(*r, copy, target);
        tracked_close(*r, copy);
        tracked_close(*r, target);
        dups.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {  // fork, holding the lock as the hook does
    for (int i = 0; i < 40 && !stop.load(); ++i) {
      pid_t pid;
      {
        ListenerLock lock(r->listeners);
        pid = fork();
        if (pid == 0) _exit(consistent_after_fork(*r) ? 0 : 1);
      }
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, 0) == pid) {
        forks.fetch_add(1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
          bad_children.fetch_add(1);
      }
    }
  });
  std::atomic<int> scans{0};
  std::thread scanner([&] {  // the restart thread's walks
    while (!stop.load()) {
      int listeners_seen = 0;
      r->fds.for_each([&](int, uint32_t word) {
        if (entry_kind(word) == FdKind::kListener) ++listeners_seen;
      });
      ListenerLock lock(r->listeners);
      r->listeners.for_each_unlocked([](uint32_t, Listener&) {});
      scans.fetch_add(listeners_seen > 0 ? 1 : 0);
    }
  });
  for (auto& thread : threads) thread.join();
  stop.store(true);
  scanner.join();

  INFO("accepted " << accepted << ", dups " << dups << ", forks " << forks
                   << ", scans " << scans);
  CHECK(accepted.load() > kRounds);
  CHECK(dups.load() == 2 * kRounds);
  CHECK(forks.load() == 40);
  CHECK(bad_children.load() == 0);
  CHECK(scans.load() > 0);
  // Back to the start: no connection counted, only the listener's word,
  // its record with the one reference it started with.
  CHECK(r->conns.load() == 0);
  int words = 0;
  r->fds.for_each([&](int fd, uint32_t word) {
    ++words;
    CHECK(fd == listener);
    CHECK(entry_kind(word) == FdKind::kListener);
  });
  CHECK(words == 1);
  ListenerLock lock(r->listeners);
  CHECK(r->listeners.at_unlocked(slot).refs == 1);
  close(listener);
}
