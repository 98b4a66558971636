#include "proc_peek.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace huptime {

namespace {

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n <= 0 || static_cast<size_t>(n) >= sizeof buf
             ? std::string()
             : std::string(buf, static_cast<size_t>(n));
}

std::string proc(pid_t pid, const std::string& rest) {
  return "/proc/" + std::to_string(pid) + "/" + rest;
}

// The system calls that mean "waiting for a connection or an event".
bool is_wait_call(long nr) {
  switch (nr) {
#ifdef SYS_accept
    case SYS_accept:
#endif
    case SYS_accept4:
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll:
#ifdef SYS_select
    case SYS_select:
#endif
    case SYS_pselect6:
      return true;
    default:
      return false;
  }
}

bool thread_waits(pid_t pid, const std::string& tid) {
  std::ifstream in(proc(pid, "task/" + tid + "/syscall"));
  long nr = -1;
  return (in >> nr) && is_wait_call(nr);
}

}  // namespace

pid_t thread_group_of(pid_t tid) {
  std::ifstream in(proc(tid, "status"));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("Tgid:"))
      return static_cast<pid_t>(std::strtol(line.c_str() + 5, nullptr, 10));
  return -1;
}

bool read_remote(pid_t tid, uint64_t address, void* out, size_t size) {
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(address), size};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) ==
         static_cast<ssize_t>(size);
}

std::optional<std::string> read_remote_string(pid_t tid, uint64_t address,
                                              size_t max) {
  // Page by page: the string may end just before an unmapped page.
  constexpr uint64_t kPage = 4096;
  std::string out;
  while (out.size() < max) {
    size_t chunk = static_cast<size_t>(kPage - address % kPage);
    char buf[kPage];
    if (!read_remote(tid, address, buf, chunk)) return std::nullopt;
    const void* end = memchr(buf, '\0', chunk);
    if (end) {
      out.append(buf, static_cast<size_t>(static_cast<const char*>(end) - buf));
      return out.size() <= max ? std::optional(out) : std::nullopt;
    }
    out.append(buf, chunk);
    address += chunk;
  }
  return std::nullopt;
}

int copy_remote_fd(pid_t pid, int fd) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  int copy = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  close(pidfd);
  return copy;
}

uint64_t remote_socket_inode(pid_t pid, int fd) {
  std::string link = read_link(proc(pid, "fd/" + std::to_string(fd)));
  if (!link.starts_with("socket:[")) return 0;
  return std::strtoull(link.c_str() + 8, nullptr, 10);
}

bool remote_fd_cloexec(pid_t pid, int fd) {
  std::ifstream in(proc(pid, "fdinfo/" + std::to_string(fd)));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("flags:"))
      return (std::strtoul(line.c_str() + 6, nullptr, 8) & O_CLOEXEC) != 0;
  return false;
}

std::string remote_absolute_path(pid_t pid, int dirfd,
                                 const std::string& path) {
  if (path.empty()) return "";
  std::filesystem::path p(path);
  if (!p.is_absolute()) {
    std::string base =
        read_link(dirfd == AT_FDCWD ? proc(pid, "cwd")
                                    : proc(pid, "fd/" + std::to_string(dirfd)));
    if (base.empty() || base[0] != '/') return "";
    p = std::filesystem::path(base) / p;
  }
  return p.lexically_normal().string();
}

namespace {

// Calls `each(pid, tid)` for every thread of `pid` and its descendants
// (at most 256 processes) until it returns true.
template <typename Each>
bool any_thread(pid_t pid, Each each) {
  std::vector<pid_t> pids{pid};
  for (size_t i = 0; i < pids.size() && i < 256; ++i) {
    DIR* dir = opendir(proc(pids[i], "task").c_str());
    if (!dir) continue;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      if (each(pids[i], std::string(entry->d_name))) {
        closedir(dir);
        return true;
      }
      std::ifstream children(
          proc(pids[i], std::string("task/") + entry->d_name + "/children"));
      pid_t child;
      while (children >> child) pids.push_back(child);
    }
    closedir(dir);
  }
  return false;
}

}  // namespace

bool waiting_for_work(pid_t pid) {
  return any_thread(pid, [](pid_t process, const std::string& tid) {
    return thread_waits(process, tid);
  });
}

bool holds_any_socket(pid_t pid, const std::set<uint64_t>& inodes) {
  if (inodes.empty()) return false;
  pid_t last = -1;
  return any_thread(pid, [&](pid_t process, const std::string&) {
    if (process == last) return false;  // one look per process
    last = process;
    DIR* dir = opendir(proc(process, "fd").c_str());
    if (!dir) return false;
    bool found = false;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      uint64_t inode = remote_socket_inode(
          process, static_cast<int>(std::strtol(entry->d_name, nullptr, 10)));
      if (inode != 0 && inodes.count(inode)) {
        found = true;
        break;
      }
    }
    closedir(dir);
    return found;
  });
}

}  // namespace huptime
