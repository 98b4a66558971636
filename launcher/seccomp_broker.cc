#include "seccomp_broker.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "proc_peek.h"
#include "socket_id.h"

namespace huptime {

namespace {

// What the kernel is told about a stopped call.
struct Reply {
  enum Kind { kContinue, kReturn, kNone } kind = kContinue;
  int64_t value = 0;
  int error = 0;  // an errno, returned as -1 with errno set
};

int getsockopt_int(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  return getsockopt(fd, level, name, &value, &len) == 0 ? value : -1;
}

// The identity of socket `sock` once bound to `addr`.
bool socket_id_for(int sock, const sockaddr* addr, socklen_t len,
                   SocketId* out) {
  int type = getsockopt_int(sock, SOL_SOCKET, SO_TYPE);
  int protocol = getsockopt_int(sock, SOL_SOCKET, SO_PROTOCOL);
  int v6only = addr->sa_family == AF_INET6
                   ? getsockopt_int(sock, IPPROTO_IPV6, IPV6_V6ONLY)
                   : 0;
  return type >= 0 && make_socket_id(addr->sa_family, type, protocol, v6only,
                                     addr, len, out);
}

bool bound_id(int sock, SocketId* out) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return false;
  return socket_id_for(sock, reinterpret_cast<sockaddr*>(&addr), len, out);
}

std::string describe(const SocketId& id) {
  char text[160];
  format_socket_id(id, text, sizeof text);
  return text;
}

uint64_t inode_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

SyscallBroker::SyscallBroker(HeldListeners& held, Log log)
    : held_(held), log_(std::move(log)) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
    notif_size_ = sizes.seccomp_notif;
    resp_size_ = sizes.seccomp_notif_resp;
  }
  notif_size_ = std::max(notif_size_, sizeof(seccomp_notif));
  resp_size_ = std::max(resp_size_, sizeof(seccomp_notif_resp));
}

SyscallBroker::~SyscallBroker() {
  for (auto& [fd, gen] : gens_) close(fd);
}

void SyscallBroker::add(uint32_t generation, int notify_fd) {
  Gen gen;
  gen.number = generation;
  gen.fd = notify_fd;
  gens_[notify_fd] = std::move(gen);
}

void SyscallBroker::poll_fds(std::vector<pollfd>* out) const {
  for (const auto& [fd, gen] : gens_) out->push_back({fd, POLLIN, 0});
}

const std::set<uint64_t>& SyscallBroker::listened(uint32_t generation) const {
  static const std::set<uint64_t> kNone;
  for (const auto& [fd, gen] : gens_)
    if (gen.number == generation) return gen.listened;
  return kNone;
}

void SyscallBroker::on_event(int fd, short revents) {
  auto it = gens_.find(fd);
  if (it == gens_.end()) return;
  Gen& gen = it->second;
  if (revents & POLLIN) {
    // Everything waiting now, but never block: another process of the
    // generation may have been killed meanwhile.
    std::unique_ptr<char[]> buffer(new char[notif_size_]);
    auto* req = reinterpret_cast<seccomp_notif*>(buffer.get());
    for (int i = 0; i < 64; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)) break;
      memset(buffer.get(), 0, notif_size_);
      if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
        if (errno == EINTR || errno == ENOENT) continue;
        break;
      }
      answer(gen, *req);
    }
    return;
  }
  if (revents & (POLLHUP | POLLERR)) {
    // No process runs under this filter any more.
    close(fd);
    gens_.erase(it);
  }
}

