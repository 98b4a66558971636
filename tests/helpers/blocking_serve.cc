#include "blocking_serve.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "http.h"

namespace huptime::test {
namespace {

bool transient_accept_error(int error) {
  switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused the connection
      return true;
    default:
      return false;
  }
}

bool resource_accept_error(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS ||
         error == ENOMEM;
}

int send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return -1;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return 0;
}

// Reads until the request head is complete; false on EOF, error or a head
// larger than kMaxRequestHead.
bool read_request_head(int fd) {
  std::string data;
  char chunk[2048];
  while (!request_complete(data)) {
    if (data.size() > kMaxRequestHead) return false;
    ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    data.append(chunk, static_cast<size_t>(got));
  }
  return true;
}

[[noreturn]] void accept_thread(const Server* server, int listener) {
  for (;;) {
    int fd = accept_blocking(*server, listener);
    if (fd < 0) continue;
    std::thread([server, fd] { serve_connection(*server, fd); }).detach();
  }
}

}  // namespace

int accept_blocking(const Server& server, int listener) {
  int fd = server.options.cloexec
               ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)
               : accept(listener, nullptr, nullptr);
  if (fd >= 0) return fd;
  int error = errno;
  if (error == EAGAIN || error == EWOULDBLOCK) {
    pollfd pfd{listener, POLLIN, 0};
    poll(&pfd, 1, -1);
    return -1;
  }
  if (transient_accept_error(error)) return -1;
  if (resource_accept_error(error)) {
    poll(nullptr, 0, 10);  // back off; the condition is not ours to wait on
    return -1;
  }
  errno = error;
  fatal_errno(fmt::format("accept on fd {}", listener));
}

void serve_connection(const Server& server, int fd) {
  if (read_request_head(fd)) {
    reply_delay(server);
    send_all(fd, server.response);
  }
  close(fd);
}

int single_listener(const Server& server) {
  if (server.listeners.size() != 1)
    fatal(
        "this server serves exactly one --listen address; use srv_poll, "
        "srv_epoll or srv_threaded for several");
  return server.listeners.front();
}

// --crash-after: no connection of ours is open, so no client loses one;
// those waiting in the listen queue are the reviver's to keep.
[[noreturn]] static void crash_now() {
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  abort();
}

void run_accept_loop(const Server& server, int listener) {
  int served = 0;
  for (;;) {
    int fd = accept_blocking(server, listener);
    if (fd < 0) continue;
    serve_connection(server, fd);
    if (++served == server.options.crash_after) crash_now();
  }
}

void run_threaded(const Server& server) {
  for (size_t i = 1; i < server.listeners.size(); ++i)
    std::thread(accept_thread, &server, server.listeners[i]).detach();
  accept_thread(&server, server.listeners.front());
}

}  // namespace huptime::test
