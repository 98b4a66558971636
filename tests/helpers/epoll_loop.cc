#include "epoll_loop.h"

#include <errno.h>
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "deadline.h"
#include "http.h"

namespace huptime::test {
namespace {

int libc_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return ::accept4(fd, addr, len, flags);
}
int libc_close(int fd) { return ::close(fd); }
int raw_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}
int raw_close(int fd) { return static_cast<int>(syscall(SYS_close, fd)); }

enum class Phase { kReading, kDelaying, kWriting };

struct Connection {
  Phase phase = Phase::kReading;
  std::string in;
  size_t sent = 0;
  Clock::time_point reply_at;
};

class EpollLoop {
 public:
  EpollLoop(const Server& server, SocketOps ops);
  [[noreturn]] void run();

 private:
  void control(int op, int fd, uint32_t events);
  void accept_all(int listener);
  void on_event(int fd, uint32_t events);
  void on_readable(int fd, Connection& conn);
  void start_reply(int fd, Connection& conn);
  void on_writable(int fd, Connection& conn);
  void finish(int fd);
  void fire_due_replies();
  int next_timeout_ms() const;

  const Server& server_;
  SocketOps ops_;
  int epfd_ = -1;
  std::unordered_set<int> listeners_;
  std::unordered_map<int, Connection> conns_;
};

EpollLoop::EpollLoop(const Server& server, SocketOps ops)
    : server_(server), ops_(ops) {
  epfd_ = epoll_create1(server.options.cloexec ? EPOLL_CLOEXEC : 0);
  if (epfd_ < 0) fatal_errno("epoll_create1");
  for (int fd : server.listeners) {
    listeners_.insert(fd);
    control(EPOLL_CTL_ADD, fd, EPOLLIN);
  }
}

void EpollLoop::control(int op, int fd, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epfd_, op, fd, &event) != 0)
    fatal_errno(fmt::format("epoll_ctl({}, fd {})", op, fd));
}

void EpollLoop::run() {
  epoll_event events[64];
  for (;;) {
    int count = epoll_wait(epfd_, events, 64, next_timeout_ms());
    if (count < 0 && errno != EINTR) fatal_errno("epoll_wait");
    for (int i = 0; i < count; ++i)
      on_event(events[i].data.fd, events[i].events);
    fire_due_replies();
  }
}

void EpollLoop::on_event(int fd, uint32_t events) {
  if (listeners_.count(fd)) return accept_all(fd);
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Connection& conn = it->second;
  if (conn.phase == Phase::kReading &&
      (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    on_readable(fd, conn);
  else if (conn.phase == Phase::kWriting && (events & (EPOLLOUT | EPOLLERR)))
    on_writable(fd, conn);
  else if (events & (EPOLLHUP | EPOLLERR))
    finish(fd);
}

// Accepts until EAGAIN. Errors follow blocking_serve's policy: transient
// ones are skipped, an unusable listener ends the program.
void EpollLoop::accept_all(int listener) {
  int flags = SOCK_NONBLOCK | (server_.options.cloexec ? SOCK_CLOEXEC : 0);
  for (;;) {
    int fd = ops_.accept4(listener, nullptr, nullptr, flags);
    if (fd >= 0) {
      conns_[fd] = Connection{};
      control(EPOLL_CTL_ADD, fd, EPOLLIN);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM)
      return;
    fatal_errno(fmt::format("accept4 on fd {}", listener));
  }
}

void EpollLoop::on_readable(int fd, Connection& conn) {
  char chunk[2048];
  for (;;) {
    ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (got <= 0 || conn.in.size() > kMaxRequestHead) return finish(fd);
    conn.in.append(chunk, static_cast<size_t>(got));
    if (request_complete(conn.in)) return start_reply(fd, conn);
  }
}

void EpollLoop::start_reply(int fd, Connection& conn) {
  if (server_.options.delay_ms > 0) {
    conn.phase = Phase::kDelaying;
    conn.reply_at =
        Clock::now() + std::chrono::milliseconds(server_.options.delay_ms);
    control(EPOLL_CTL_MOD, fd, 0);  // only EPOLLHUP/EPOLLERR while waiting
    return;
  }
  conn.phase = Phase::kWriting;
  on_writable(fd, conn);
}

void EpollLoop::on_writable(int fd, Connection& conn) {
  const std::string& out = server_.response;
  while (conn.sent < out.size()) {
    ssize_t sent =
        send(fd, out.data() + conn.sent, out.size() - conn.sent, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return control(EPOLL_CTL_MOD, fd, EPOLLOUT);
    if (sent <= 0) break;
    conn.sent += static_cast<size_t>(sent);
  }
  finish(fd);
}

void EpollLoop::finish(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  ops_.close(fd);
  conns_.erase(fd);
}

void EpollLoop::fire_due_replies() {
  if (server_.options.delay_ms <= 0) return;
  Clock::time_point now = Clock::now();
  std::vector<int> due;
  for (auto& [fd, conn] : conns_)
    if (conn.phase == Phase::kDelaying && conn.reply_at <= now)
      due.push_back(fd);
  for (int fd : due) {
    Connection& conn = conns_[fd];
    conn.phase = Phase::kWriting;
    on_writable(fd, conn);
  }
}

int EpollLoop::next_timeout_ms() const {
  int timeout = -1;
  for (const auto& [fd, conn] : conns_) {
    if (conn.phase != Phase::kDelaying) continue;
    int left = Deadline::at(conn.reply_at).poll_ms();
    if (timeout < 0 || left < timeout) timeout = left;
  }
  return timeout;
}

}  // namespace

SocketOps libc_socket_ops() { return {libc_accept4, libc_close}; }

SocketOps raw_syscall_socket_ops() { return {raw_accept4, raw_close}; }

void run_epoll_loop(const Server& server, SocketOps ops) {
  EpollLoop loop(server, ops);
  loop.run();
}

}  // namespace huptime::test
