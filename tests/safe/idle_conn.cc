#include "idle_conn.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace huptime::test {

IdleConnection::IdleConnection(const SockSpec& target,
                               const std::string& partial) {
  SockSpec peer = client_view(target);
  fd_ = socket(peer.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&peer.addr),
                         peer.addr_len) != 0)
    throw std::runtime_error(fmt::format("idle connection to {}: {}", peer.text,
                                         std::strerror(errno)));
  if (!partial.empty() &&
      send(fd_, partial.data(), partial.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(partial.size()))
    throw std::runtime_error(fmt::format("idle connection to {}: send: {}",
                                         peer.text, std::strerror(errno)));
}

IdleConnection::~IdleConnection() { close_now(); }

void IdleConnection::close_now() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool IdleConnection::wait_closed_by_server(const Deadline& deadline) {
  if (fd_ < 0) return false;
  char chunk[4096];
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, deadline.poll_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t got = recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (got == 0) return true;                                      // EOF
    if (got < 0 && errno != EAGAIN && errno != EINTR) return true;  // RST
  }
}

bool IdleConnection::still_open() {
  if (fd_ < 0) return false;
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, 0) <= 0) return true;
  char byte;
  ssize_t got = recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return got > 0 || (got < 0 && errno == EAGAIN);
}

}  // namespace huptime::test
