// What `huptime --master` reads of another process when it answers that
// process's trapped system calls (seccomp_broker.h) or judges whether it
// serves: its memory, its fds, its threads' current system calls. All
// through /proc, process_vm_readv and pidfd_getfd; the master is the
// parent (or root), which is what the kernel's ptrace access check wants.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace huptime {

// The process (thread group) of thread `tid`, or -1.
pid_t thread_group_of(pid_t tid);

// Copies `size` bytes at `address` in thread `tid`'s memory. False when
// any of it cannot be read.
bool read_remote(pid_t tid, uint64_t address, void* out, size_t size);

// A NUL-terminated string of at most `max` bytes at `address`.
std::optional<std::string> read_remote_string(pid_t tid, uint64_t address,
                                              size_t max);

// A copy of process `pid`'s fd `fd` in this process (close-on-exec), or -1.
int copy_remote_fd(pid_t pid, int fd);

// The inode of the socket at process `pid`'s fd `fd` ("socket:[N]"), or 0.
uint64_t remote_socket_inode(pid_t pid, int fd);

// Whether process `pid`'s fd `fd` is close-on-exec (fdinfo flags).
bool remote_fd_cloexec(pid_t pid, int fd);

// Where a path given to process `pid` points: `path` itself when
// absolute, else resolved against its working directory (dirfd AT_FDCWD)
// or its fd `dirfd`. Lexically normal; empty when it cannot be told.
std::string remote_absolute_path(pid_t pid, int dirfd, const std::string& path);

// True when `pid` or one of its descendants has an fd open on one of the
// sockets `inodes`.
bool holds_any_socket(pid_t pid, const std::set<uint64_t>& inodes);

// True when a thread of `pid`, or of one of its children, is blocked in a
// call that waits for connections or events (accept, epoll, poll,
// select): the program has finished starting and serves.
bool waiting_for_work(pid_t pid);

}  // namespace huptime
