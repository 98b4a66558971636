// Socket identity: what makes a new copy's bind() "the same listener" as
// one it inherited. Family, type, protocol and local address (with
// IPV6_V6ONLY for IPv6, since [::]:80 dual-stack and v6-only are different
// sockets). Pure: built from values the caller read from the kernel.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>

namespace huptime {

struct SocketId {
  int family = 0;
  int type = 0;  // SOCK_STREAM etc., without SOCK_NONBLOCK/SOCK_CLOEXEC
  int protocol = 0;
  int v6only = -1;  // IPv6 only: 0 or 1; -1 elsewhere
  socklen_t addr_len = 0;
  sockaddr_storage addr{};
};

// Builds an id from a sockaddr (as given to bind() or returned by
// getsockname()). Returns false for unsupported families or bad lengths.
bool make_socket_id(int family, int type, int protocol, int v6only,
                    const sockaddr* addr, socklen_t len, SocketId* out);

// True when a bind() to `wanted` should be answered with `held`.
bool same_listener(const SocketId& held, const SocketId& wanted);

// Port 0 or an autobound UNIX address: the kernel picks, never inherited.
bool is_ephemeral(const SocketId& id);

// AF_UNIX bound to a path in the file system (not abstract, not unnamed).
bool is_unix_path(const SocketId& id);

// "127.0.0.1:8080", "[::]:80", "unix:/run/app.sock", "abstract:@name".
// Always NUL-terminates; returns the length written.
size_t format_socket_id(const SocketId& id, char* buf, size_t size);

}  // namespace huptime
