// lib/socket_id: what makes a bind() "the same listener" as an inherited one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <string>

#include "socket_id.h"

using namespace huptime;
using namespace std::string_literals;

namespace {

constexpr socklen_t kPathOffset = offsetof(sockaddr_un, sun_path);

SocketId inet(const char* host, int port, int type = SOCK_STREAM,
              int protocol = 0) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(inet_pton(AF_INET, host, &a.sin_addr) == 1);
  SocketId id;
  REQUIRE(make_socket_id(AF_INET, type, protocol, 0,
                         reinterpret_cast<sockaddr*>(&a), sizeof a, &id));
  return id;
}

SocketId inet6(const char* host, int port, int v6only, uint32_t scope = 0,
               uint32_t flowinfo = 0) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  a.sin6_scope_id = scope;
  a.sin6_flowinfo = flowinfo;
  REQUIRE(inet_pton(AF_INET6, host, &a.sin6_addr) == 1);
  SocketId id;
  REQUIRE(make_socket_id(AF_INET6, SOCK_STREAM, 0, v6only,
                         reinterpret_cast<sockaddr*>(&a), sizeof a, &id));
  return id;
}

// An AF_UNIX id for `name` (may start with or contain NULs), with `extra`
// bytes of the length beyond the name (1 = the trailing NUL of a path).
SocketId unix_id(const std::string& name, socklen_t extra = 0,
                 int type = SOCK_STREAM) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(name.size() <= sizeof a.sun_path);
  std::memcpy(a.sun_path, name.data(), name.size());
  socklen_t len = kPathOffset + static_cast<socklen_t>(name.size()) + extra;
  SocketId id;
  REQUIRE(make_socket_id(AF_UNIX, type, 0, 0, reinterpret_cast<sockaddr*>(&a),
                         len, &id));
  return id;
}

std::string format(const SocketId& id, size_t size = 256) {
  std::string buf(size + 4, '#');
  size_t n = format_socket_id(id, buf.data(), size);
  REQUIRE(n < size);
  REQUIRE(buf[n] == '\0');
  CHECK(buf.substr(size) == "####");  // nothing written past `size`
  return buf.substr(0, n);
}

}  // namespace

TEST_CASE("socket_id: building ids", "[socket_id]") {
  SocketId v4 = inet("127.0.0.1", 8080,
                     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  CHECK(v4.family == AF_INET);
  CHECK(v4.type == SOCK_STREAM);  // flags stripped
  CHECK(v4.protocol == IPPROTO_TCP);
  CHECK(v4.v6only == -1);
  CHECK(v4.addr_len == sizeof(sockaddr_in));

  SocketId v6 = inet6("::1", 80, 7, 0, 0x12345);
  CHECK(v6.v6only == 1);  // normalized
  CHECK(v6.addr_len == sizeof(sockaddr_in6));
  CHECK(reinterpret_cast<const sockaddr_in6&>(v6.addr).sin6_flowinfo == 0);
  CHECK(inet6("::1", 80, 0).v6only == 0);

  SocketId path = unix_id("/run/app.sock", 1);
  CHECK(path.family == AF_UNIX);
  CHECK(path.addr_len == kPathOffset + 14);
  CHECK(is_unix_path(path));
  CHECK_FALSE(is_ephemeral(path));

  SocketId abstract = unix_id("\0name"s);
  CHECK_FALSE(is_unix_path(abstract));
  CHECK_FALSE(is_ephemeral(abstract));

  SocketId unnamed = unix_id("");
  CHECK(unnamed.addr_len == kPathOffset);
  CHECK_FALSE(is_unix_path(unnamed));
  CHECK(is_ephemeral(unnamed));

  CHECK(is_ephemeral(inet("0.0.0.0", 0)));
  CHECK(is_ephemeral(inet6("::", 0, 0)));
  CHECK_FALSE(is_ephemeral(inet("0.0.0.0", 1)));
  CHECK_FALSE(is_unix_path(v4));
}

TEST_CASE("socket_id: bad families and lengths are rejected", "[socket_id]") {
  sockaddr_storage ss{};
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  SocketId id;
  id.family = 12345;  // must stay untouched on failure
  auto rejects = [&](int family, int sa_family, socklen_t len) {
    ss.ss_family = static_cast<sa_family_t>(sa_family);
    bool ok = make_socket_id(family, SOCK_STREAM, 0, 0, sa, len, &id);
    return !ok && id.family == 12345;
  };
  CHECK(rejects(AF_INET, AF_INET, sizeof(sockaddr_in) - 1));
  CHECK(rejects(AF_INET, AF_INET, 0));
  CHECK(rejects(AF_INET, AF_INET, 1));
  CHECK(rejects(AF_INET6, AF_INET6, sizeof(sockaddr_in6) - 1));
  CHECK(rejects(AF_INET6, AF_INET6, sizeof(sockaddr_in)));
  CHECK(rejects(AF_UNIX, AF_UNIX, 1));
  CHECK(rejects(AF_INET, AF_INET, sizeof(sockaddr_storage) + 1));
  CHECK(rejects(AF_INET, AF_INET6, sizeof(sockaddr_in6)));  // mismatch
  CHECK(rejects(AF_INET6, AF_INET, sizeof(sockaddr_in6)));
  CHECK(rejects(AF_NETLINK, AF_NETLINK, 12));
  CHECK(rejects(AF_PACKET, AF_PACKET, 20));
  CHECK(rejects(AF_UNSPEC, AF_UNSPEC, sizeof(sockaddr_in)));
  CHECK_FALSE(make_socket_id(AF_INET, SOCK_STREAM, 0, 0, nullptr,
                             sizeof(sockaddr_in), &id));

  // Longer than the family's sockaddr is accepted (as bind() does for IP).
  ss.ss_family = AF_INET;
  CHECK(make_socket_id(AF_INET, SOCK_STREAM, 0, 0, sa, sizeof ss, &id));
  CHECK(id.addr_len == sizeof(sockaddr_in));
}

// bind() on AF_UNIX fails with EINVAL when the length is larger than
// sizeof(sockaddr_un); an id built from such a length reads (and compares)
// bytes beyond the caller's sockaddr_un.
TEST_CASE("socket_id: AF_UNIX longer than sockaddr_un is rejected",
          "[socket_id]") {
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  std::memcpy(reinterpret_cast<sockaddr_un*>(&ss)->sun_path, "/x", 3);
  SocketId id;
  CHECK(make_socket_id(AF_UNIX, SOCK_STREAM, 0, 0,
                       reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_un),
                       &id));
  CHECK_FALSE(make_socket_id(AF_UNIX, SOCK_STREAM, 0, 0,
                             reinterpret_cast<sockaddr*>(&ss),
                             sizeof(sockaddr_un) + 1, &id));
}

