// Socket address specifications shared by the helper servers, the load
// client and the integration driver:
//
//   tcp:127.0.0.1:PORT   tcp:0.0.0.0:PORT     IPv4 stream socket
//   tcp6:[::1]:PORT      tcp6:[::]:PORT       IPv6 stream socket
//   unix:/path                                UNIX stream socket on a path
//   abstract:NAME                             UNIX stream socket, abstract
//
// A spec names the address a server binds or a client connects to. Servers
// bind every address as given; clients may connect to a wildcard spec, which
// they rewrite to the loopback address of the same family.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace huptime::test {

struct SockSpec {
  std::string text;         // the spec as written
  int family = AF_UNSPEC;   // AF_INET, AF_INET6 or AF_UNIX
  sockaddr_storage addr{};  // ready for bind(2) / connect(2)
  socklen_t addr_len = 0;
  std::string unix_path;  // the file-system path, for "unix:" only
};

// Parses a spec; on error returns nullopt and sets *error.
std::optional<SockSpec> parse_sockspec(std::string_view text,
                                       std::string* error);

// The spec a client should connect to for a server spec: wildcard IPv4 and
// IPv6 addresses become 127.0.0.1 and ::1, everything else is unchanged.
SockSpec client_view(const SockSpec& spec);

}  // namespace huptime::test
