// A single-threaded, non-blocking epoll server loop, the shape of nginx,
// libuv and most event-driven servers: listeners registered with
// epoll_ctl(ADD), every connection non-blocking and driven by readiness,
// --delay-ms honoured with epoll_wait timeouts rather than sleeping.
//
// accept4 and close go through a SocketOps table so that srv_rawsyscall can
// call them as raw syscall(2)s the way libuv does.
#pragma once

#include <sys/socket.h>

#include "server.h"

namespace huptime::test {

struct SocketOps {
  int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
  int (*close)(int fd);
};

// accept4(3) and close(3) from libc.
SocketOps libc_socket_ops();

// syscall(SYS_accept4, ...) and syscall(SYS_close, ...).
SocketOps raw_syscall_socket_ops();

// Serves every listener forever. The listeners must be non-blocking (open
// them with options.nonblock set).
[[noreturn]] void run_epoll_loop(const Server& server, SocketOps ops);

}  // namespace huptime::test