TEST_CASE("socket_id: IPv4 listeners", "[socket_id]") {
  SocketId held = inet("0.0.0.0", 80);
  CHECK(same_listener(held, inet("0.0.0.0", 80)));
  CHECK(same_listener(held, inet("0.0.0.0", 80, SOCK_STREAM | SOCK_NONBLOCK)));
  CHECK_FALSE(same_listener(held, inet("0.0.0.0", 81)));
  CHECK_FALSE(same_listener(held, inet("127.0.0.1", 80)));
  CHECK_FALSE(same_listener(held, inet("0.0.0.0", 80, SOCK_DGRAM)));
  CHECK_FALSE(same_listener(held, inet6("::", 80, 0)));
  CHECK_FALSE(same_listener(held, unix_id("/x", 1)));
  // Protocol 0 means "the default for the type".
  CHECK(same_listener(inet("0.0.0.0", 80, SOCK_STREAM, IPPROTO_TCP), held));
  CHECK(same_listener(held, inet("0.0.0.0", 80, SOCK_STREAM, IPPROTO_TCP)));
  CHECK_FALSE(same_listener(inet("0.0.0.0", 80, SOCK_STREAM, IPPROTO_TCP),
                            inet("0.0.0.0", 80, SOCK_STREAM, IPPROTO_SCTP)));
  // Port 0 never matches, not even itself.
  SocketId any = inet("0.0.0.0", 0);
  CHECK_FALSE(same_listener(any, any));
  CHECK_FALSE(same_listener(held, any));
  CHECK_FALSE(same_listener(any, held));
}

TEST_CASE("socket_id: IPv6 listeners", "[socket_id]") {
  SocketId dual = inet6("::", 443, 0);
  SocketId only = inet6("::", 443, 1);
  CHECK(same_listener(dual, inet6("::", 443, 0)));
  CHECK(same_listener(only, inet6("::", 443, 1)));
  CHECK_FALSE(same_listener(dual, only));
  CHECK_FALSE(same_listener(only, dual));
  CHECK_FALSE(same_listener(dual, inet6("::", 444, 0)));
  CHECK_FALSE(same_listener(dual, inet6("::1", 443, 0)));
  CHECK_FALSE(
      same_listener(inet6("fe80::1", 443, 0, 2), inet6("fe80::1", 443, 0, 3)));
  CHECK(same_listener(inet6("fe80::1", 443, 0, 2, 0),
                      inet6("fe80::1", 443, 0, 2, 0xabc)));  // flowinfo
  CHECK_FALSE(same_listener(dual, inet("0.0.0.0", 443)));
  CHECK_FALSE(same_listener(inet6("::", 0, 0), inet6("::", 0, 0)));
}

