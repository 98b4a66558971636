// The master's side of seccomp interception (seccomp_filter.h): answering
// the system calls the filter stopped, one notification fd per generation.
// This is the seccomp counterpart of the library's bind/listen hooks, and
// it feeds the same HeldListeners the preloaded generations report to, so
// the rest of the master does not care which path a generation took.
//
//  - bind() to an address the master holds: the held socket is installed
//    at the program's fd (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD, keeping
//    its close-on-exec and its O_NONBLOCK), and bind() returns 0: the new
//    generation accepts from the same queue. Anything else binds itself,
//    with the program's own credentials and options: an unprivileged
//    program gains no port through huptime, and port 0 is never shared.
//  - listen(): the socket is reported for the generation (a copy, taken
//    with pidfd_getfd), and the call goes on. The master holds a
//    generation's reported sockets once it serves.
//  - shutdown() of a held or reported socket returns 0 without effect:
//    one generation's shutdown would end accepting for all of them.
//  - unlink()/unlinkat() of the path of a held UNIX socket returns 0
//    without effect, so the path keeps leading to the shared socket.
//  - io_uring_setup() fails with ENOSYS (programs fall back to plain
//    system calls), with a warning: io_uring can bind and accept without
//    a system call the filter sees.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "master_listeners.h"

struct seccomp_notif;

namespace huptime {

class SyscallBroker {
 public:
  using Log = std::function<void(LogLevel, const std::string&)>;

  SyscallBroker(HeldListeners& held, Log log);
  ~SyscallBroker();
  SyscallBroker(const SyscallBroker&) = delete;
  SyscallBroker& operator=(const SyscallBroker&) = delete;

  // Generation `generation` was started with the filter; `notify_fd` is
  // its notification fd (owned from now on, until every process under the
  // filter is gone).
  void add(uint32_t generation, int notify_fd);

  // Appends one pollfd per notification fd.
  void poll_fds(std::vector<pollfd>* out) const;

  // Answers what is waiting on `fd` (an fd from poll_fds with revents).
  void on_event(int fd, short revents);

  // At the service's end: removes the paths of held UNIX sockets whose
  // unlink() was skipped (the program would have removed them itself).
  void remove_kept_paths();

  // Sockets generation `generation` has listened on (inodes).
  const std::set<uint64_t>& listened(uint32_t generation) const;

 private:
  struct Gen {
    uint32_t number = 0;
    int fd = -1;
    std::set<uint64_t> listened;
    std::set<std::pair<pid_t, int>> ephemeral;  // (process, fd) bound to 0
    bool warned_io_uring = false;
  };

  void answer(Gen& gen, const seccomp_notif& req);
  bool on_bind(Gen& gen, const seccomp_notif& req);
  void on_listen(Gen& gen, const seccomp_notif& req, pid_t pid);
  bool on_unlink(const seccomp_notif& req, pid_t pid);
  int held_match(int sock, const void* addr, size_t len) const;

  HeldListeners& held_;
  Log log_;
  std::map<int, Gen> gens_;                     // by notification fd
  std::map<uint64_t, std::string> unix_paths_;  // socket inode → its path
  std::set<std::string> kept_paths_;            // unlink() skipped
  size_t notif_size_ = 0;
  size_t resp_size_ = 0;
};

}  // namespace huptime
