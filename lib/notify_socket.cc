#include "notify_socket.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>

#include "raw_syscall.h"

// bind, close and fcntl go through raw system calls: in the preloaded
// library their libc names are our own hooks, and these fds are not the
// program's.

namespace huptime {

namespace {

constexpr size_t kMaxDatagram = 4096;  // systemd's NOTIFY_BUFFER_MAX
constexpr int kMaxPerCall = 256;
constexpr int kMaxFdsPerMessage = 253;  // the kernel's SCM_MAX_FD

void close_fd(int fd) {
  if (fd >= 0) raw_syscall6(SYS_close, fd);
}

template <typename T>
bool parse_decimal(std::string_view text, T* out) {
  T value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    return false;
  *out = value;
  return true;
}

void apply_line(std::string_view line, NotifyMessage* msg) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return;
  std::string_view key = line.substr(0, eq);
  std::string_view value = line.substr(eq + 1);
  if (key == "READY") {
    if (value == "1") msg->ready = true;
  } else if (key == "RELOADING") {
    if (value == "1") msg->reloading = true;
  } else if (key == "STOPPING") {
    if (value == "1") msg->stopping = true;
  } else if (key == "STATUS") {
    msg->status = value;
  } else if (key == "ERRNO") {
    parse_decimal(value, &msg->errno_value);
  } else if (key == "MAINPID") {
    pid_t pid = 0;
    if (parse_decimal(value, &pid) && pid > 0) msg->main_pid = pid;
  }
}

// "@huptime-" and 32 hex digits from getrandom.
bool random_name(std::string* name) {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  *name = "@huptime-";
  for (unsigned char b : bytes) {
    *name += kHex[b >> 4];
    *name += kHex[b & 15];
  }
  return true;
}

// 0 or -errno.
int bind_abstract(int fd, const std::string& address) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // sun_path[0] stays NUL: the abstract namespace; no terminating NUL.
  memcpy(addr.sun_path + 1, address.data() + 1, address.size() - 1);
  auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  return static_cast<int>(
      raw_syscall6(SYS_bind, fd, reinterpret_cast<long>(&addr), len));
}

// A socket with SO_PASSCRED on from the start, so that no datagram can
// arrive without credentials. -1 with errno on failure.
int make_socket() {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0 && fd < 3) {
    long moved = raw_syscall_errno(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close_fd(fd);
    errno = saved;
    fd = static_cast<int>(moved);
  }
  if (fd < 0) return -1;
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    int saved = errno;
    close_fd(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// Closes the fds of every SCM_RIGHTS message; returns the credentials if
// the datagram carried them.
std::optional<ucred> take_control(msghdr* mh) {
  std::optional<ucred> cred;
  for (cmsghdr* c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        close_fd(passed);
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS &&
               c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred u;
      memcpy(&u, CMSG_DATA(c), sizeof u);
      cred = u;
    }
  }
  return cred;
}

}  // namespace

NotifyMessage parse_notify_message(std::string_view datagram) {
  NotifyMessage msg;
  while (!datagram.empty()) {
    size_t nl = datagram.find('\n');
    apply_line(datagram.substr(0, nl), &msg);
    if (nl == std::string_view::npos) break;
    datagram.remove_prefix(nl + 1);
  }
  return msg;
}

std::optional<NotifySocket> open_notify_socket() {
  NotifySocket result;
  result.fd = make_socket();
  if (result.fd < 0) return std::nullopt;
  // 128 random bits: a collision means someone guessed; try a fresh name.
  int rc = -EADDRINUSE;
  for (int attempt = 0; attempt < 3 && rc == -EADDRINUSE; ++attempt) {
    if (!random_name(&result.address)) {
      rc = -errno;
      break;
    }
    rc = bind_abstract(result.fd, result.address);
  }
  if (rc < 0) {
    close_fd(result.fd);
    errno = -rc;
    return std::nullopt;
  }
  return result;
}

std::vector<NotifyMessage> read_notify_messages(int fd, uid_t allowed_uid,
                                                int* dropped) {
  std::vector<NotifyMessage> out;
  int n_dropped = 0;
  char data[kMaxDatagram];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) +
                                CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  for (int i = 0; i < kMaxPerCall; ++i) {
    iovec iov{data, sizeof data};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: all read
    // fds that did not fit (MSG_CTRUNC) were never installed.
    std::optional<ucred> cred = take_control(&mh);
    if (!cred || (mh.msg_flags & MSG_TRUNC) ||
        (cred->uid != allowed_uid && cred->uid != 0)) {
      ++n_dropped;
      continue;
    }
    NotifyMessage msg =
        parse_notify_message(std::string_view(data, static_cast<size_t>(n)));
    msg.sender_pid = cred->pid;
    msg.sender_uid = cred->uid;
    out.push_back(std::move(msg));
  }
  if (dropped) *dropped = n_dropped;
  return out;
}

}  // namespace huptime