TEST_CASE("socket_id: UNIX paths", "[socket_id]") {
  SocketId with_nul = unix_id("/run/app.sock", 1);
  SocketId without_nul = unix_id("/run/app.sock", 0);
  SocketId full =
      unix_id("/run/app.sock", sizeof(sockaddr_un) - kPathOffset - 13);
  CHECK(same_listener(with_nul, without_nul));
  CHECK(same_listener(without_nul, with_nul));
  CHECK(same_listener(with_nul, full));
  CHECK_FALSE(same_listener(with_nul, unix_id("/run/app.soc", 1)));
  CHECK_FALSE(same_listener(with_nul, unix_id("/run/app.sock2", 1)));
  CHECK_FALSE(same_listener(with_nul, unix_id("/run/app.sock", 1, SOCK_DGRAM)));
  CHECK_FALSE(same_listener(with_nul, unix_id("\0/run/app.sock"s)));
  // A path filling sun_path with no NUL at all.
  std::string longest(sizeof(sockaddr_un{}.sun_path), 'p');
  longest[0] = '/';
  CHECK(same_listener(unix_id(longest), unix_id(longest)));
  CHECK_FALSE(same_listener(unix_id(longest), unix_id(longest.substr(1))));
  // Unnamed sockets (autobind) never match.
  CHECK_FALSE(same_listener(unix_id(""), unix_id("")));
}

TEST_CASE("socket_id: abstract names", "[socket_id]") {
  SocketId a = unix_id("\0name"s);
  CHECK(same_listener(a, unix_id("\0name"s)));
  CHECK_FALSE(same_listener(a, unix_id("\0nam"s)));
  CHECK_FALSE(same_listener(a, unix_id("\0name\0"s)));  // length is the name
  CHECK_FALSE(same_listener(a, unix_id("\0Name"s)));
  // Embedded NULs are part of the name.
  SocketId nuls = unix_id("\0a\0b"s);
  CHECK(same_listener(nuls, unix_id("\0a\0b"s)));
  CHECK_FALSE(same_listener(nuls, unix_id("\0a\0c"s)));
  CHECK_FALSE(same_listener(nuls, unix_id("\0a"s)));
  CHECK_FALSE(same_listener(nuls, a));
}

TEST_CASE("socket_id: formatting", "[socket_id]") {
  CHECK(format(inet("127.0.0.1", 8080)) == "127.0.0.1:8080");
  CHECK(format(inet("0.0.0.0", 0)) == "0.0.0.0:0");
  CHECK(format(inet("255.255.255.255", 65535)) == "255.255.255.255:65535");
  CHECK(format(inet6("::", 80, 0)) == "[::]:80");
  CHECK(format(inet6("::", 80, 1)) == "[::]:80 (v6only)");
  CHECK(format(inet6("::ffff:10.0.0.1", 443, 0)) == "[::ffff:10.0.0.1]:443");
  CHECK(format(inet6("2001:db8::1", 1, 0)) == "[2001:db8::1]:1");
  CHECK(format(unix_id("/run/app.sock", 1)) == "unix:/run/app.sock");
  CHECK(format(unix_id("/run/app.sock", 0)) == "unix:/run/app.sock");
  CHECK(format(unix_id("\0name"s)) == "abstract:@name");
  CHECK(format(unix_id("\0a\0b"s)) == "abstract:@a\0b"s);
  CHECK(format(unix_id("")) == "unix:(unnamed)");
  SocketId odd;
  odd.family = AF_NETLINK;
  CHECK(format(odd) == "family 16");
}

TEST_CASE("socket_id: formatting truncates and always terminates",
          "[socket_id]") {
  SocketId v6 = inet6("2001:db8::1234:5678", 65535, 1);
  std::string whole = format(v6);
  REQUIRE(whole == "[2001:db8::1234:5678]:65535 (v6only)");
  for (size_t size = 1; size <= whole.size() + 1; ++size) {
    INFO("size " << size);
    CHECK(format(v6, size) == whole.substr(0, size - 1));
  }
  CHECK(format(unix_id("/a/long/path/to/a.sock", 1), 8) == "unix:/a");
  CHECK(format(unix_id("\0name"s), 11) == "abstract:@");
  char untouched = '#';
  CHECK(format_socket_id(v6, &untouched, 0) == 0);
  CHECK(untouched == '#');
}