void SyscallBroker::answer(Gen& gen, const seccomp_notif& req) {
  Reply reply;
  pid_t pid = thread_group_of(static_cast<pid_t>(req.pid));
  switch (req.data.nr) {
    case SYS_bind:
      if (pid > 0 && on_bind(gen, req)) reply.kind = Reply::kNone;
      break;
    case SYS_listen:
      if (pid > 0) on_listen(gen, req, pid);
      break;
    case SYS_shutdown: {
      uint64_t inode =
          pid > 0 ? remote_socket_inode(pid, static_cast<int>(req.data.args[0]))
                  : 0;
      if (inode != 0 && held_.knows(inode)) {
        log_(LogLevel::kDebug,
             "pid " + std::to_string(pid) +
                 ": shutdown() of a shared listener skipped (it would stop "
                 "every generation accepting)");
        reply.kind = Reply::kReturn;
      }
      break;
    }
#ifdef SYS_unlink
    case SYS_unlink:
#endif
    case SYS_unlinkat:
      if (pid > 0 && on_unlink(req, pid)) reply.kind = Reply::kReturn;
      break;
    case SYS_io_uring_setup:
      if (!gen.warned_io_uring)
        log_(LogLevel::kWarn,
             "pid " + std::to_string(pid) +
                 " called io_uring_setup(): refused with ENOSYS, since "
                 "io_uring can bind and accept where huptime cannot see it; "
                 "the program should fall back to plain system calls");
      gen.warned_io_uring = true;
      reply.kind = Reply::kReturn;
      reply.error = ENOSYS;
      break;
    default:
      break;
  }
  if (reply.kind == Reply::kNone) return;
  std::unique_ptr<char[]> buffer(new char[resp_size_]());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(buffer.get());
  resp->id = req.id;
  if (reply.kind == Reply::kContinue) {
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    resp->val = reply.value;
    resp->error = reply.error ? -reply.error : 0;
  }
  // ENOENT: the call was interrupted or its process died meanwhile.
  ioctl(gen.fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

int SyscallBroker::held_match(int sock, const void* addr, size_t len) const {
  SocketId wanted;
  if (!socket_id_for(sock, static_cast<const sockaddr*>(addr),
                     static_cast<socklen_t>(len), &wanted))
    return -1;
  for (const FdInode& item : held_.held()) {
    SocketId have;
    if (bound_id(item.fd, &have) && same_listener(have, wanted)) return item.fd;
  }
  return -1;
}

// True when the call was answered here (the held socket installed).
bool SyscallBroker::on_bind(Gen& gen, const seccomp_notif& req) {
  auto tid = static_cast<pid_t>(req.pid);
  pid_t pid = thread_group_of(tid);
  int fd = static_cast<int>(req.data.args[0]);
  auto len = static_cast<size_t>(req.data.args[2]);
  sockaddr_storage addr{};
  if (len < sizeof(sa_family_t) || len > sizeof addr ||
      !read_remote(tid, req.data.args[1], &addr, len))
    return false;
  FdCloser sock{copy_remote_fd(pid, fd)};
  if (sock.fd < 0) return false;
  SocketId wanted;
  if (!socket_id_for(sock.fd, reinterpret_cast<sockaddr*>(&addr),
                     static_cast<socklen_t>(len), &wanted))
    return false;
  std::pair<pid_t, int> key{pid, fd};
  if (is_ephemeral(wanted)) {
    gen.ephemeral.insert(key);
    return false;
  }
  gen.ephemeral.erase(key);
  int held = held_match(sock.fd, &addr, len);
  if (held < 0) return false;
  // The generations share one open file: its O_NONBLOCK follows the
  // program's own socket, as it would have been.
  int want = fcntl(sock.fd, F_GETFL);
  int have = fcntl(held, F_GETFL);
  if (want >= 0 && have >= 0 && ((want ^ have) & O_NONBLOCK))
    fcntl(held, F_SETFL, (have & ~O_NONBLOCK) | (want & O_NONBLOCK));
  uint64_t id = req.id;
  if (ioctl(gen.fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
    return true;  // the caller is gone
  seccomp_notif_addfd add{};
  add.id = req.id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<uint32_t>(held);
  add.newfd = static_cast<uint32_t>(fd);
  add.newfd_flags = remote_fd_cloexec(pid, fd) ? O_CLOEXEC : 0;
  if (ioctl(gen.fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
    log_(LogLevel::kWarn, "pid " + std::to_string(pid) + ": cannot hand over " +
                              describe(wanted) + ": " + strerror(errno) +
                              "; it binds a socket of its own");
    return false;
  }
  seccomp_notif_resp resp{};
  resp.id = req.id;
  ioctl(gen.fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  log_(LogLevel::kDebug, "pid " + std::to_string(pid) + ": bind(" +
                             std::to_string(fd) + ", " + describe(wanted) +
                             ") answered with the held socket");
  return true;
}

void SyscallBroker::on_listen(Gen& gen, const seccomp_notif& req, pid_t pid) {
  int fd = static_cast<int>(req.data.args[0]);
  if (gen.ephemeral.count({pid, fd})) return;
  int sock = copy_remote_fd(pid, fd);
  if (sock < 0) return;
  SocketId id;
  int type = getsockopt_int(sock, SOL_SOCKET, SO_TYPE);
  if ((type != SOCK_STREAM && type != SOCK_SEQPACKET) || !bound_id(sock, &id) ||
      is_ephemeral(id)) {
    close(sock);
    return;
  }
  uint64_t inode = inode_of(sock);
  if (is_unix_path(id) && !unix_paths_.count(inode)) {
    const auto& un = reinterpret_cast<const sockaddr_un&>(id.addr);
    std::string path =
        remote_absolute_path(pid, AT_FDCWD, std::string(un.sun_path));
    if (!path.empty()) unix_paths_[inode] = path;
  }
  if (gen.listened.insert(inode).second)
    log_(LogLevel::kDebug, "pid " + std::to_string(pid) + " listens on " +
                               describe(id) + " (generation " +
                               std::to_string(gen.number) + ")");
  held_.report(gen.number, sock, inode);
}

void SyscallBroker::remove_kept_paths() {
  for (const std::string& path : kept_paths_) {
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      unlink(path.c_str());
  }
  kept_paths_.clear();
}

// True when the path is that of a held UNIX socket: answered 0, not done.
bool SyscallBroker::on_unlink(const seccomp_notif& req, pid_t pid) {
  bool any = false;
  for (const auto& [inode, path] : unix_paths_) any = any || held_.knows(inode);
  if (!any) return false;
  bool at = req.data.nr == SYS_unlinkat;
  int dirfd = at ? static_cast<int>(req.data.args[0]) : AT_FDCWD;
  uint64_t address = at ? req.data.args[1] : req.data.args[0];
  if (at && (req.data.args[2] & AT_REMOVEDIR)) return false;
  std::optional<std::string> name =
      read_remote_string(static_cast<pid_t>(req.pid), address, PATH_MAX);
  if (!name) return false;
  std::string path = remote_absolute_path(pid, dirfd, *name);
  for (const auto& [inode, held_path] : unix_paths_)
    if (held_path == path && held_.knows(inode)) {
      kept_paths_.insert(path);
      log_(LogLevel::kDebug, "pid " + std::to_string(pid) + ": unlink(" + path +
                                 ") skipped: a shared listener's path");
      return true;
    }
  return false;
}

}  // namespace huptime
