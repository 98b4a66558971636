#include "socket_id.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>

namespace huptime {

namespace {

constexpr socklen_t kSunPathOffset = offsetof(sockaddr_un, sun_path);

const sockaddr_un& as_un(const SocketId& id) {
  return *reinterpret_cast<const sockaddr_un*>(&id.addr);
}

// Length of the meaningful part of sun_path: up to the NUL for paths, the
// whole given length for abstract names (which start with a NUL byte).
size_t unix_name_len(const SocketId& id) {
  if (id.addr_len <= kSunPathOffset) return 0;
  size_t len = id.addr_len - kSunPathOffset;
  const char* path = as_un(id).sun_path;
  if (path[0] == '\0') return len;
  return strnlen(path, len);
}

}  // namespace

bool make_socket_id(int family, int type, int protocol, int v6only,
                    const sockaddr* addr, socklen_t len, SocketId* out) {
  if (addr == nullptr || len > sizeof(sockaddr_storage)) return false;
  if (len < sizeof(sa_family_t) || addr->sa_family != family) return false;
  if (family == AF_INET && len < sizeof(sockaddr_in)) return false;
  if (family == AF_INET6 && len < sizeof(sockaddr_in6)) return false;
  if (family == AF_UNIX && len > sizeof(sockaddr_un)) return false;
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
    return false;
  SocketId id;
  id.family = family;
  id.type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  id.protocol = protocol;
  id.v6only = family == AF_INET6 ? (v6only ? 1 : 0) : -1;
  memcpy(&id.addr, addr, len);
  if (family == AF_INET) {
    id.addr_len = sizeof(sockaddr_in);
  } else if (family == AF_INET6) {
    id.addr_len = sizeof(sockaddr_in6);
    // Flow info is not part of the address a socket is bound to.
    reinterpret_cast<sockaddr_in6*>(&id.addr)->sin6_flowinfo = 0;
  } else {
    id.addr_len = len;
  }
  *out = id;
  return true;
}

bool same_listener(const SocketId& held, const SocketId& wanted) {
  if (held.family != wanted.family || held.type != wanted.type) return false;
  if (held.protocol != wanted.protocol && held.protocol != 0 &&
      wanted.protocol != 0)
    return false;
  if (is_ephemeral(wanted)) return false;
  if (held.family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(held.addr);
    auto& b = reinterpret_cast<const sockaddr_in&>(wanted.addr);
    return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
  }
  if (held.family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(held.addr);
    auto& b = reinterpret_cast<const sockaddr_in6&>(wanted.addr);
    return a.sin6_port == b.sin6_port &&
           memcmp(&a.sin6_addr, &b.sin6_addr, sizeof a.sin6_addr) == 0 &&
           a.sin6_scope_id == b.sin6_scope_id && held.v6only == wanted.v6only;
  }
  size_t len = unix_name_len(held);
  return len > 0 && len == unix_name_len(wanted) &&
         memcmp(as_un(held).sun_path, as_un(wanted).sun_path, len) == 0;
}

bool is_ephemeral(const SocketId& id) {
  if (id.family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(id.addr).sin_port == 0;
  if (id.family == AF_INET6)
    return reinterpret_cast<const sockaddr_in6&>(id.addr).sin6_port == 0;
  return unix_name_len(id) == 0;
}

bool is_unix_path(const SocketId& id) {
  return id.family == AF_UNIX && unix_name_len(id) > 0 &&
         as_un(id).sun_path[0] != '\0';
}

size_t format_socket_id(const SocketId& id, char* buf, size_t size) {
  if (size == 0) return 0;
  char host[INET6_ADDRSTRLEN] = "?";
  fmt::format_to_n_result<char*> r{buf, 0};
  if (id.family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(id.addr);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    r = fmt::format_to_n(buf, size - 1, "{}:{}", host, ntohs(a.sin_port));
  } else if (id.family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(id.addr);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    r = fmt::format_to_n(buf, size - 1, "[{}]:{}{}", host, ntohs(a.sin6_port),
                         id.v6only == 1 ? " (v6only)" : "");
  } else if (id.family == AF_UNIX) {
    size_t len = unix_name_len(id);
    const char* path = as_un(id).sun_path;
    if (len == 0)
      r = fmt::format_to_n(buf, size - 1, "unix:(unnamed)");
    else if (path[0] == '\0')
      r = fmt::format_to_n(buf, size - 1, "abstract:@{}",
                           std::string_view(path + 1, len - 1));
    else
      r = fmt::format_to_n(buf, size - 1, "unix:{}",
                           std::string_view(path, len));
  } else {
    r = fmt::format_to_n(buf, size - 1, "family {}", id.family);
  }
  size_t n = r.size < size - 1 ? r.size : size - 1;
  buf[n] = '\0';
  return n;
}

}  // namespace huptime
