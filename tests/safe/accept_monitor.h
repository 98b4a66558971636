// Watches, from a thread of its own, which processes hold a listening TCP
// socket, for the chaos cases' "never two generations accepting for longer
// than the drain timeout".
//
// Ground truth from /proc, not from the library's books: every 50 ms it
// lists the processes of the watched process groups and counts those with
// the listening socket (its inode, from /proc/net/tcp) among their open
// fds. A generation that stops accepting swaps a placeholder over its
// listener fds (README: Stop accepting) and keeps no copy in fork mode, so
// a second holder is a starting copy that has inherited the socket or an
// old copy that still accepts. The master (`huptime --master`), which
// keeps the sockets for the copies it starts, is not counted. The longest
// run of samples with two or more holders is what the cases check.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "deadline.h"

namespace huptime::test {

// The inode of the socket listening on 127.0.0.1:port, or 0.
unsigned long listening_inode(int port);

// How many processes of `groups` (but `excluded`) have `inode` open.
int count_holders(unsigned long inode, const std::vector<pid_t>& groups,
                  const std::vector<pid_t>& excluded);

class AcceptMonitor {
 public:
  explicit AcceptMonitor(int port);
  ~AcceptMonitor();  // stops
  AcceptMonitor(const AcceptMonitor&) = delete;
  AcceptMonitor& operator=(const AcceptMonitor&) = delete;

  // Starts watching `group` too; `master` (0: none) is never counted.
  // The socket's inode is looked up again (a new master binds anew).
  void watch(pid_t group, pid_t master);

  // Stops; the longest time (ms) two or more processes held the socket.
  double stop();
  int max_holders() const { return max_holders_.load(); }

 private:
  void run();

  int port_;
  std::mutex mutex_;
  std::vector<pid_t> groups_;    // guarded by mutex_
  std::vector<pid_t> excluded_;  // guarded by mutex_
  unsigned long inode_ = 0;      // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<int> max_holders_{0};
  double longest_ms_ = 0;
  std::thread thread_;
};

}  // namespace huptime::test
